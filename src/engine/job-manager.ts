import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config/config.js";
import { readExitFile } from "../executors/job-folder.js";
import { JobStdin } from "../executors/local/job-stdin.js";
import {
  closeWarmShepherd,
  type JobExit,
  type PreparedShepherd,
  prepareShepherd,
  SpawnError,
} from "../executors/local/spawn-job.js";
import { log } from "../log.js";
import { jobCgroupsFolder, removeStaleCgroups } from "../process/cgroups.js";
import { processStartTime } from "../process/proc.js";
import { sendSignal } from "../process/signals.js";
import { ensureDir } from "../store/ensure-dir.js";
import { type JobEnd, JobStore } from "../store/job-store.js";
import type { SearchResult } from "../text/search-lines.js";
import { TextWorkers } from "../workers/workers.js";
import { checkCommand } from "./command-policy.js";
import { JobError } from "./errors.js";
import type { Job, JobRecord, JobStatus } from "./job.js";
import { recordOf } from "./job.js";
import { JobChanges } from "./job-changes.js";
import { type Cursor, currentCursor, type JobOutput, PTY_SIZE, readJobOutput, tailJobOutput } from "./job-output.js";
import { JobRegistry } from "./job-registry.js";
import { groupOf, killJobs, killLeftovers, reapLeftovers } from "./kill-jobs.js";
import { checkStrings, newJobRow, resolveCwd, type StartOptions } from "./new-job.js";
import { lostEnd } from "./observe-job.js";
import { waitForQuietOutput } from "./quiet-output.js";
import { dropExpired, dropFinished } from "./retention.js";
import { type WaitOptions, type WaitResult, waitForJob } from "./wait-for-job.js";

export type { StartOptions } from "./new-job.js";

/** Result of a kill request, as in the seed server. */
export type KillResult = "killed" | "already_terminated" | "not_found";

/** Longest timeout a Node timer can hold (2^31 - 1 ms, about 24.8 days), in whole seconds. */
export const MAX_TIMEOUT_SECONDS = 2_147_483;

/** Output settles once the job has been quiet this long after printing. */
const QUIET_MS = 250;
/** Remaining output is drained for at most this long after a job's exit. */
const DRAIN_MS = 500;
/** How often the owners of running jobs are checked for life. */
const OWNER_CHECK_MS = 2000;
/** A kill whose SIGKILL is this late (its killer died) is finished by the job's owner. */
const OVERDUE_MS = 1000;
/** Shortest ID prefix the command line accepts. */
export const MIN_PREFIX = 8;

/**
 * The job engine: starts, tracks, reads and kills jobs, on state shared with every other server
 * and command line using the same state dir. Knows nothing of MCP.
 */
export class JobManager {
  private readonly store: JobStore;
  private readonly registry: JobRegistry;
  private readonly stdin = new JobStdin();
  /** Jobs coming and going, output growing, statuses changing: for resource subscribers. */
  readonly changes: JobChanges;
  /** Where callers' patterns are matched and terminals rendered, off the server's own thread. */
  readonly text = new TextWorkers();
  /** Running jobs this server owns (started or taken over): they take its slots. */
  private readonly mine = new Set<string>();
  /** Jobs this server is killing now. */
  private readonly killing = new Set<string>();
  /** Starts under way (they take slots too). */
  private pendingStarts = 0;
  private closing = false;
  private readonly starting = new Set<Promise<unknown>>();
  /** Every job this server started without keep-jobs: what they left behind ends at shutdown too. */
  private readonly startedIds = new Set<string>();
  private readonly sweeper: NodeJS.Timeout | undefined;
  /** Where jobs get a cgroup of their own, if this server may make them. */
  private readonly cgroups: string | undefined;
  private readonly watchOwners: NodeJS.Timeout | undefined;

  /**
   * Opens the state dir. As a server (the default) it owns the jobs it starts and takes over running
   * jobs whose server died; as a command line (`server: false`) it only looks and kills.
   */
  constructor(
    private readonly config: Config,
    opts: { server?: boolean } = {},
  ) {
    const server = opts.server ?? true;
    this.store = new JobStore(config.stateDir);
    const self = server ? { pid: process.pid, start: processStartTime(process.pid) ?? 0 } : undefined;
    this.registry = new JobRegistry(
      this.store,
      join(config.stateDir, "jobs"),
      self,
      (job) => this.adopt(job),
      (roots, skip) => this.text.findTree(roots, skip),
    );
    this.changes = new JobChanges(this.registry);
    this.cgroups = server && config.cgroups ? jobCgroupsFolder() : undefined;
    if (server) {
      // Jobs of servers that died are settled or taken over, and history past retention dropped, now.
      this.sweep();
      this.sweeper = setInterval(() => this.sweep(), config.cleanupIntervalSeconds * 1000);
      this.sweeper.unref();
      // Another server on the state dir may die at any time: its jobs are taken over within seconds.
      this.watchOwners = setInterval(() => {
        try {
          this.registry.reconcile();
          this.finishKills();
        } catch (err) {
          log("warn", "looking for jobs of servers that died", err);
        }
      }, OWNER_CHECK_MS);
      this.watchOwners.unref();
    }
  }

  /** Longest a single tool call may wait, in ms (MCP_BG_CALL_TIMEOUT): many hosts give up after 60 s. */
  get callTimeoutMs(): number {
    return this.config.callTimeoutSeconds * 1000;
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
    const self = this.registry.self;
    if (this.closing || !self) throw new JobError("not_running", "The server is shutting down");
    checkStrings(opts);
    checkCommand({ allowed: this.config.allowedCommands, denied: this.config.deniedCommands }, opts.command);
    const cwd = resolveCwd(this.config.workingDir, opts.cwd);
    if (this.mine.size + this.pendingStarts >= this.config.maxJobs) {
      throw new JobError(
        "limit",
        `Job limit reached: ${this.config.maxJobs} jobs are running (MCP_BG_MAX_JOBS). Wait for one to end or kill one.`,
      );
    }
    this.pendingStarts++;
    const id = randomUUID();
    const dir = this.registry.dirOf(id);
    let job: Job | undefined;
    let shepherd: PreparedShepherd | undefined;
    try {
      shepherd = prepareShepherd({
        jobId: id,
        dir,
        command: opts.command,
        shell: this.config.shell,
        cwd,
        env: this.config.baseEnv,
        extraEnv: opts.env,
        capBytes: this.config.maxOutputBytes,
        drainMs: DRAIN_MS,
        pty: opts.pty ? PTY_SIZE : undefined,
        cgroups: this.cgroups,
      });
      // The record first, naming the shepherd that starts it: a crash from here on leaves a job that
      // the next start can account for (starting while that shepherd lives, lost once it is gone).
      const row = newJobRow(id, opts, cwd, self, { pid: shepherd.pid, start: shepherd.start }, this.config);
      this.store.insert(row);
      job = this.registry.track(row);
      ensureDir(job.dir);
      const proc = await shepherd.run();
      shepherd = undefined;
      job.process = proc;
      try {
        this.registry.recordProcesses(job, {
          job: { pid: proc.pid, start: proc.pidStart },
          shepherd: { pid: proc.shepherdPid, start: proc.shepherdStart },
          cgroup: proc.cgroup,
        });
      } catch (err) {
        sendSignal(-proc.pid, "SIGKILL");
        throw err;
      }
    } catch (err) {
      shepherd?.abandon();
      this.pendingStarts--;
      this.registry.forget(id);
      try {
        this.store.discard(id);
      } catch {}
      rmSync(dir, { recursive: true, force: true });
      if (err instanceof SpawnError) throw new JobError("spawn_failed", `Could not start the command: ${err.message}`);
      throw err;
    }
    this.pendingStarts--;
    this.mine.add(id);
    if (!this.config.keepJobs) this.startedIds.add(id);
    const started = job;
    job.process?.exited.then((exit) => this.onExit(started, exit));
    this.armTimeout(job);
    this.changes.listChanged();
    return job.record();
  }

  // A job this server started has ended (its shepherd said so, or died).
  private onExit(job: Job, exit: JobExit): void {
    this.mine.delete(job.id);
    this.stdin.forget(job.stdinPath);
    const end: JobEnd = exit.lost
      ? (readExitFile(job.dir) ?? lostEnd())
      : { code: exit.code, signal: exit.signal, endedMs: Date.now(), lost: false };
    this.registry.finish(job, end);
    // Its shepherd died first: nothing captures the job's output any more, so end it.
    if (exit.lost && job.pid) void reapLeftovers(this.registry, [job.treeRoot()], groupOf(job));
  }

  // A running job whose server died is now this server's: it takes a slot, and its timeout holds.
  private adopt(job: Job): void {
    this.mine.add(job.id);
    // Its leftovers end at this server's stop too, as its own jobs' do (unless it is kept).
    if (job.row.keep === 0) this.startedIds.add(job.id);
    this.registry.follow(job);
    job.ended.then(() => {
      this.mine.delete(job.id);
      this.stdin.forget(job.stdinPath);
    });
    this.armTimeout(job);
    // A kill its server had begun when it died is carried through, escalating when it would have.
    if (job.row.kill_requested && job.running) this.finishKill(job);
  }

  // Kills of this server's jobs that another process began and did not finish (it died): once
  // their SIGKILL is a second overdue, this server finishes them.
  private finishKills(now = Date.now()): void {
    if (this.mine.size === 0) return;
    for (const row of this.registry.ownRunningRows()) {
      if (!row.kill_requested || this.killing.has(row.job_id)) continue;
      // A kill recorded without its time (by a version before schema 3) counts as overdue.
      if (row.kill_deadline_ms !== null && row.kill_deadline_ms + OVERDUE_MS > now) continue;
      const job = this.registry.get(row.job_id);
      if (job?.running) this.finishKill(job);
    }
  }

  // Carries a kill that was asked for through: the signal now if its grace has run out, else
  // SIGTERM with the grace that is left.
  private finishKill(job: Job): void {
    // Without a recorded time, the kill gets the short grace of a shutdown.
    const deadline = job.row.kill_deadline_ms ?? Date.now() + this.config.shutdownGraceMs;
    const left = deadline - Date.now();
    const opts = { timedOut: job.row.timed_out === 1 };
    const kill = left <= 0 ? { signal: "SIGKILL" as const, graceMs: 0 } : { graceMs: left };
    void this.kill(job.id, { ...opts, ...kill }).catch(() => {});
  }

  // Kills the job when its deadline passes (timed_out: true).
  private armTimeout(job: Job): void {
    const deadline = job.row.deadline_ms;
    if (deadline === null || !job.running) return;
    const delay = Math.min(Math.max(0, deadline - Date.now()), MAX_TIMEOUT_SECONDS * 1000);
    job.timer = setTimeout(() => void this.kill(job.id, { timedOut: true }).catch(() => {}), delay);
  }

  /** A job by id, or a `not_found` error. */
  get(id: string): Job {
    const job = this.registry.get(id);
    if (!job) throw new JobError("not_found", `Job ${id} not found`);
    // A writer kept open to an ended job's stdin (it was run by another server) is of no more use.
    if (!job.running) this.stdin.forget(job.stdinPath);
    return job;
  }

  /**
   * A job by its id or an unambiguous prefix of at least MIN_PREFIX characters (for people);
   * `not_found` or `invalid_input` errors otherwise.
   */
  find(idOrPrefix: string): Job {
    const want = idOrPrefix.trim().toLowerCase();
    const exact = this.registry.get(want);
    if (exact) return exact;
    if (want.length < MIN_PREFIX) {
      throw new JobError("not_found", `Job ${idOrPrefix} not found (an ID prefix needs ${MIN_PREFIX}+ characters)`);
    }
    const rows = this.store.withPrefix(want);
    if (rows.length === 0) throw new JobError("not_found", `Job ${idOrPrefix} not found`);
    if (rows.length > 1) {
      const ids = rows.map((r) => r.job_id).join(", ");
      throw new JobError("invalid_input", `ID prefix ${idOrPrefix} is ambiguous: it matches ${ids}`);
    }
    return this.get(rows[0]?.job_id ?? want);
  }

  /** Settles when a job has ended, whichever process runs it. */
  ended(job: Job): Promise<void> {
    this.registry.follow(job);
    return job.ended;
  }

  /** Jobs newest first, optionally of one status; `total` counts all that match. */
  list(filter: { status?: JobStatus; limit?: number } = {}): { jobs: JobRecord[]; total: number } {
    this.registry.reconcile();
    const limit = filter.limit ?? 100;
    const want = filter.status;
    if (!want) {
      const { rows, total } = this.store.list(undefined, limit);
      return { jobs: rows.map((r) => recordOf(this.registry.shown(r))), total };
    }
    // A job whose end is not recorded yet (a full disk) is listed as it is, not as its row says:
    // the rows that say running are looked at whatever status is asked for.
    const running = this.store.list("running", Number.MAX_SAFE_INTEGER).rows.map((r) => this.registry.shown(r));
    const matching = running.filter((r) => r.status === want);
    if (want === "running") return { jobs: matching.slice(0, limit).map(recordOf), total: matching.length };
    const { rows, total } = this.store.list(want, limit);
    const all = [...rows, ...matching].sort((a, b) => b.started_ms - a.started_ms);
    return { jobs: all.slice(0, limit).map(recordOf), total: total + matching.length };
  }

  /** Output of a job: everything retained, or what came after a cursor. */
  output(id: string, since?: Cursor): Promise<JobOutput> {
    return readJobOutput(this.get(id), since, this.config.maxResponseChars, this.text);
  }

  /** The last lines of each stream of a job. */
  tail(id: string, lines: number): Promise<{ stdout: string; stderr: string }> {
    return tailJobOutput(this.get(id), lines, this.config.maxResponseChars, this.text);
  }

  /** Waits for a job to end, or for a line of its output to match; see waitForJob. */
  wait(id: string, opts: WaitOptions): Promise<WaitResult> {
    const job = this.get(id);
    this.registry.follow(job);
    return waitForJob(job, this.text, opts);
  }

  /** Searches a job's retained output for lines matching a caller's pattern (in a text worker). */
  search(
    id: string,
    pattern: string,
    opts: { contextLines: number; maxMatches: number; signal?: AbortSignal },
  ): Promise<SearchResult> {
    const job = this.get(id);
    const streams = [
      { name: "stdout" as const, path: job.stdoutPath },
      { name: "stderr" as const, path: job.stderrPath },
    ];
    const { signal, ...limits } = opts;
    return this.text.search(pattern, streams, { ...limits, maxChars: this.config.maxResponseChars }, signal);
  }

  /**
   * Writes input to a job's stdin (a newline appended unless `raw` or already there), then returns
   * what the job printed after it, once it has been quiet for a moment, has ended, or `waitMs` passed.
   * Works for any running job on this state dir, whichever server started it.
   */
  async interact(
    id: string,
    input: string,
    opts: { waitMs?: number; raw?: boolean; eof?: boolean } = {},
  ): Promise<{ stdout: string; stderr: string; cursor: string; truncated: boolean }> {
    const job = this.get(id);
    if (!job.running) {
      throw new JobError("not_running", `Job ${id} is not running (status: ${job.status}); it takes no input`);
    }
    this.registry.follow(job);
    const data = opts.raw || input.endsWith("\n") ? input : `${input}\n`;
    const before = currentCursor(job);
    const wait = waitForQuietOutput(job, before, QUIET_MS, opts.waitMs ?? 2000);
    try {
      await Promise.race([this.stdin.write(job.stdinPath, data), wait.done]);
    } catch (err) {
      wait.cancel();
      if ((err as NodeJS.ErrnoException).code === "ENOBUFS") {
        throw new JobError("stdin_closed", `Job ${id} is not reading its stdin: earlier input is still waiting`);
      }
      throw new JobError("stdin_closed", `Job ${id} has closed its stdin; it takes no more input`);
    }
    // End of input comes after the input written before it, which a job that does not read may
    // never take: it is asked for, and the answer does not wait for it beyond the wait's own time.
    // A terminal has no end of input to close: it reads Ctrl-D (VEOF) as one.
    if (opts.eof && job.pty) void this.stdin.write(job.stdinPath, "\x04").catch(() => {});
    else if (opts.eof) {
      void this.stdin.end(job.stdinPath, { pid: job.row.shepherd_pid, start: job.row.shepherd_start }).catch(() => {});
    }
    await wait.done;
    return readJobOutput(job, before, this.config.maxResponseChars, this.text);
  }

  /**
   * Kills a job and everything it started (signal, grace, then SIGKILL), resolving once all of it is
   * gone and the job reads `killed`. Works on any job of the state dir; the server running it
   * records the same end. A kill while another is under way starts over with the new signal and
   * grace (a SIGKILL is not held up by an earlier SIGTERM's grace). For a job that has ended, what
   * it left running (background children carrying its id) is ended the same way, and the answer
   * is `already_terminated`.
   */
  async kill(
    id: string,
    opts: { signal?: NodeJS.Signals; graceMs?: number; timedOut?: boolean } = {},
  ): Promise<KillResult> {
    const job = this.registry.get(id);
    if (!job) return "not_found";
    const signal = opts.signal ?? "SIGTERM";
    const graceMs = opts.graceMs ?? 5000;
    if (!job.running) {
      await killLeftovers(this.registry, job, signal, graceMs);
      return "already_terminated";
    }
    this.killing.add(id);
    try {
      await killJobs(this.registry, [job], signal, graceMs, opts.timedOut ?? false);
      await job.ended;
    } finally {
      this.killing.delete(id);
    }
    return "killed";
  }

  /**
   * Settles jobs whose server died, then drops finished jobs past the retention time and the oldest
   * beyond the count kept, with their output (the sweep every MCP_BG_CLEANUP_INTERVAL).
   */
  sweep(now = Date.now()): void {
    try {
      this.registry.reconcile();
      if (dropExpired(this.registry, now, this.config) > 0) this.changes.listChanged();
      // Cgroups of jobs whose shepherd was killed before it could remove them.
      if (this.cgroups) removeStaleCgroups(this.cgroups, (id) => this.store.get(id)?.status === "running");
    } catch (err) {
      log("warn", "cleanup sweep", err);
    }
  }

  /** Drops every finished job and its output (the command line's `prune`); returns how many. */
  prune(): number {
    this.registry.reconcile();
    return dropFinished(this.registry);
  }

  /**
   * Stops: ends every running job this server owns (SIGTERM, a short grace, SIGKILL) and anything
   * its jobs left behind, unless they were started to outlive it (keep-jobs). Records and output stay.
   */
  async shutdown(): Promise<void> {
    this.closing = true;
    clearInterval(this.sweeper);
    clearInterval(this.watchOwners);
    await Promise.allSettled([...this.starting]);
    closeWarmShepherd();
    const ending = [...this.registry.known()].filter(
      (j) => j.running && this.registry.isOwn(j.row) && j.row.keep === 0,
    );
    try {
      await killJobs(this.registry, ending, "SIGTERM", this.config.shutdownGraceMs);
      await Promise.all(ending.map((j) => j.ended));
      await reapLeftovers(
        this.registry,
        [...this.startedIds].map((id) => this.registry.cached(id)?.treeRoot() ?? { jobId: id }),
      );
    } finally {
      this.close();
    }
  }

  /** Stops watching jobs and closes the state database (the command line when done; shutdown). */
  close(): void {
    for (const job of this.registry.known()) job.stopWatching?.();
    this.text.close();
    this.store.close();
  }
}
