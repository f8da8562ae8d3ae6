import { join } from "node:path";
import { MIN_PREFIX } from "../domain/defaults.js";
import {
  ended,
  type JobEnd,
  type JobState,
  type JobStatus,
  lostEnd,
  type Owner,
  restartsAfter,
} from "../domain/job-state.js";
import type { Executor } from "../executors/executor.js";
import type { JobStore } from "../store/job-store.js";
import { JobError } from "./errors.js";
import { TrackedJob } from "./tracked-job.js";

/**
 * The jobs of a state dir as this process sees them: records from the shared database, kept as
 * TrackedJobs. Looking a job up only reads; settling what the records say (ends, take-overs)
 * happens elsewhere, at named moments (see Ownership).
 */
export class JobRegistry {
  private readonly cache = new Map<string, TrackedJob>();

  constructor(
    readonly store: JobStore,
    readonly jobsDir: string,
    private readonly executor: Executor,
    /** Whether a job's owner still lives (see Ownership.ownerAlive). */
    private readonly ownerAlive: (owner: Owner | null, bootId: string | null) => boolean,
  ) {}

  /** Where a job's files are. */
  dirOf(id: string): string {
    return join(this.jobsDir, id);
  }

  /** A job by id, as every view shows it (see shown); undefined if there is none. Only reads. */
  lookup(id: string): TrackedJob | undefined {
    const state = this.store.get(id);
    if (!state) {
      this.forget(id);
      return undefined;
    }
    return this.track(this.shown(state));
  }

  /**
   * The id a person means: the id itself, or the one id that starts with an unambiguous prefix of at
   * least MIN_PREFIX characters; `not_found` or `invalid_input` errors otherwise.
   */
  resolveId(idOrPrefix: string): string {
    const want = idOrPrefix.trim().toLowerCase();
    if (this.store.get(want)) return want;
    if (want.length < MIN_PREFIX) {
      throw new JobError("not_found", `Job ${idOrPrefix} not found (an ID prefix needs ${MIN_PREFIX}+ characters)`);
    }
    const found = this.store.withPrefix(want);
    if (found.length === 0) throw new JobError("not_found", `Job ${idOrPrefix} not found`);
    if (found.length > 1) {
      const ids = found.map((j) => j.id).join(", ");
      throw new JobError("invalid_input", `ID prefix ${idOrPrefix} is ambiguous: it matches ${ids}`);
    }
    return (found[0] as JobState).id;
  }

  /** The TrackedJob for a state, updated with it. */
  track(state: JobState): TrackedJob {
    let job = this.cache.get(state.id);
    if (job) job.update(state);
    else {
      job = new TrackedJob(state, this.dirOf(state.id));
      this.cache.set(state.id, job);
    }
    return job;
  }

  /**
   * A record as every view shows it. A job whose end its capture process wrote down, or that ended
   * here, has ended, even while its record still says running (its end could not be recorded yet:
   * a full disk); a job that no live server stands behind is as its processes say (gone: lost).
   * The tools, the list and the command line all agree on that; the record says so once the owner
   * check (or a call that acts on the job) has written it down.
   */
  shown(state: JobState): JobState {
    if (state.status !== "running") return state;
    const cached = this.cache.get(state.id);
    if (cached && !cached.running) return cached.state;
    // A job this process watches first hand ends when its executor says so.
    if (cached?.firstHand) return state;
    // A run that ended of a job that restarts after such an end is shown running until a server
    // has queued it again (it has not ended).
    const endOf = (end: JobEnd) => (restartsAfter(state, end) ? state : ended(state, end));
    const end = this.executor.writtenEnd(state);
    if (end) return endOf(end);
    if (this.ownerAlive(state.owner, state.bootId)) return state;
    const seen = this.executor.observe(state, true);
    if (seen.state === "ended") return endOf(seen.end);
    // Nothing captures it any more: it is ended as lost when the owner check gets to it.
    if (seen.state === "uncaptured") return endOf(lostEnd());
    return state;
  }

  /** Jobs newest first, optionally of one status, as shown; `total` counts all that match. */
  list(status: JobStatus | undefined, limit: number): { jobs: JobState[]; total: number } {
    if (!status) {
      const { jobs, total } = this.store.list(undefined, limit);
      return { jobs: jobs.map((j) => this.shown(j)), total };
    }
    // A job whose end is not recorded yet is listed as it is, not as its record says: the records
    // that say running are looked at whatever status is asked for.
    const running = this.store.list("running", Number.MAX_SAFE_INTEGER).jobs.map((j) => this.shown(j));
    const matching = running.filter((j) => j.status === status);
    if (status === "running") return { jobs: matching.slice(0, limit), total: matching.length };
    const { jobs, total } = this.store.list(status, limit);
    const all = [...jobs, ...matching].sort((a, b) => b.startedMs - a.startedMs);
    return { jobs: all.slice(0, limit), total: total + matching.length };
  }

  /** A job this process knows, as it last saw it (no database read). */
  cached(id: string): TrackedJob | undefined {
    return this.cache.get(id);
  }

  /** Jobs known to this process, running or not. */
  known(): IterableIterator<TrackedJob> {
    return this.cache.values();
  }

  /** Stops keeping a job. */
  forget(id: string): void {
    this.cache.get(id)?.unwatched();
    this.cache.delete(id);
  }
}
