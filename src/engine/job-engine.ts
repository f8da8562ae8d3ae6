import { statSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config/config.js";
import { DEFAULT_GRACE_SECONDS, DEFAULT_LIST_LIMIT } from "../domain/defaults.js";
import type { JobStatus, Owner } from "../domain/job-state.js";
import {
  type ConfinementView,
  confinementOf,
  type JobRecord,
  recordOf,
  type SupervisionView,
  supervisionOf,
} from "../domain/record.js";
import type { Executors } from "../executors/executor.js";
import { log, quietly } from "../log.js";
import { selfRef } from "../process/proc.js";
import { JobStore } from "../store/job-store.js";
import type { SearchResult } from "../text/search-lines.js";
import type { TextWorkers } from "../workers/workers.js";
import { JobChanges } from "./changes.js";
import { Deadlines } from "./deadlines.js";
import { JobError } from "./errors.js";
import { type LogOptions, type LogSinks, writeLogs } from "./follow-output.js";
import { interact } from "./interact.js";
import { type Cursor, type JobOutput, readJobOutput, tailJobOutput } from "./job-output.js";
import { JobQueue } from "./job-queue.js";
import type { StartOptions } from "./job-request.js";
import { abandonJobs, type KillResult, killJobs, killOne } from "./kill.js";
import { Ownership } from "./ownership.js";
import { portsOf } from "./ports.js";
import { JobRegistry } from "./registry.js";
import { countStrayDirs, dropExpired, dropFinished, recoverLostRecords } from "./retention.js";
import { startJob } from "./start-job.js";
import { StateWatch } from "./state-watch.js";
import type { TrackedJob } from "./tracked-job.js";
import { type WaitOptions, type WaitResult, waitForJob } from "./wait-for-job.js";

export type { StartOptions } from "./job-request.js";

// When any of these files was last written (ms), or null if none can be looked at.
function lastWriteMs(paths: string[]): number | null {
  let last: number | null = null;
  for (const path of paths) {
    const t = statSync(path, { throwIfNoEntry: false })?.mtimeMs;
    if (t !== undefined && (last === null || t > last)) last = Math.floor(t);
  }
  return last;
}

export type { KillResult } from "./kill.js";

/**
 * The job engine: what the tools and the command line call. Starts, looks up, reads, waits on,
 * searches, talks to and kills jobs, on state shared with every other server and command line
 * using the same state dir; knows nothing of MCP. Looking a job up only reads; ends are recorded
 * and jobs of dead servers taken over at named moments: the owner check (when the state changes,
 * and every few seconds), the sweep, and a refresh before a call acts on a job.
 */
export class JobEngine {
  private readonly store: JobStore;
  private readonly registry: JobRegistry;
  private readonly ownership: Ownership;
  private readonly executor: Executors;
  /** Jobs coming and going, output growing, statuses changing: for resource subscribers. */
  readonly changes: JobChanges;
  /** Where callers' patterns are matched, terminals rendered and processes looked for, off this thread. */
  readonly text: TextWorkers;
  private readonly watch: StateWatch | undefined;
  private readonly deadlines: Deadlines;
  /** This server's part in the queue (a command line that looks only has none). */
  private readonly queue: JobQueue | undefined;
  private closing = false;
  private readonly starting = new Set<Promise<unknown>>();

  /**
   * Opens the state dir, over the executors and workers the program composed (cli/compose.ts). A
   * server (the default) owns the jobs it starts and takes over running jobs whose server died; a
   * command line (`server: false`) only looks and kills; `watch: false` (`run`) starts jobs but
   * neither sweeps nor takes over.
   */
  constructor(
    private readonly config: Config,
    parts: { executors: Executors; text: TextWorkers },
    opts: { server?: boolean; watch?: boolean } = {},
  ) {
    const server = opts.server ?? true;
    const jobsDir = join(config.stateDir, "jobs");
    this.executor = parts.executors;
    this.text = parts.text;
    this.store = new JobStore(config.stateDir);
    const self: Owner | undefined = server ? selfRef() : undefined;
    this.registry = new JobRegistry(this.store, jobsDir, this.executor, (owner, bootId) =>
      this.ownership.ownerAlive(owner, bootId),
    );
    this.deadlines = new Deadlines((job, how) => quietly("a deadline's kill", this.killTracked(job, how)));
    this.ownership = new Ownership(this.store, this.registry, this.executor, self, this.deadlines);
    this.changes = new JobChanges(this.store, (job) => this.ownership.follow(job));
    if (self) {
      const deps = {
        config,
        store: this.store,
        registry: this.registry,
        ownership: this.ownership,
        executor: this.executor,
        owner: self,
      };
      this.queue = new JobQueue(deps, this.text, {
        starting: (p) => this.keepStarting(p),
        changed: () => this.changes.listChanged(),
      });
    }
    if (server && opts.watch !== false) {
      recoverLostRecords(this.registry, this.executor, config.stateDir);
      // Jobs of servers that died are settled or taken over, and history past retention dropped, now.
      this.sweep();
      this.watch = new StateWatch(this.store, config.cleanupIntervalSeconds * 1000, {
        onCheck: () => {
          this.ownership.reconcile();
          this.queue?.pump();
          return this.ownership.finishKills();
        },
        onSweep: () => this.sweep(),
      });
    }
  }

  /** Longest a single tool call may wait, in ms (MCP_BG_CALL_TIMEOUT): many hosts give up after 60 s. */
  get callTimeoutMs(): number {
    return this.config.callTimeoutSeconds * 1000;
  }

  /** Starts a command as a background job; refuses empty, denied or over-limit requests. */
  async start(opts: StartOptions): Promise<JobRecord> {
    const self = this.ownership.self;
    if (this.closing || !self) throw new JobError("not_running", "The server is shutting down");
    // Shutdown waits for starts under way, so that no job slips past it.
    const { config, store, registry, ownership, executor } = this;
    const deps = { config, store, registry, ownership, executor, owner: self };
    const starting = startJob(deps, opts);
    this.keepStarting(starting);
    const job = await starting;
    // Queued: let go at once if its turn has come (that start is awaited: the answer has its pid).
    if (job.status === "queued" && this.queue) {
      this.queue.pump(this.watch ? undefined : job.id);
      await this.queue.launched(job.id);
    }
    this.changes.listChanged();
    return job.record();
  }

  // A start under way: the stop waits for it.
  private keepStarting(p: Promise<unknown>): void {
    const kept = p.catch(() => {});
    this.starting.add(kept);
    void kept.finally(() => this.starting.delete(kept));
  }

  /** A job by id, as every view shows it, or a `not_found` error. Only reads. */
  lookup(id: string): TrackedJob {
    const job = this.registry.lookup(id);
    if (!job) throw new JobError("not_found", `Job ${id} not found`);
    // A writer kept open to an ended job's stdin (it was run by another server) is of no more use.
    if (!job.running) this.executor.release(job.state);
    return job;
  }

  /** A job by id, settled first (an end recorded, a dead server's job taken over): before acting on it. */
  refreshed(id: string): TrackedJob {
    const job = this.lookup(id);
    this.ownership.refresh(job);
    return job;
  }

  /** A job by id or an unambiguous prefix of MIN_PREFIX characters or more (for people); else an error. */
  find(idOrPrefix: string): TrackedJob {
    return this.lookup(this.registry.resolveId(idOrPrefix));
  }

  /** Settles when a job has ended, whichever process runs it. */
  ended(job: TrackedJob): Promise<void> {
    this.ownership.follow(job);
    return job.ended;
  }

  /** Jobs newest first, optionally of one status; `total` counts all that match. */
  list(filter: { status?: JobStatus; limit?: number } = {}): { jobs: JobRecord[]; total: number } {
    const { jobs, total } = this.registry.list(filter.status, filter.limit ?? DEFAULT_LIST_LIMIT);
    return { jobs: jobs.map(recordOf), total };
  }

  /** Jobs newest first, each with the pid of the server that owns it (the web page). */
  board(limit: number): { jobs: (JobRecord & { owner_pid: number | null })[]; total: number } {
    const { jobs, total } = this.registry.list(undefined, limit);
    return { jobs: jobs.map((j) => ({ ...recordOf(j), owner_pid: j.owner?.pid ?? null })), total };
  }

  /** Output of a job: everything retained, or what came after a cursor. */
  output(job: TrackedJob, since?: Cursor, limit = this.config.maxResponseChars): Promise<JobOutput> {
    return readJobOutput(job, since, limit, this.text);
  }

  /** The last lines of each stream of a job. */
  tail(job: TrackedJob, lines: number): Promise<{ stdout: string; stderr: string }> {
    return tailJobOutput(job, lines, this.config.maxResponseChars, this.text);
  }

  /** Writes a job's retained output as its bytes to the sinks (the command line's `logs`, the web page). */
  logs(job: TrackedJob, sinks: LogSinks, opts: LogOptions): Promise<void> {
    if (opts.follow) this.ownership.follow(job);
    return writeLogs(job, sinks, opts);
  }

  /** A Slurm job's place in the queue while it waits (`PENDING (Priority)`), else undefined. */
  waiting(job: TrackedJob): string | undefined {
    return job.running ? this.executor.waiting?.(job.state) : undefined;
  }

  /** What supervises a job: its place in the queue, order, restarts, readiness, last output. */
  supervision(job: TrackedJob): SupervisionView {
    const s = job.state;
    const place = s.status === "queued" && s.nextStartMs === null ? this.store.placeInQueue(s.id) : null;
    return supervisionOf(s, place, lastWriteMs(job.streams.map((st) => st.path)));
  }

  /** What confines a job (sandbox, network, limits, as enforced) and what it has used. */
  confinement(job: TrackedJob): ConfinementView {
    return confinementOf(job.state, job.running ? this.executor.usage(job.state) : undefined);
  }

  /** The TCP ports running jobs' processes listen on, in one look (job id -> ports); see portsOf. */
  ports(jobs: readonly TrackedJob[]): Promise<Map<string, number[]>> {
    return portsOf(jobs, this.executor, this.text);
  }

  /** Why no job can run here (no capture process, not Linux), or undefined when jobs can run. */
  unavailable(): string | undefined {
    return this.executor.unavailable();
  }

  /** Waits for a job to end, or for a line of its output to match; see waitForJob. */
  wait(job: TrackedJob, opts: WaitOptions): Promise<WaitResult> {
    this.ownership.refresh(job);
    this.ownership.follow(job);
    return waitForJob(job, this.text, opts);
  }

  /** Searches a job's retained output for lines matching a caller's pattern (in a worker). */
  search(
    job: TrackedJob,
    pattern: string,
    opts: { contextLines: number; maxMatches: number; signal?: AbortSignal },
  ): Promise<SearchResult> {
    const { signal, ...limits } = opts;
    return this.text.search(pattern, job.streams, { ...limits, maxChars: this.config.maxResponseChars }, signal);
  }

  /** Writes input to a job and returns what it printed after it (see interact). */
  async interact(
    job: TrackedJob,
    input: string,
    opts: { waitMs: number; raw?: boolean; eof?: boolean },
  ): Promise<JobOutput> {
    this.ownership.refresh(job);
    this.ownership.follow(job);
    const deps = { executor: this.executor, text: this.text, limit: this.config.maxResponseChars };
    return interact(deps, job, input, opts);
  }

  /**
   * Kills a job and everything it started (signal, grace, SIGKILL), resolving once all of it is gone
   * and the job reads `killed`; any job of the state dir. A kill while another is under way starts
   * over with the new signal and grace. An ended job's leftovers are ended too: `already_terminated`.
   */
  async kill(id: string, opts: { signal?: NodeJS.Signals; graceMs?: number } = {}): Promise<KillResult> {
    const job = this.registry.lookup(id);
    if (!job) return "not_found";
    // Queued (for a slot, for other jobs, for a restart): it never runs again. Unless it was let go
    // meanwhile: then it is killed as a running job is.
    if (job.status === "queued") {
      await this.queue?.launched(id);
      if (this.store.cancel(id)) {
        job.update(this.store.get(id) ?? job.state);
        this.changes.listChanged();
        this.queue?.pump();
        return "killed";
      }
      job.update(this.store.get(id) ?? job.state);
    }
    this.ownership.refresh(job);
    const deps = { store: this.store, executor: this.executor, ownership: this.ownership };
    return killOne(deps, job, opts.signal ?? "SIGTERM", opts.graceMs ?? DEFAULT_GRACE_SECONDS * 1000);
  }

  private killTracked(
    job: TrackedJob,
    o: { signal?: NodeJS.Signals; graceMs?: number; timedOut: boolean },
  ): Promise<void> {
    const deps = { store: this.store, executor: this.executor, ownership: this.ownership };
    const grace = o.graceMs ?? DEFAULT_GRACE_SECONDS * 1000;
    return killJobs(deps, [job], o.signal ?? "SIGTERM", grace, o.timedOut);
  }

  /** Settles jobs of dead servers; drops finished jobs past retention or the count kept (every cleanup interval). */
  sweep(now = Date.now()): void {
    try {
      this.ownership.reconcile();
      if (dropExpired(this.registry, this.executor, now, this.config) > 0) this.changes.listChanged();
      this.executor.sweep((id) => this.store.get(id)?.status === "running");
    } catch (err) {
      log("warn", "cleanup sweep", err);
    }
  }

  /** Job folders that have no record (the database lost them): the command line warns of them. */
  unrecordedFolders(): number {
    return countStrayDirs(this.registry);
  }

  /** Drops every finished job and its output (the command line's `prune`); returns how many. */
  prune(): number {
    this.ownership.reconcile();
    return dropFinished(this.registry, this.executor);
  }

  /**
   * Stops: ends every running job this server owns (SIGTERM, a short grace, SIGKILL) and anything
   * its jobs left behind, unless they were started to outlive it (keep-jobs). Records and output stay.
   */
  async shutdown(): Promise<void> {
    this.closing = true;
    this.watch?.stop();
    this.queue?.close();
    await Promise.allSettled([...this.starting]);
    this.executor.close();
    const ending = [...this.registry.known()].filter(
      (j) => j.running && this.ownership.isOwn(j.state) && !j.state.keep,
    );
    try {
      const deps = { store: this.store, executor: this.executor, ownership: this.ownership };
      // Handed over too: what runs them carries the kill through if this process is killed meanwhile.
      await killJobs(deps, ending, "SIGTERM", this.config.shutdownGraceMs, false, true);
      const left = [...this.ownership.leftoversToEnd].map((id) => this.registry.cached(id)?.state);
      await this.executor.reapLeftovers(left.filter((s) => s !== undefined));
    } finally {
      this.close();
    }
  }

  /** Exiting without a stop (an exit handler: synchronous): SIGKILL to the jobs it owns; see abandonJobs. */
  abandon(): void {
    abandonJobs({ store: this.store, executor: this.executor, ownership: this.ownership }, this.registry.known());
  }

  /** Stops watching jobs, closes the state database (the command line when done; shutdown). */
  close(): void {
    this.watch?.stop();
    this.queue?.close();
    this.deadlines.stop();
    this.ownership.pending.stop();
    for (const job of this.registry.known()) job.unwatched();
    this.text.close();
    this.executor.dispose();
    this.store.close();
  }
}
