import { join } from "node:path";
import type { Config } from "../config/config.js";
import { DEFAULT_LIST_LIMIT } from "../domain/defaults.js";
import type { JobStatus, Owner } from "../domain/job-state.js";
import {
  type ConfinementView,
  confinementOf,
  type JobRecord,
  recordOf,
  type SupervisionView,
} from "../domain/record.js";
import type { Executors } from "../executors/executor.js";
import { JobStore } from "../store/job-store.js";
import type { SearchResult } from "../text/search-lines.js";
import type { TextWorkers } from "../workers/workers.js";
import { JobChanges } from "./changes.js";
import { type DeadlineKill, Deadlines } from "./deadlines.js";
import { JobError } from "./errors.js";
import { type LogOptions, type LogSinks, writeLogs } from "./follow-output.js";
import { type Cursor, type JobOutput, readJobOutput, tailJobOutput } from "./job-output.js";
import { Ownership } from "./ownership.js";
import { portsOf } from "./ports.js";
import { type BoardJob, boardJob, groupOf, supervision, waitsFor } from "./queue-views.js";
import { JobRegistry } from "./registry.js";
import type { TrackedJob } from "./tracked-job.js";

/** What an engine is made of: the state dir's records, the jobs as this process follows them, its part in them. */
export interface EngineParts {
  config: Config;
  store: JobStore;
  registry: JobRegistry;
  ownership: Ownership;
  executor: Executors;
  text: TextWorkers;
  deadlines: Deadlines;
  changes: JobChanges;
}

/**
 * Opens the state dir's records and makes what follows its jobs, over the executors and workers the
 * program composed; `self`: the server this process is (undefined for a command line that looks
 * only); `kill`: how a deadline ends a job.
 */
export function openParts(
  config: Config,
  given: { executors: Executors; text: TextWorkers },
  self: Owner | undefined,
  kill: DeadlineKill,
): EngineParts {
  const executor = given.executors;
  const store = new JobStore(config.stateDir);
  let ownership: Ownership | undefined;
  const registry = new JobRegistry(store, join(config.stateDir, "jobs"), executor, (owner, bootId) =>
    (ownership as Ownership).ownerAlive(owner, bootId),
  );
  const deadlines = new Deadlines(kill);
  ownership = new Ownership(store, registry, executor, self, deadlines);
  const owned = ownership;
  const changes = new JobChanges(store, (job) => owned.follow(job));
  return { config, store, registry, ownership, executor, text: given.text, deadlines, changes };
}

/**
 * What the engine tells of jobs without acting on them: a job by id, lists, output, what a job waits
 * for, what supervises and confines it, its ports; searches. Looking a job up only reads.
 */
export class JobViews {
  protected readonly config: Config;
  protected readonly store: JobStore;
  protected readonly registry: JobRegistry;
  protected readonly ownership: Ownership;
  protected readonly executor: Executors;
  /** Where callers' patterns are matched, terminals rendered and processes looked for, off this thread. */
  readonly text: TextWorkers;
  /** Jobs coming and going, output growing, statuses changing: for resource subscribers. */
  readonly changes: JobChanges;

  constructor(parts: EngineParts) {
    this.config = parts.config;
    this.store = parts.store;
    this.registry = parts.registry;
    this.ownership = parts.ownership;
    this.executor = parts.executor;
    this.text = parts.text;
    this.changes = parts.changes;
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

  /** Jobs queued or running that `up` started from this Procfile, oldest first. */
  group(procfile: string): JobRecord[] {
    return groupOf(this.store, (state) => this.registry.shown(state), procfile);
  }

  /**
   * Jobs newest first, each with the pid of the server that owns it and, for a queued one, what it
   * waits for in words (the web page).
   */
  board(limit: number): { jobs: BoardJob[]; total: number } {
    const { jobs, total } = this.registry.list(undefined, limit);
    return { jobs: jobs.map((j) => boardJob(this.store, j)), total };
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

  /**
   * What a job that has not started yet waits for, in words: a queued job's slot, the jobs it comes
   * after or its restart's time; a Slurm job's place in Slurm's queue (`PENDING (Priority)`).
   */
  waiting(job: TrackedJob): string | undefined {
    if (job.status === "queued") return waitsFor(this.store, job.state);
    return job.running ? this.executor.waiting?.(job.state) : undefined;
  }

  /** What supervises a job: its place in the queue, order, restarts, readiness, last output. */
  supervision(job: TrackedJob): SupervisionView {
    return supervision(this.store, job);
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

  /** Searches a job's retained output for lines matching a caller's pattern (in a worker). */
  search(
    job: TrackedJob,
    pattern: string,
    opts: { contextLines: number; maxMatches: number; signal?: AbortSignal },
  ): Promise<SearchResult> {
    const { signal, ...limits } = opts;
    return this.text.search(pattern, job.streams, { ...limits, maxChars: this.config.maxResponseChars }, signal);
  }
}
