import { randomUUID } from "node:crypto";
import { rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Config } from "../cli/config.js";
import { killProcessTree } from "../process/kill-tree.js";
import { findJobProcesses } from "../process/proc.js";
import { sendSignal } from "../process/signals.js";
import { SpawnError, spawnJob } from "../process/spawn-job.js";
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
        env: { ...this.config.baseEnv, ...opts.env },
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
    let ok = false;
    try {
      ok = statSync(dir).isDirectory();
    } catch {}
    if (!ok) throw new JobError("invalid_input", `Working directory ${dir} does not exist`);
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
    } catch {
      wait.cancel();
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
   * gone and the job reads `killed`.
   */
  async kill(id: string, opts: { signal?: NodeJS.Signals; graceMs?: number } = {}): Promise<KillResult> {
    const job = this.jobs.get(id);
    if (!job) return "not_found";
    if (!job.running || job.pid === null) return "already_terminated";
    this.killTogether([job], opts.signal ?? "SIGTERM", opts.graceMs ?? 5000);
    await job.killing;
    await job.ended;
    return "killed";
  }

  // Starts ending these jobs as one batch (one /proc scan per round for all), unless already ending.
  private killTogether(jobs: Job[], signal: NodeJS.Signals, graceMs: number): void {
    const fresh = jobs.filter((j) => j.running && j.pid !== null && !j.killing);
    if (fresh.length === 0) return;
    for (const j of fresh) j.killRequested = true;
    const targets = fresh.map((j) => ({ pgid: j.pid as number, jobId: j.id, exited: j.ended }));
    const killing = killProcessTree(targets, signal, graceMs);
    for (const j of fresh) j.killing = killing;
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
    const running = [...this.jobs.values()].filter((j) => j.running);
    this.killTogether(running, "SIGTERM", this.config.shutdownGraceMs);
    await Promise.all(running.map((j) => j.killing));
    await Promise.all(running.map((j) => j.ended));
    this.reapLeftovers(new Set(this.jobs.keys()));
    for (const job of this.jobs.values()) this.drop(job);
  }
}
