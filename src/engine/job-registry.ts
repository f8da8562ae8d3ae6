import { join } from "node:path";
import { log } from "../log.js";
import { findHere, type TreeFinder } from "../process/kill-tree.js";
import { BOOT_ID, isSameProcessAlive } from "../process/proc.js";
import type { JobEnd, JobRow, JobStore, Owner, ProcessId } from "../store/job-store.js";
import { watchWrites } from "../text/watch-writes.js";
import { Job } from "./job.js";
import { groupOf, reapLeftovers } from "./kill-jobs.js";
import { believedEnd, jobProcesses, lostEnd, observeJob } from "./observe-job.js";

/** How often the end of a job run by someone else is looked for besides its exit file appearing. */
const FOLLOW_POLL_MS = 1000;

// A job's row once it has ended this way, as the database would record it.
function endedRow(row: JobRow, end: JobEnd): JobRow {
  const status = row.kill_requested ? "killed" : end.lost || end.code !== 0 ? "failed" : "completed";
  return {
    ...row,
    status,
    exit_code: end.code,
    signal: end.signal,
    completed_ms: end.endedMs,
    lost: end.lost ? 1 : 0,
  };
}

// How a job that has ended here ended, from its row.
const endOf = (row: JobRow): JobEnd => ({
  code: row.exit_code,
  signal: row.signal,
  endedMs: row.completed_ms ?? Date.now(),
  lost: row.lost === 1,
});

/** Whether a row's processes belong to this boot (a row from before a reboot names none that live). */
export const thisBoot = (row: { boot_id: string | null }) => row.boot_id === null || row.boot_id === BOOT_ID;

/**
 * The jobs of a state dir as one process sees them: rows from the shared database, kept as Job
 * objects, and settled when their owner is gone. A server (`self` set) takes over the running jobs
 * of owners that died (adoption); the command line (`self` undefined) only looks.
 */
export class JobRegistry {
  private readonly cache = new Map<string, Job>();
  /** Jobs that ended here whose end could not be written to the database yet (a full disk). */
  private readonly unrecorded = new Set<Job>();

  constructor(
    readonly store: JobStore,
    readonly jobsDir: string,
    readonly self: ProcessId | undefined,
    /** Called when this server has taken over a running job. */
    private readonly onAdopt: (job: Job) => void = () => {},
    /** How a job's processes are looked for (in a worker, for a server). */
    readonly findTree: TreeFinder = findHere,
  ) {}

  /** Where a job's files are. */
  dirOf(id: string): string {
    return join(this.jobsDir, id);
  }

  /** A job by id, fresh from the database and settled; undefined if there is none. */
  get(id: string): Job | undefined {
    const row = this.store.get(id);
    if (!row) {
      this.forget(id);
      return undefined;
    }
    return this.settle(this.track(this.shown(row)));
  }

  /**
   * A row as every view shows it. A job whose end its shepherd wrote down (JOBDIR/exit), or that
   * ended here, has ended, even while its row still says running (its end could not be recorded
   * yet: a full disk): the tools, the list and the command line all agree on that.
   */
  shown(row: JobRow): JobRow {
    if (row.status !== "running") return row;
    const cached = this.cache.get(row.job_id);
    if (cached && !cached.running) return cached.row;
    // A job this server watches through its shepherd's pipe ends when that pipe says so.
    if (cached?.process) return row;
    const exit = believedEnd(row, this.dirOf(row.job_id));
    return exit ? endedRow(row, exit) : row;
  }

  /** The Job for a row, updated with it. */
  track(row: JobRow): Job {
    let job = this.cache.get(row.job_id);
    if (job) job.update(row);
    else {
      job = new Job(row, this.dirOf(row.job_id));
      this.cache.set(row.job_id, job);
    }
    return job;
  }

  /** A job this process knows, as it last saw it (no database read). */
  cached(id: string): Job | undefined {
    return this.cache.get(id);
  }

  /** Jobs known to this process, running or not. */
  known(): IterableIterator<Job> {
    return this.cache.values();
  }

  /** Stops keeping a job. */
  forget(id: string): void {
    this.cache.get(id)?.stopWatching?.();
    this.cache.delete(id);
  }

  /** Whether this process owns the row's job. */
  isOwn(row: Owner): boolean {
    return (
      this.self !== undefined && row.owner_pid === this.self.pid && row.owner_start === this.self.start && thisBoot(row)
    );
  }

  /** The rows of the running jobs this process owns (none for the command line). */
  ownRunningRows(): JobRow[] {
    if (!this.self) return [];
    return this.store.runningOf({ owner_pid: this.self.pid, owner_start: this.self.start, boot_id: BOOT_ID });
  }

  // Whether the owner of a row still lives (by pid and start time).
  private ownerAlive(row: Owner): boolean {
    return this.isOwn(row) || (thisBoot(row) && isSameProcessAlive(row.owner_pid, row.owner_start));
  }

  /** Records a job's processes (and its cgroup, when its shepherd said which), in the database and in the job. */
  recordProcesses(job: Job, procs: { job: ProcessId; shepherd: ProcessId; cgroup?: string | null }): void {
    const cgroup = procs.cgroup ?? job.row.cgroup;
    this.store.setStarted(job.id, procs.job, procs.shepherd, cgroup);
    job.update({
      ...job.row,
      pid: procs.job.pid,
      pid_start: procs.job.start,
      shepherd_pid: procs.shepherd.pid,
      shepherd_start: procs.shepherd.start,
      cgroup,
    });
  }

  // Copies into the row the processes a job's shepherd wrote down, if the row lacks them.
  private fillProcesses(job: Job): void {
    if (job.row.pid !== null && job.row.shepherd_pid !== null) return;
    const procs = jobProcesses(job.row, job.dir);
    if (procs) this.recordProcesses(job, procs);
  }

  /**
   * Acts on what a running job's files and /proc say, when no live server but this process stands
   * behind it (its owner is gone, or it is this server's by adoption): records its end; ends a
   * job whose shepherd died (nothing captures its output any more) as lost; and, for a server,
   * takes over a job whose owner is gone.
   */
  settle(job: Job): Job {
    // A job this server runs itself is watched through its shepherd's pipe.
    if (!job.running || job.process) return job;
    const mine = this.isOwn(job.row);
    if (!mine && this.ownerAlive(job.row)) return job;
    this.fillProcesses(job);
    // Nobody is starting it any more: its owner is gone, or it is this server's by take-over.
    const seen = observeJob(job.row, job.dir, true);
    if (seen.state === "ended") {
      this.finish(job, seen.end);
      // What it started may live on (a lost job's background children): ended too.
      if (seen.end.lost && this.self) void reapLeftovers(this, [job.treeRoot()]);
      return job;
    }
    if (!this.self) return job; // the command line only looks
    if (!mine) {
      const from = { pid: job.row.owner_pid, start: job.row.owner_start };
      const claimed = this.store.claim(job.id, from, this.self);
      const row = this.store.get(job.id);
      if (row) job.update(row);
      if (!claimed) return job;
      log("info", `took over job ${job.id} (its server is gone)`);
    }
    if (seen.state === "uncaptured") {
      void reapLeftovers(this, [job.treeRoot()], groupOf(job));
      this.finish(job, lostEnd());
      return job;
    }
    if (!mine) this.onAdopt(job);
    return job;
  }

  /** Records the ends that could not be recorded before, then settles the running jobs of every owner that is gone. */
  reconcile(): void {
    for (const job of this.unrecorded) this.finish(job, endOf(job.row));
    for (const owner of this.store.owners()) {
      if (this.ownerAlive(owner)) continue;
      for (const row of this.store.runningOf(owner)) this.settle(this.track(row));
    }
  }

  /**
   * Records a running job's end (whoever does it first) and updates the job. If the database
   * fails, the job still ends here: those waiting for the end must see it.
   */
  finish(job: Job, end: JobEnd): void {
    try {
      const row = this.store.finish(job.id, end);
      if (row) job.update(row);
      this.unrecorded.delete(job);
    } catch (err) {
      // Tried again at every reconcile; meanwhile every view shows the end (see shown).
      if (!this.unrecorded.has(job)) log("error", `recording the end of job ${job.id} (will try again)`, err);
      this.unrecorded.add(job);
    }
    if (job.running) job.update(endedRow(job.row, end));
  }

  /**
   * Makes sure the end of a job this process did not start is noticed: when its shepherd writes
   * its exit file (inotify), when another process records its end, or when its processes are gone.
   */
  follow(job: Job): void {
    if (!job.running || job.process || job.stopWatching) return;
    const check = () => {
      try {
        const row = this.store.get(job.id);
        // Its record is gone (a start that failed and was undone): nothing more will happen to it.
        if (!row) job.update({ ...job.row, status: "failed", lost: 1, completed_ms: Date.now() });
        else {
          job.update(row);
          if (row.status !== "running") return;
          if (this.isOwn(row) || !this.ownerAlive(row)) this.settle(job);
          else {
            const seen = observeJob(row, job.dir, false);
            if (seen.state === "ended") this.finish(job, seen.end);
          }
        }
      } catch (err) {
        log("warn", `checking job ${job.id}`, err);
      }
    };
    const stopWatching = watchWrites(job.dir, (name) => {
      if (name === "exit") check();
    });
    const timer = setInterval(check, FOLLOW_POLL_MS);
    timer.unref();
    job.stopWatching = () => {
      stopWatching();
      clearInterval(timer);
    };
    check();
  }
}
