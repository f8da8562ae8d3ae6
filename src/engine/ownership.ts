import { rmSync } from "node:fs";
import { join } from "node:path";
import { type JobEnd, type JobState, lostEnd, type Owner, restartDelay, restartsAfter } from "../domain/job-state.js";
import type { Executor } from "../executors/executor.js";
import { bestEffort, log } from "../log.js";
import { recordedAlive, sameBoot } from "../process/proc.js";
import type { JobStore } from "../store/job-store.js";
import type { Deadlines } from "./deadlines.js";
import { PendingWrites } from "./pending-writes.js";
import type { JobRegistry } from "./registry.js";
import type { TrackedJob } from "./tracked-job.js";

/** How often the end of a job run by someone else is looked for besides its exit being written down. */
const FOLLOW_POLL_MS = 1000;
/** How long an answer to "does this owner live" is kept. */
const LIFE_MEMO_MS = 250;
/** A kill whose SIGKILL is this late (its killer died) is finished by the job's owner. */
const OVERDUE_MS = 1000;

/**
 * Which running jobs are this server's, and what it does for them: their slots, their timeouts,
 * the jobs of servers that died (taken over), kills their killer did not live to finish, and the
 * recording of ends, whoever sees them. A command line (`self` undefined) owns nothing: it only
 * records what it finds (an end, a job lost).
 */
export class Ownership {
  /** Running jobs this server owns (started or taken over): they take its slots. */
  readonly mine = new Set<string>();
  /** Starts under way (they take slots too). */
  pendingStarts = 0;
  /** Jobs this server is killing now. */
  readonly killing = new Set<string>();
  /** Kills and ends that could not be written down yet (a full disk): written once there is room. */
  readonly pending = new PendingWrites();
  /** Every job this server started or took over without keep-jobs: what they leave ends at its stop too. */
  readonly leftoversToEnd = new Set<string>();
  /**
   * Told of each run of a job that is this server's now (started or taken over), and of each job
   * queued again to restart: what watches readiness and lets queued jobs go (a server's JobQueue).
   */
  runs: { running(job: TrackedJob): void; requeued(job: TrackedJob): void; ended(): void } | undefined;
  /** Owners looked at lately: alive or not, and when. */
  private readonly lifeSeen = new Map<string, { alive: boolean; at: number }>();
  constructor(
    private readonly store: JobStore,
    private readonly registry: JobRegistry,
    private readonly executor: Executor,
    readonly self: Owner | undefined,
    /** The times at which this server ends jobs: their timeouts, kills their killers did not finish. */
    private readonly deadlines: Deadlines,
  ) {}

  /** Whether this process owns the job. */
  isOwn(job: JobState): boolean {
    const o = job.owner;
    return this.self !== undefined && o?.pid === this.self.pid && o.start === this.self.start && sameBoot(job.bootId);
  }

  /**
   * Whether a job's owner (as recorded, of the boot recorded) still lives, by pid and start time.
   * Asked for every row a list shows: an answer is kept for a moment.
   */
  ownerAlive(owner: Owner | null, bootId: string | null): boolean {
    if (!owner || !sameBoot(bootId)) return false;
    const self = this.self;
    if (self && owner.pid === self.pid && owner.start === self.start) return true;
    const key = `${owner.pid}:${owner.start}`;
    const now = Date.now();
    const known = this.lifeSeen.get(key);
    if (known && now - known.at < LIFE_MEMO_MS) return known.alive;
    const alive = recordedAlive(owner, bootId);
    if (this.lifeSeen.size > 1000) this.lifeSeen.clear();
    this.lifeSeen.set(key, { alive, at: now });
    return alive;
  }

  /**
   * Records a running job's end (whoever does it first) and updates the job. If the database
   * fails, the job still ends here (those waiting for the end must see it), and the end is written
   * at a later check.
   */
  finish(job: TrackedJob, end: JobEnd): void {
    // What it used, and a limit it ran into, read now: its cgroups go once it is released.
    if (job.running && end.usage === undefined) {
      const used = bestEffort("reading what a job used", () => this.executor.usage(job.state));
      if (used) end = { ...end, usage: used.usage, limitHit: used.limitHit };
    }
    if (job.running && this.restart(job, end)) return;
    // The end of this run: an end seen late, of a run started again since, changes nothing.
    const run = job.state.restarts;
    this.pending.write(job.id, "the end", () => {
      const state = this.store.finish(job.id, end, run);
      if (state) job.update(state);
    });
    if (job.running && job.state.restarts === run) job.end(end);
    // A slot is free, and jobs that come after it may go.
    this.runs?.ended();
  }

  /**
   * A run that ended of a job that is to start again: queued again (once, whoever sees the end
   * first), its timeout and slot let go, what the run left behind ended; true if so.
   */
  private restart(job: TrackedJob, end: JobEnd): boolean {
    const run = job.state;
    if (!restartsAfter(run, end)) return false;
    const delayMs = restartDelay(run, end.endedMs);
    const last = { code: end.code, signal: end.signal, endedMs: end.endedMs, delayMs };
    let requeued = false;
    try {
      requeued = this.store.queue.requeue(run.id, run.restarts, end.endedMs + delayMs, last, end.usage ?? null);
    } catch (err) {
      log("warn", `queueing job ${run.id} to restart`, err);
      return false;
    }
    if (!requeued) return false;
    // The run's files: its end and processes are not the next run's (nobody reads a queued job's).
    const dir = this.registry.dirOf(run.id);
    for (const name of ["exit", "pid", "shepherd", "cgroup"])
      bestEffort("clearing a run's files", () => rmSync(join(dir, name), { force: true }));
    const now = this.store.get(run.id);
    if (now) job.update(now);
    log(
      "info",
      `job ${run.id} ended (${end.lost ? "lost" : `code ${end.code}, signal ${end.signal}`}); restarts in ${delayMs} ms`,
    );
    this.mine.delete(run.id);
    this.deadlines.disarm(run.id);
    this.executor.release(run);
    // What the run left behind is ended by whoever starts the next run, just before it (see
    // launchQueued): ended here, a look that came late could take the next run's processes for it.
    this.runs?.requeued(job);
    return true;
  }

  /** A job this server has started: it takes a slot, and its executor tells its end. */
  started(job: TrackedJob, firstHand: Promise<JobEnd>, keep: boolean): void {
    this.mine.add(job.id);
    if (!keep) this.leftoversToEnd.add(job.id);
    job.started(firstHand);
    this.runs?.running(job);
    void firstHand.then((end) => {
      this.mine.delete(job.id);
      // Its capture process died first: nothing captures the job's output any more, so it ends.
      this.finish(job, end.lost ? (this.executor.writtenEnd(job.state) ?? lostEnd()) : end);
      this.executor.release(job.state);
      if (end.lost) void this.executor.reapLeftovers([job.state]);
    });
    this.deadlines.arm(job);
  }

  /**
   * Acts on what a running job's files and processes say, when no live server but this process
   * stands behind it (its owner is gone, or it is this server's by take-over): records its end;
   * ends a job whose capture process died (nothing captures its output any more) as lost; and, for
   * a server, takes over a job whose owner is gone. The named moment at which ends are recorded
   * and jobs taken over (looking a job up never does).
   */
  refresh(job: TrackedJob): void {
    // A job this server started is watched through its executor.
    if (job.firstHand) return;
    // What the record says: a view may already show an end that is not written down yet (a look at a
    // job whose owner is gone), and that end is to be written down now, not taken as done.
    const record = this.store.get(job.id);
    if (record?.status !== "running") {
      if (record) job.update(record);
      return;
    }
    const mine = this.isOwn(record);
    if (!mine && this.ownerAlive(record.owner, record.bootId)) return;
    // Nobody is starting it any more: its owner is gone, or it is this server's by take-over.
    let state = record;
    // Where it runs, if its record lacks it (its server died before it could record it).
    if (!state.process) {
      const placement = this.executor.placementOf(state);
      if (placement) {
        state = { ...state, ...placement };
        const placed = state;
        this.pending.write(job.id, "where it runs", () => this.store.recordPlacement(placed));
      }
    }
    job.update(state);
    const seen = this.executor.observe(state, true);
    if (seen.state === "ended") {
      this.finish(job, seen.end);
      // What it started may live on (a lost job's background children): ended too.
      if (seen.end.lost && this.self) void this.executor.reapLeftovers([state]);
      return;
    }
    if (!this.self) return; // the command line only looks
    if (!mine) {
      let claimed = false;
      try {
        claimed = this.store.claim(job.id, state.owner, this.self);
      } catch (err) {
        // No room to write the take-over down (a full disk): not taken over now, but a kill or a
        // wait on it goes on all the same; the next look tries again.
        log("warn", `taking over job ${job.id}`, err);
        return;
      }
      const now = this.store.get(job.id);
      if (now) job.update(now);
      if (!claimed) return;
      log("info", `took over job ${job.id} (its server is gone)`);
    }
    if (seen.state === "uncaptured") {
      void this.executor.reapLeftovers([job.state]);
      this.finish(job, lostEnd());
      return;
    }
    if (!mine) this.adopt(job);
  }

  // A running job whose server died is now this server's: it takes a slot, and its timeout holds.
  private adopt(job: TrackedJob): void {
    this.mine.add(job.id);
    // Its leftovers end at this server's stop too, as its own jobs' do (unless it is kept).
    if (!job.state.keep) this.leftoversToEnd.add(job.id);
    this.follow(job);
    void job.ended.then(() => {
      this.mine.delete(job.id);
      this.executor.release(job.state);
    });
    this.deadlines.arm(job);
    this.runs?.running(job);
    // A kill its server had begun when it died is carried through, escalating when it would have.
    if (job.state.killRequested && job.running) this.deadlines.carryThrough(job);
  }

  /** Records the ends not recorded before, then settles the running jobs of every owner that is gone. */
  reconcile(): void {
    this.pending.retry();
    for (const owner of this.store.owners()) {
      if (this.ownerAlive(owner, owner?.bootId ?? null)) continue;
      for (const state of this.store.runningOf(owner)) this.refresh(this.registry.track(state));
    }
  }

  /**
   * Makes sure the end of a job this process did not start is noticed: when its end is written
   * down, when another process records it, or when its processes are gone.
   */
  follow(job: TrackedJob): void {
    if (job.firstHand || job.watched) return;
    const check = () => {
      try {
        const record = this.store.get(job.id);
        // Its record is gone (a start that failed and was undone): nothing more will happen to it.
        if (!record) job.end(lostEnd());
        else if (record.status !== "running") job.update(record);
        else if (this.isOwn(record) || !this.ownerAlive(record.owner, record.bootId)) this.refresh(job);
        else {
          const seen = this.executor.observe(record, false);
          if (seen.state === "ended") this.finish(job, seen.end);
        }
      } catch (err) {
        log("warn", `checking job ${job.id}`, err);
      }
    };
    const stopWatching = this.executor.watchEnd(job.state, check);
    const timer = setInterval(check, FOLLOW_POLL_MS);
    timer.unref();
    job.watchedWith(() => {
      stopWatching();
      clearInterval(timer);
    });
    check();
  }

  /**
   * Kills of this server's jobs that another process began and did not finish (it died): once
   * their SIGKILL is a second overdue, this server finishes them. Returns when the next kill not due
   * yet will be, if there is one: the owner check looks again then.
   */
  finishKills(now = Date.now()): number | undefined {
    if (this.mine.size === 0 || !this.self) return undefined;
    let next: number | undefined;
    for (const state of this.store.killsOf(this.self)) {
      if (this.killing.has(state.id)) continue;
      // A kill recorded without its time (by a version before schema 3) counts as overdue.
      const due = state.killDeadlineMs === null ? now : state.killDeadlineMs + OVERDUE_MS;
      if (due > now) {
        next = Math.min(next ?? due, due);
        continue;
      }
      const job = this.registry.track(this.registry.shown(state));
      if (job.running) this.deadlines.carryThrough(job);
    }
    return next;
  }
}
