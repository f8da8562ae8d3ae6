import type { Config } from "../config/config.js";
import { DEFAULT_GRACE_SECONDS } from "../domain/defaults.js";
import type { Owner } from "../domain/job-state.js";
import type { JobRecord } from "../domain/record.js";
import type { Executors } from "../executors/executor.js";
import { log, quietly } from "../log.js";
import { selfRef } from "../process/proc.js";
import type { TextWorkers } from "../workers/workers.js";
import type { Deadlines } from "./deadlines.js";
import { JobError } from "./errors.js";
import { interact } from "./interact.js";
import type { JobOutput } from "./job-output.js";
import { JobQueue, takeOut } from "./job-queue.js";
import type { StartOptions } from "./job-request.js";
import { JobViews, openParts } from "./job-views.js";
import { abandonJobs, type KillResult, killJobs, killOne } from "./kill.js";
import { countStrayDirs, dropExpired, dropFinished, recoverLostRecords } from "./retention.js";
import { type StartDeps, startJob } from "./start-job.js";
import { StateWatch } from "./state-watch.js";
import type { TrackedJob } from "./tracked-job.js";
import { type WaitOptions, type WaitResult, waitForJob } from "./wait-for-job.js";

export type { StartOptions } from "./job-request.js";

export type { KillResult } from "./kill.js";

/**
 * The job engine: what the tools and the command line call. Starts, looks up, reads, waits on,
 * searches, talks to and kills jobs, on state shared with every other server and command line
 * using the same state dir; knows nothing of MCP. Looking a job up only reads; ends are recorded
 * and jobs of dead servers taken over at named moments: the owner check (when the state changes,
 * and every few seconds), the sweep, and a refresh before a call acts on a job.
 */
export class JobEngine extends JobViews {
  private readonly watch: StateWatch | undefined;
  private readonly deadlines: Deadlines;
  /** This server's part in the queue (a command line that looks only has none). */
  private readonly queue: JobQueue | undefined;
  /** What starts need (a process that starts no jobs has none). */
  private readonly startDeps: StartDeps | undefined;
  private closing = false;
  private readonly starting = new Set<Promise<unknown>>();

  /**
   * Opens the state dir, over the executors and workers the program composed (cli/compose.ts). A
   * server (the default) owns the jobs it starts and takes over running jobs whose server died; a
   * command line (`server: false`) only looks and kills; `watch: false` (`run`) starts jobs but
   * neither sweeps nor takes over.
   */
  constructor(
    config: Config,
    given: { executors: Executors; text: TextWorkers },
    opts: { server?: boolean; watch?: boolean } = {},
  ) {
    const server = opts.server ?? true;
    const self: Owner | undefined = server ? selfRef() : undefined;
    const parts = openParts(config, given, self, (job, how) =>
      quietly("a deadline's kill", this?.killTracked(job, how) ?? Promise.resolve()),
    );
    super(parts);
    this.deadlines = parts.deadlines;
    const { store, registry, ownership, executor } = parts;
    this.startDeps = self && { config, store, registry, ownership, executor, owner: self };
    if (this.startDeps) {
      this.queue = new JobQueue(this.startDeps, this.text, {
        server: server && opts.watch !== false,
        starting: (p) => this.keepStarting(p),
        changed: () => this.changes.listChanged(),
      });
    }
    if (server && opts.watch !== false) {
      recoverLostRecords(this.registry, this.executor, config.stateDir);
      // Jobs of servers that died are settled or taken over, and history past retention dropped, now.
      this.sweep();
      this.changes.lookedAtElsewhere();
      this.watch = new StateWatch(this.store, config.cleanupIntervalSeconds * 1000, {
        onLook: () => this.executor.tend(),
        onCheck: () => {
          this.ownership.reconcile();
          this.changes.checkList();
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
    if (this.closing || !this.startDeps) throw new JobError("not_running", "The server is shutting down");
    // Shutdown waits for starts under way, so that no job slips past it.
    const starting = startJob(this.startDeps, opts);
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

  /** Waits for a job to end, or for a line of its output to match; see waitForJob. */
  wait(job: TrackedJob, opts: WaitOptions): Promise<WaitResult> {
    this.ownership.refresh(job);
    this.ownership.follow(job);
    return waitForJob(job, this.text, opts);
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
    // Queued (for a slot, for other jobs, for a restart): it never runs; if it was let go meanwhile,
    // it is killed as a running job is.
    if (job.status === "queued" && (await takeOut(this.store, job, this.queue))) return "killed";
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
