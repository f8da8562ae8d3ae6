import { type FSWatcher, watch } from "node:fs";
import { join } from "node:path";
import { log } from "../log.js";
import { isSameProcessAlive } from "../process/proc.js";
import type { JobEnd, JobRow, JobStore, ProcessId } from "../store/job-store.js";
import { Job } from "./job.js";
import { observeEnd } from "./observe-end.js";

/** How often the end of a job run by someone else is looked for besides its exit file appearing. */
const FOLLOW_POLL_MS = 500;

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

type OwnerOf = { owner_pid: number | null; owner_start: number | null };

/**
 * The jobs of a state dir as one process sees them: rows from the shared database, kept as Job
 * objects, and settled when their owner is gone. A server (`self` set) takes over the running jobs
 * of owners that died (adoption); the command line (`self` undefined) only looks.
 */
export class JobRegistry {
  private readonly cache = new Map<string, Job>();

  constructor(
    readonly store: JobStore,
    readonly jobsDir: string,
    readonly self: ProcessId | undefined,
    /** Called when this server has taken over a running job. */
    private readonly onAdopt: (job: Job) => void = () => {},
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
    return this.settle(this.track(row));
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
  isOwn(row: OwnerOf): boolean {
    return this.self !== undefined && row.owner_pid === this.self.pid && row.owner_start === this.self.start;
  }

  // Whether the owner of a row still lives (by pid and start time).
  private ownerAlive(row: OwnerOf): boolean {
    return this.isOwn(row) || isSameProcessAlive(row.owner_pid, row.owner_start);
  }

  /**
   * For a running job whose owner is gone: records its end if it has ended (or is lost), else takes
   * it over when this process is a server.
   */
  settle(job: Job): Job {
    if (!job.running || this.ownerAlive(job.row)) return job;
    const end = observeEnd(job.row, job.dir, true);
    if (end) this.finish(job, end);
    else if (this.self) {
      const from = { pid: job.row.owner_pid, start: job.row.owner_start };
      if (this.store.claim(job.id, from, this.self)) {
        const row = this.store.get(job.id);
        if (row) job.update(row);
        log("info", `took over job ${job.id} (its server is gone)`);
        this.onAdopt(job);
      } else {
        const row = this.store.get(job.id);
        if (row) job.update(row);
      }
    }
    return job;
  }

  /** Settles the running jobs of every owner that is gone. */
  reconcile(): void {
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
    } catch (err) {
      log("error", `recording the end of job ${job.id}`, err);
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
        if (!row) return;
        if (row.status !== "running") job.update(row);
        else {
          const end = observeEnd(row, job.dir, !this.ownerAlive(row));
          if (end) this.finish(job, end);
        }
      } catch (err) {
        log("warn", `checking job ${job.id}`, err);
      }
    };
    let watcher: FSWatcher | undefined;
    try {
      watcher = watch(job.dir, { persistent: false }, (_event, name) => {
        if (name === "exit") check();
      });
      watcher.on("error", () => {});
    } catch {}
    const timer = setInterval(check, FOLLOW_POLL_MS);
    timer.unref();
    job.stopWatching = () => {
      watcher?.close();
      clearInterval(timer);
    };
    check();
  }
}
