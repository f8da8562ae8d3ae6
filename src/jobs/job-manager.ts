import { randomUUID } from "node:crypto";
import { rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Config } from "../cli/config.js";
import { killProcessTree } from "../process/kill-tree.js";
import { findJobProcesses } from "../process/proc.js";
import { sendSignal } from "../process/signals.js";
import { closeWarmShepherd, SpawnError, spawnJob } from "../process/spawn-job.js";
import { ensureDir } from "../store/ensure-dir.js";
import { checkCommand } from "./command-policy.js";
import { JobError } from "./errors.js";
import { Job, type JobRecord, type JobStatus } from "./job.js";
import { type Cursor, currentCursor, type JobOutput, PTY_SIZE, readJobOutput, tailJobOutput } from "./job-output.js";
import { waitForQuietOutput } from "./quiet-output.js";
import { type SearchResult, searchJobOutput } from "./search-output.js";
import { type WaitOptions, type WaitResult, waitForJob } from "./wait-for-job.js";

/** What `execute_command` may ask for. */
export interface StartOptions {
  command: string;
  cwd?: string;
  env?: Record<string, string>;
  timeoutSeconds?: number;
  name?: string;
  pty?: boolean;
}

/** Result of a kill request, as in the seed server. */
export type KillResult = "killed" | "already_terminated" | "not_found";

/** Longest timeout a Node timer can hold (2^31 - 1 ms, about 24.8 days), in whole seconds. */
export const MAX_TIMEOUT_SECONDS = 2_147_483;

/** Longest single argument Linux passes to a program (MAX_ARG_STRLEN): the command travels as one. */
const MAX_COMMAND_BYTES = 128 * 1024;

// Refuses what the OS cannot pass to a process (NUL bytes, '=' in names, over-long commands) with a
// clear error instead of a failed spawn.
function checkStrings(opts: StartOptions): void {
  const bad = (what: string, why: string) => new JobError("invalid_input", `${what} ${why}`);
  if (opts.command.includes("\0")) throw bad("Command", "contains a NUL byte");
  if (Buffer.byteLength(opts.command) >= MAX_COMMAND_BYTES) {
    throw bad(
      "Command",
      `is too long (${Buffer.byteLength(opts.command)} bytes; at most ${MAX_COMMAND_BYTES - 1}): put it in a script file and run that`,
    );
  }
  if (opts.cwd?.includes("\0")) throw bad("cwd", "contains a NUL byte");
  for (const [key, value] of Object.entries(opts.env ?? {})) {
    if (key === "" || key.includes("=") || key.includes("\0"))
      throw bad(`env name ${JSON.stringify(key)}`, "is not a valid variable name");
    if (key === "MCP_BG_JOB_ID") throw bad("env MCP_BG_JOB_ID", "is set by the server (it marks the job's processes)");
    if (value.includes("\0")) throw bad(`env ${key}`, "contains a NUL byte");
  }
}

/** Output settles once the job has been quiet this long after printing. */
const QUIET_MS = 250;
/** Remaining output is drained for at most this long after a job's exit. */
const DRAIN_MS = 500;

/** The job engine: starts, tracks, reads and kills jobs. Knows nothing of MCP. */
export class JobManager {
  /** All known jobs in start order. */
  private readonly jobs = new Map<string, Job>();
  /** Slots taken by running jobs and by jobs being started. */
  private slots = 0;
  private closing = false;
  private readonly starting = new Set<Promise<unknown>>();
  /** Every job this server started, kept after the sweep drops a job: its leftovers end at shutdown too. */
  private readonly startedIds = new Set<string>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly jobsDir: string;

  constructor(private readonly config: Config) {
    this.jobsDir = join(config.stateDir, "jobs");
    ensureDir(this.jobsDir);
    this.sweeper = setInterval(() => this.sweep(), config.cleanupIntervalSeconds * 1000);
    this.sweeper.unref();
  }

  /** Starts a command as a background job; refuses empty, denied or over-limit requests. */
  async start(opts: StartOptions): Promise<JobRecord> {
    // Shutdown waits for starts under way, so that no job slips past it.
    const starting = this.startJob(opts);
    this.starting.add(starting);
    try {
      return await starting;
    } finally {
      this.starting.delete(starting);
    }
  }

  private async startJob(opts: StartOptions): Promise<JobRecord> {
    if (this.closing) throw new JobError("not_running", "The server is shutting down");
    if (opts.command.trim() === "") throw new JobError("invalid_input", "Command is empty");
    checkStrings(opts);
    checkCommand({ allowed: this.config.allowedCommands, denied: this.config.deniedCommands }, opts.command);
    const cwd = this.resolveCwd(opts.cwd);
    if (this.slots >= this.config.maxJobs) {
      throw new JobError(
        "limit",
        `Job limit reached: ${this.config.maxJobs} jobs are running (MCP_BG_MAX_JOBS). Wait for one to end or kill one.`,
      );
    }
    this.slots++;
    const id = randomUUID();
    const job = new Job(id, opts.command, opts.name ?? null, cwd, opts.pty ?? false, join(this.jobsDir, id));
    try {
      ensureDir(job.dir);
      const proc = await spawnJob({
        jobId: id,
        dir: job.dir,
        command: opts.command,
        shell: this.config.shell,
        cwd,
        env: this.config.baseEnv,
        extraEnv: opts.env,
        capBytes: this.config.maxOutputBytes,
        drainMs: DRAIN_MS,
        pty: job.pty ? PTY_SIZE : undefined,
        graceMs: this.config.shutdownGraceMs,
      });
      job.process = proc;
      job.pid = proc.pid;
    } catch (err) {
      this.slots--;
      rmSync(job.dir, { recursive: true, force: true });
      if (err instanceof SpawnError) throw new JobError("spawn_failed", `Could not start the command: ${err.message}`);
      throw err;
    }
    this.jobs.set(id, job);
    this.startedIds.add(id);
    job.process.exited.then((exit) => {
      job.finish(exit);
      this.slots--;
      // Its shepherd died first: nothing reads the job's output any more, so end it.
      if (exit.lost && job.pid) this.reapLeftovers(new Set([id]), job.pid);
    });
    const timeout = opts.timeoutSeconds ?? this.config.jobTimeoutSeconds;
    if (timeout !== undefined) {
      job.timer = setTimeout(() => {
        job.timedOut = true;
        void this.kill(id).catch(() => {});
      }, timeout * 1000);
    }
    return job.record();
  }

  // The job's working directory: relative to the configured one, and it must exist.
  private resolveCwd(cwd: string | undefined): string {
    const dir = resolve(this.config.workingDir, cwd ?? ".");
    let isDir: boolean | undefined;
    try {
      isDir = statSync(dir).isDirectory();
    } catch {}
    if (isDir === undefined) throw new JobError("invalid_input", `Working directory ${dir} does not exist`);
    if (!isDir) throw new JobError("invalid_input", `Working directory ${dir} is not a directory`);
    return dir;
  }

  /** A job by id, or a `not_found` error. */
  get(id: string): Job {
    const job = this.jobs.get(id);
    if (!job) throw new JobError("not_found", `Job ${id} not found`);
    return job;
  }

  /** Jobs newest first, optionally of one status; `total` counts all that match. */
  list(filter: { status?: JobStatus; limit?: number } = {}): { jobs: JobRecord[]; total: number } {
    const matching = [...this.jobs.values()].filter((j) => !filter.status || j.status === filter.status);
    const limit = filter.limit ?? 100;
    const jobs = matching
      .slice(-limit)
      .reverse()
      .map((j) => j.record());
    return { jobs, total: matching.length };
  }

  /** Output of a job: everything retained, or what came after a cursor. */
  output(id: string, since?: Cursor): Promise<JobOutput> {
    return readJobOutput(this.get(id), since, this.config.maxResponseChars, this.config.maxOutputBytes);
  }

  /** The last lines of each stream of a job. */
  tail(id: string, lines: number): Promise<{ stdout: string; stderr: string }> {
    return tailJobOutput(this.get(id), lines, this.config.maxResponseChars);
  }

  /** Waits for a job to end, or for a line of its output to match; see waitForJob. */
  wait(id: string, opts: WaitOptions): Promise<WaitResult> {
    return waitForJob(this.get(id), opts);
  }

  /** Searches a job's retained output for lines matching a pattern. */
  search(id: string, pattern: RegExp, opts: { contextLines: number; maxMatches: number }): SearchResult {
    return searchJobOutput(this.get(id), pattern, { ...opts, maxChars: this.config.maxResponseChars });
  }

  /**
   * Writes input to a job's stdin (a newline appended unless `raw` or already there), then returns
   * what the job printed after it, once it has been quiet for a moment, has ended, or `waitMs` passed.
   */
  async interact(
    id: string,
    input: string,
    opts: { waitMs?: number; raw?: boolean; eof?: boolean } = {},
  ): Promise<{ stdout: string; stderr: string; cursor: string; truncated: boolean }> {
    const job = this.get(id);
    const proc = job.process;
    if (!job.running || !proc) {
      throw new JobError("not_running", `Job ${id} is not running (status: ${job.status}); it takes no input`);
    }
    const data = opts.raw || input.endsWith("\n") ? input : `${input}\n`;
    const before = currentCursor(job);
    const wait = waitForQuietOutput(job, before, QUIET_MS, opts.waitMs ?? 2000);
    try {
      await Promise.race([proc.write(data), wait.done]);
    } catch (err) {
      wait.cancel();
      if ((err as NodeJS.ErrnoException).code === "ENOBUFS") {
        throw new JobError("stdin_closed", `Job ${id} is not reading its stdin: earlier input is still waiting`);
      }
      throw new JobError("stdin_closed", `Job ${id} has closed its stdin; it takes no more input`);
    }
    // A terminal has no end of input to close: it reads Ctrl-D (VEOF) as one.
    if (opts.eof && job.pty) await proc.write("\x04").catch(() => {});
    else if (opts.eof) proc.closeStdin();
    await wait.done;
    return readJobOutput(job, before, this.config.maxResponseChars, this.config.maxOutputBytes);
  }

  /**
   * Kills a job and everything it started (signal, grace, then SIGKILL), resolving once all of it is
   * gone and the job reads `killed`. A kill while another is under way starts over with the new
   * signal and grace (a SIGKILL is not held up by an earlier SIGTERM's grace). For a job that has
   * ended, what it left running (background children carrying its id) is ended the same way, and
   * the answer is `already_terminated`.
   */
  async kill(id: string, opts: { signal?: NodeJS.Signals; graceMs?: number } = {}): Promise<KillResult> {
    const job = this.jobs.get(id);
    if (!job) return "not_found";
    const signal = opts.signal ?? "SIGTERM";
    const graceMs = opts.graceMs ?? 5000;
    if (!job.running || job.pid === null) {
      // Its process group may be gone and its number reused: reach the leftovers by their id only.
      await killProcessTree({ pgid: 0, jobId: id, exited: Promise.resolve() }, signal, graceMs, () =>
        this.pidsOfOtherJobs(new Set([id])),
      );
      return "already_terminated";
    }
    await this.killTogether([job], signal, graceMs);
    await job.ended;
    return "killed";
  }

  // Ends these running jobs as one batch (one /proc scan per round for all of them).
  private killTogether(jobs: Job[], signal: NodeJS.Signals, graceMs: number): Promise<void> {
    const live = jobs.filter((j) => j.running && j.pid !== null);
    for (const j of live) j.killRequested = true;
    const ids = new Set(live.map((j) => j.id));
    return killProcessTree(
      live.map((j) => ({ pgid: j.pid as number, jobId: j.id, exited: j.ended })),
      signal,
      graceMs,
      () => this.pidsOfOtherJobs(ids),
    );
  }

  // Pids that cannot carry these jobs' ids: every running job's shepherd, and the main process of
  // every other running job (it carries its own id). A kill's /proc scan need not read them.
  private pidsOfOtherJobs(ids: ReadonlySet<string>): Set<number> {
    const pids = new Set<number>();
    for (const job of this.jobs.values()) {
      if (!job.running || !job.process) continue;
      pids.add(job.process.shepherdPid);
      if (!ids.has(job.id) && job.pid !== null) pids.add(job.pid);
    }
    return pids;
  }

  // SIGKILLs whatever still carries one of these job ids, and the group of `pgid` if given.
  private reapLeftovers(ids: ReadonlySet<string>, pgid?: number): void {
    if (pgid) sendSignal(-pgid, "SIGKILL");
    for (const pid of findJobProcesses(ids).keys()) sendSignal(pid, "SIGKILL");
  }

  /** Drops finished jobs past the retention time, and the oldest beyond the count kept. */
  sweep(now = Date.now()): void {
    const finished = [...this.jobs.values()].filter((j) => !j.running);
    const excess = finished.length - this.config.maxFinished;
    finished.forEach((job, i) => {
      const old = (job.completed?.getTime() ?? now) < now - this.config.retentionSeconds * 1000;
      if (old || i < excess) this.drop(job);
    });
  }

  // Forgets a finished job and deletes its output.
  private drop(job: Job): void {
    this.jobs.delete(job.id);
    rmSync(job.dir, { recursive: true, force: true });
  }

  /**
   * Ends every running job (SIGTERM, a short grace, SIGKILL) and anything any of this server's
   * jobs left behind, then deletes their output. Called when the server stops.
   */
  async shutdown(): Promise<void> {
    this.closing = true;
    clearInterval(this.sweeper);
    await Promise.allSettled([...this.starting]);
    closeWarmShepherd();
    const running = [...this.jobs.values()].filter((j) => j.running);
    await this.killTogether(running, "SIGTERM", this.config.shutdownGraceMs);
    await Promise.all(running.map((j) => j.ended));
    this.reapLeftovers(this.startedIds);
    for (const job of this.jobs.values()) this.drop(job);
  }
}
