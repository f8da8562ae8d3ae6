import type { JobEnd, JobState, Owner, RunEnd } from "../domain/job-state.js";
import { COLUMNS, type JobRow, toRow, toState } from "./job-rows.js";

/** A prepared statement, as used here. */
export interface Statement {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

/** How the records run statements: reads and writes, failures as StoreErrors naming the file. */
export interface StoreIo {
  run<T>(what: string, fn: () => T): T;
  write<T>(what: string, fn: () => T): T;
}

const ALL = `SELECT ${COLUMNS.join(", ")} FROM jobs`;
/** Now, in ms since the epoch, by SQLite's clock. */
const SQL_NOW = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";
const state = (row: unknown) => toState(row as JobRow);

/**
 * The queue's side of the job records (JobStore.queue): jobs queued for a slot, for the jobs they
 * come after, or for a restart; let go, started again, taken out. Each change is one statement whose
 * conditions settle races between servers (each queued job is let go once).
 */
export class QueueRecords {
  private readonly sql;

  constructor(
    prep: (text: string) => Statement,
    private readonly io: StoreIo,
  ) {
    this.sql = {
      queued: prep(`${ALL} WHERE status = 'queued' ORDER BY rowid`),
      anyQueued: prep("SELECT 1 AS y FROM jobs WHERE status = 'queued' LIMIT 1"),
      live: prep(`${ALL} WHERE status IN ('queued', 'running') ORDER BY rowid`),
      // A queued job starts: its owner the server that starts it, when a slot is free (a restart
      // needs none: it kept its own). The time is SQLite's, taken under the write lock: the order
      // in which jobs were let go is the order of their start times, whichever server let them go.
      launch: prep(
        `UPDATE jobs SET status = 'running', owner_pid = @pid, owner_start = @start, boot_id = @boot,
           started_ms = CASE WHEN restarts = 0 THEN ${SQL_NOW} ELSE started_ms END,
           deadline_ms = CASE WHEN @timeout IS NULL THEN NULL ELSE ${SQL_NOW} + @timeout END,
           next_start_ms = NULL, pid = NULL, pid_start = NULL, shepherd_pid = NULL, shepherd_start = NULL,
           cgroup = NULL, executor_id = NULL, node = NULL, ready_ms = NULL
         WHERE job_id = @id AND status = 'queued' AND kill_requested = 0
           AND (restarts > 0 OR (SELECT count(*) FROM jobs WHERE status = 'running') < @max)`,
      ),
      requeue: prep(
        `UPDATE jobs SET status = 'queued', restarts = restarts + 1, next_start_ms = @next, last_exit = @lastExit,
           ready_ms = NULL, usage = coalesce(@usage, usage), owner_pid = NULL, owner_start = NULL
         WHERE job_id = @id AND status = 'running' AND restarts = @run AND kill_requested = 0`,
      ),
      cancel: prep(
        `UPDATE jobs SET status = 'killed', kill_requested = 1, completed_ms = @now, next_start_ms = NULL
         WHERE job_id = @id AND status = 'queued'`,
      ),
      refuse: prep(
        `UPDATE jobs SET status = 'failed', completed_ms = @now, not_started = @why, next_start_ms = NULL
         WHERE job_id = @id AND status = 'queued'`,
      ),
      ready: prep(
        `UPDATE jobs SET ready_ms = ${SQL_NOW}
         WHERE job_id = @id AND status = 'running' AND restarts = @run AND ready_ms IS NULL`,
      ),
      starting: prep(
        `UPDATE jobs SET shepherd_pid = @shepherd_pid, shepherd_start = @shepherd_start, confinement = @confinement
         WHERE job_id = @job_id AND status = 'running'`,
      ),
      unstarted: prep(
        `UPDATE jobs SET status = 'failed', completed_ms = @now, not_started = @why, lost = 0
         WHERE job_id = @id AND status = 'running' AND restarts = @run`,
      ),
    };
  }

  /** Records who starts a job from the queue (its process that starts it) and what confines it. */
  recordStarting(job: JobState): void {
    const { job_id, shepherd_pid, shepherd_start, confinement } = toRow(job);
    this.io.write("update", () => this.sql.starting.run({ job_id, shepherd_pid, shepherd_start, confinement }));
  }

  /** A job let go from the queue could not be started: it ends failed, saying why. */
  failStart(id: string, run: number, why: string, nowMs = Date.now()): void {
    this.io.write("update", () => this.sql.unstarted.run({ id, run, why, now: nowMs }));
  }

  /** Queued jobs, first in first. */
  queued(): JobState[] {
    return this.io.run("read", () => this.sql.queued.all().map(state));
  }

  /** Whether any job is queued (cheap: an idle server asks it at each change of the state). */
  anyQueued(): boolean {
    return this.io.run("read", () => this.sql.anyQueued.get() !== undefined);
  }

  /** Jobs queued or running, oldest first. */
  live(): JobState[] {
    return this.io.run("read", () => this.sql.live.all().map(state));
  }

  /**
   * Starts a queued job's record (it runs from now, owned by `owner`), if it is still queued, not
   * being killed, and fewer than `max` jobs run in the state dir (a restart takes no new slot);
   * false if not.
   */
  launch(id: string, owner: Owner, max: number, timeoutMs: number | null): boolean {
    return this.io.write(
      "update",
      () =>
        this.sql.launch.run({ id, pid: owner.pid, start: owner.start, boot: owner.bootId, max, timeout: timeoutMs })
          .changes === 1,
    );
  }

  /** A run of a job has ended and it starts again at `nextMs` (queued till then); false if it is not that run's to end. */
  requeue(id: string, run: number, nextMs: number, lastExit: RunEnd, usage: JobEnd["usage"]): boolean {
    return this.io.write(
      "update",
      () =>
        this.sql.requeue.run({
          id,
          run,
          next: nextMs,
          lastExit: JSON.stringify(lastExit),
          usage: usage ? JSON.stringify(usage) : null,
        }).changes === 1,
    );
  }

  /** Ends a queued job as killed, without its ever running again; false if it is not queued. */
  cancel(id: string, nowMs = Date.now()): boolean {
    return this.io.write("update", () => this.sql.cancel.run({ id, now: nowMs }).changes === 1);
  }

  /** Ends a queued job as failed without starting it, saying why; false if it is not queued. */
  refuse(id: string, why: string, nowMs = Date.now()): boolean {
    return this.io.write("update", () => this.sql.refuse.run({ id, why, now: nowMs }).changes === 1);
  }

  /**
   * Records that a run's readiness probe matched (once per run), by the clock that times starts
   * from the queue: a job that comes after it `ready` starts no earlier than this.
   */
  markReady(id: string, run: number): boolean {
    return this.io.write("update", () => this.sql.ready.run({ id, run }).changes === 1);
  }
}
