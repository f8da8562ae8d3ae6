import { describeEnd } from "../domain/ending.js";
import { isEnded, type JobState } from "../domain/job-state.js";
import { recordOf } from "../domain/record.js";
import { log } from "../log.js";
import type { JobStore } from "../store/job-store.js";
import type { TextWorkers } from "../workers/workers.js";
import { type Cursor, currentCursor } from "./job-output.js";
import { launchQueued, type StartDeps } from "./start-job.js";
import type { TrackedJob } from "./tracked-job.js";
import { waitForJob } from "./wait-for-job.js";

/**
 * Takes a queued job out of the queue (a kill): it ends `killed` without running; false if it was
 * let go meanwhile (it is then killed as a running job is).
 */
export async function takeOut(store: JobStore, job: TrackedJob, queue: JobQueue | undefined): Promise<boolean> {
  await queue?.launched(job.id);
  const out = store.queue.cancel(job.id);
  job.update(store.get(job.id) ?? job.state);
  if (out) queue?.took();
  return out;
}

/** Longest a timer may wait (setTimeout's bound); a readiness probe waits that long at a time. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What a queued job that comes after other jobs may do now. */
type Turn = { go: true } | { go: false; why?: string };

/** A job as a person names it in an outcome: its name and the start of its id. */
const label = (job: JobState) => (job.name ? `${job.name} (${job.id.slice(0, 8)})` : `job ${job.id.slice(0, 8)}`);

/**
 * A server's part in the queue the state dir shares: it lets queued jobs go when their turn comes
 * (first in, first out, while fewer than MCP_BG_MAX_JOBS jobs run in the state dir, once the jobs
 * they come after have done what they wait for; a restart at its time), ends `failed` those whose
 * wait can no longer end well, and watches the readiness probes of the runs it owns. Every server
 * on the state dir does the same: the store's compare-and-set (JobStore.launch) lets each job go
 * once. It acts on events only (a job queued, a run ended, a change of the state seen by the owner
 * check, the time of a restart), never by polling.
 */
export class JobQueue {
  private pumping = false;
  private again = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private readonly probes = new Map<string, AbortController>();
  /** Where each run this server started began in the output (a probe looks only past it). */
  private readonly runFrom = new Map<string, Cursor>();

  constructor(
    private readonly deps: StartDeps,
    private readonly text: TextWorkers,
    /**
     * Keeps a start under way (the engine's stop waits for it); told when one was let go. `server`:
     * this process stays and lets any job go (a command line lets only its own go: see pump).
     */
    private readonly hooks: { server: boolean; starting(p: Promise<unknown>): void; changed(): void },
  ) {
    deps.ownership.runs = {
      running: (job) => this.watchReady(job),
      requeued: (job) => this.requeued(job),
      ended: () => this.pump(),
    };
  }

  /** Starts let go by this server that are under way, by job id. */
  private readonly launching = new Map<string, Promise<void>>();

  /**
   * Lets go of what may go now (a start of its own, a run that ended, a change of the state).
   * `only`: of that job alone (a command line lets nothing else go: it does not stay to start them).
   */
  pump(only?: string): void {
    if (this.closed || (only === undefined && !this.hooks.server)) return;
    if (only !== undefined) {
      // Only if no job ahead of it may go first (first in, first out).
      for (const q of this.deps.store.queue.queued()) {
        const goes = q.nextStartMs === null && this.turnOf(q).go;
        if (q.id === only && goes) this.launch(q);
        if (q.id === only || goes) return;
      }
      return;
    }
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        this.step();
      } while (this.again && !this.closed);
    } catch (err) {
      log("warn", "letting queued jobs go", err);
    } finally {
      this.pumping = false;
    }
  }

  private step(): void {
    const { store } = this.deps;
    if (!store.queue.anyQueued()) return;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    // Once one job found no slot, none after it takes one (first in, first out).
    let slots = true;
    let changed = false;
    for (const q of store.queue.queued()) {
      if (q.nextStartMs !== null) {
        // A restart: at its time, without a new slot.
        if (q.nextStartMs > now) next = Math.min(next, q.nextStartMs);
        else changed = this.launch(q) || changed;
        continue;
      }
      const turn = this.turnOf(q);
      if (!turn.go) {
        if (turn.why && store.queue.refuse(q.id, turn.why)) {
          this.deps.registry.cached(q.id)?.update(store.get(q.id) ?? q);
          changed = true;
        }
        continue;
      }
      if (!slots) continue;
      if (this.launch(q)) changed = true;
      else slots = false;
    }
    if (changed) this.hooks.changed();
    this.wakeAt(next);
  }

  // Whether the jobs a queued job comes after have done what it waits for; why it never will if not.
  private turnOf(q: JobState): Turn {
    const plan = q.plan;
    if (!plan) return { go: true };
    for (const id of plan.after) {
      const dep = this.deps.registry.lookup(id)?.state;
      if (!dep) return { go: false, why: `not started: job ${id.slice(0, 8)} it comes after is gone` };
      const ended = isEnded(dep.status);
      const ok =
        plan.afterCondition === "ended"
          ? ended
          : plan.afterCondition === "ready"
            ? dep.readyMs !== null
            : dep.status === "completed";
      if (ok) continue;
      if (!ended) return { go: false };
      const how = dep.notStarted ?? describeEnd(recordOf(dep));
      const what = plan.afterCondition === "ready" ? "ended before it was ready" : dep.status;
      return { go: false, why: `not started: ${label(dep)}, which it comes after, ${what}: ${how}` };
    }
    return { go: true };
  }

  // Lets one queued job go, if this server gets it; true if so.
  private launch(q: JobState): boolean {
    const { store, config, owner, registry } = this.deps;
    const timeout = q.plan?.timeoutSeconds;
    if (!store.queue.launch(q.id, owner, config.maxJobs, timeout == null ? null : timeout * 1000)) return false;
    const state = store.get(q.id);
    if (!state) return false;
    const job = registry.track(state);
    this.runFrom.set(q.id, currentCursor(job));
    const started = launchQueued(this.deps, job, q).finally(() => {
      this.launching.delete(q.id);
      this.hooks.changed();
    });
    this.launching.set(q.id, started);
    this.hooks.starting(started);
    return true;
  }

  /** Settles once a start of this job that this server let go is done (at once if there is none). */
  launched(id: string): Promise<void> {
    return this.launching.get(id) ?? Promise.resolve();
  }

  // The next time a restart is due: the queue is looked at again then.
  private wakeAt(at: number): void {
    if (at >= this.timerAt && this.timer) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (!Number.isFinite(at) || this.closed) return;
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.pump();
      },
      Math.min(MAX_TIMER_MS, Math.max(0, at - Date.now())),
    );
  }

  // A run ended and its job is queued to start again: its probe stops; the queue looks again.
  private requeued(job: TrackedJob): void {
    this.probes.get(job.id)?.abort();
    this.hooks.changed();
    this.pump();
  }

  /**
   * Watches a run's readiness probe (the wait_until, wait_port or wait_http it was started with),
   * once per run: when it first matches, the run's `ready_at` is recorded (jobs that come after it
   * `ready` may go then).
   */
  private watchReady(job: TrackedJob): void {
    const probe = job.state.plan?.ready;
    if (!probe || job.state.readyMs !== null || this.probes.has(job.id) || this.closed) return;
    const run = job.state.restarts;
    const stop = new AbortController();
    this.probes.set(job.id, stop);
    const since = this.runFrom.get(job.id);
    this.runFrom.delete(job.id);
    waitForJob(job, this.text, {
      until: probe.until,
      ready: { port: probe.port, http: probe.http },
      since,
      timeoutMs: MAX_TIMER_MS,
      signal: stop.signal,
    })
      .then((r) => {
        if (!r.matched || !job.running || job.state.restarts !== run) return;
        if (this.deps.store.queue.markReady(job.id, run)) {
          const now = this.deps.store.get(job.id);
          if (now) job.update(now);
          this.hooks.changed();
          this.pump();
        }
      })
      .catch((err) => log("warn", `watching job ${job.id}'s readiness`, err))
      .finally(() => {
        if (this.probes.get(job.id) === stop) this.probes.delete(job.id);
      });
  }

  /** A job was taken out of the queue: those after it move up. */
  took(): void {
    this.hooks.changed();
    this.pump();
  }

  /** Lets nothing more go, and stops every probe (the engine stops). */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const stop of this.probes.values()) stop.abort();
    this.probes.clear();
  }
}
