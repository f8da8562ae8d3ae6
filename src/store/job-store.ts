import type Database from "libsql";
import type { JobEnd, JobState, JobStatus, Owner } from "../domain/job-state.js";
import { bestEffort } from "../log.js";
import { COLUMNS, type JobRow, ownerParams, toRow, toState } from "./job-rows.js";
import { openDatabase, StoreError } from "./open-database.js";
import { QueueRecords, type Statement } from "./queue-records.js";

export { StoreError };

const ALL = `SELECT ${COLUMNS.join(", ")} FROM jobs`;
/** The statuses of jobs that have ended for good, as SQL. */
const ENDED = "('completed', 'failed', 'killed')";
const state = (row: unknown) => toState(row as JobRow);

/**
 * Job records in SQLite (WAL mode) at `STATE_DIR/state.db`, shared by every server and command
 * line on the same state dir. Rows become JobStates here, and only here. Each write is one
 * statement (SQLite makes it atomic and safe from a SIGKILL at any moment); compare-and-set
 * conditions in the statements settle races between servers.
 */
export class JobStore {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly sql;
  /** The queue's side of the records: queued jobs let go, started again, taken out. */
  readonly queue: QueueRecords;
  /** Writes made through this store: with the database's data_version, what changed tells. */
  private writes = 0;

  constructor(stateDir: string) {
    const { db, path } = openDatabase(stateDir);
    this.db = db;
    this.path = path;
    const prep = (text: string) => this.db.prepare(text) as unknown as Statement;
    this.sql = {
      insert: prep(`INSERT INTO jobs (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map((c) => `@${c}`).join(", ")})`),
      get: prep(`${ALL} WHERE job_id = ?`),
      prefix: prep(`${ALL} WHERE job_id >= ? AND job_id < ? ORDER BY job_id LIMIT 10`),
      placed: prep(
        `UPDATE jobs SET pid = @pid, pid_start = @pid_start, shepherd_pid = @shepherd_pid, shepherd_start = @shepherd_start,
           cgroup = @cgroup, executor_id = @executor_id, node = @node WHERE job_id = @job_id`,
      ),
      finish: prep(
        `UPDATE jobs SET
           status = CASE WHEN kill_requested THEN 'killed' WHEN @lost THEN 'failed'
                         WHEN @code = 0 THEN 'completed' ELSE 'failed' END,
           exit_code = @code, signal = @signal, completed_ms = @ended, lost = @lost,
           usage = coalesce(@usage, usage), limit_hit = coalesce(@limitHit, limit_hit)
         WHERE job_id = @id AND status = 'running' AND restarts = @run`,
      ),
      kill: prep(
        `UPDATE jobs SET kill_requested = 1, timed_out = timed_out OR @timedOut,
           kill_deadline_ms = min(coalesce(kill_deadline_ms, @deadline), @deadline)
         WHERE job_id = @id AND status = 'running'`,
      ),
      claim: prep(
        "UPDATE jobs SET owner_pid = ?, owner_start = ? WHERE job_id = ? AND status = 'running' AND owner_pid IS ? AND owner_start IS ?",
      ),
      owners: prep("SELECT DISTINCT owner_pid, owner_start, boot_id FROM jobs WHERE status = 'running'"),
      runningOf: prep(`${ALL} WHERE status = 'running' AND owner_pid IS ? AND owner_start IS ? AND boot_id IS ?`),
      killsOf: prep(
        `${ALL} WHERE status = 'running' AND kill_requested = 1 AND owner_pid IS ? AND owner_start IS ? AND boot_id IS ?`,
      ),
      count: prep("SELECT count(*) AS n FROM jobs"),
      countStatus: prep("SELECT count(*) AS n FROM jobs WHERE status = ?"),
      list: prep(`${ALL} ORDER BY started_ms DESC, rowid DESC LIMIT ?`),
      listStatus: prep(`${ALL} WHERE status = ? ORDER BY started_ms DESC, rowid DESC LIMIT ?`),
      expired: prep(
        `SELECT job_id FROM jobs WHERE status IN ${ENDED} AND completed_ms < ?
         UNION SELECT job_id FROM (SELECT job_id FROM jobs WHERE status IN ${ENDED}
                                   ORDER BY completed_ms DESC, rowid DESC LIMIT -1 OFFSET ?)`,
      ),
      finished: prep(`SELECT job_id FROM jobs WHERE status IN ${ENDED}`),
      delete: prep(`DELETE FROM jobs WHERE job_id = ? AND status IN ${ENDED}`),
      discard: prep("DELETE FROM jobs WHERE job_id = ?"),
      signature: prep("SELECT count(*) AS n, max(rowid) AS last FROM jobs"),
      has: prep("SELECT 1 AS y FROM jobs WHERE job_id = ?"),
      dataVersion: prep("PRAGMA data_version"),
    };
    this.queue = new QueueRecords(prep, {
      run: (what, fn) => this.run(what, fn),
      write: (what, fn) => this.write(what, fn),
    });
  }

  // Runs a statement; a database failure becomes a StoreError naming the file.
  private run<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw new StoreError(`state database ${this.path}: ${what} failed: ${(err as Error).message}`);
    }
  }

  // Runs a statement that writes.
  private write<T>(what: string, fn: () => T): T {
    const result = this.run(what, fn);
    this.writes++;
    return result;
  }

  /** Adds a job's record. */
  insert(job: JobState): void {
    this.write("insert", () => this.sql.insert.run(toRow(job)));
  }

  /** A job's record, or undefined. */
  get(id: string): JobState | undefined {
    return this.run("read", () => {
      const row = this.sql.get.get(id);
      return row ? state(row) : undefined;
    });
  }

  /** Jobs whose id starts with `prefix` (at most 10). */
  withPrefix(prefix: string): JobState[] {
    return this.run("read", () => this.sql.prefix.all(prefix, `${prefix}\u{10ffff}`).map(state));
  }

  /** Records where a job that has started runs: its processes, cgroup, the executor's id and node. */
  recordPlacement(job: JobState): void {
    const { job_id, pid, pid_start, shepherd_pid, shepherd_start, cgroup, executor_id, node } = toRow(job);
    const params = { job_id, pid, pid_start, shepherd_pid, shepherd_start, cgroup, executor_id, node };
    this.write("update", () => this.sql.placed.run(params));
  }

  /**
   * Records a running job's end (a no-op if someone already did: the first writer wins) and returns
   * its record. The status is `killed` if a kill was asked for, whoever asked.
   */
  finish(id: string, end: JobEnd, run = 0): JobState | undefined {
    return this.write("update", () => {
      this.sql.finish.run({
        id,
        run,
        code: end.code,
        signal: end.signal,
        ended: end.endedMs,
        lost: end.lost ? 1 : 0,
        usage: end.usage ? JSON.stringify(end.usage) : null,
        limitHit: end.limitHit ?? null,
      });
      return this.get(id);
    });
  }

  /**
   * Marks a running job as being killed (by a timeout if `timedOut`), escalating to SIGKILL at
   * `deadlineMs` (the earliest of all kills asked for), before any signal is sent.
   */
  requestKill(id: string, timedOut: boolean, deadlineMs: number): void {
    this.write("update", () => this.sql.kill.run({ id, timedOut: timedOut ? 1 : 0, deadline: deadlineMs }));
  }

  /** Takes over a running job from `from` (its owner as recorded); false if someone else did first. */
  claim(id: string, from: Owner | null, to: Owner): boolean {
    return this.write(
      "update",
      () => this.sql.claim.run(to.pid, to.start, id, from?.pid ?? null, from?.start ?? null).changes === 1,
    );
  }

  /** The owners of running jobs (null: jobs that have none, recovered from their folders). */
  owners(): (Owner | null)[] {
    return this.run("read", () =>
      (this.sql.owners.all() as JobRow[]).map((r) =>
        r.owner_pid !== null && r.owner_start !== null
          ? { pid: r.owner_pid, start: r.owner_start, bootId: r.boot_id }
          : null,
      ),
    );
  }

  /** Running jobs of one owner (or of none). */
  runningOf(owner: Owner | null): JobState[] {
    const params = owner ? ownerParams(owner) : [null, null, null];
    return this.run("read", () => this.sql.runningOf.all(...params).map(state));
  }

  /** Running jobs of one owner that a kill was asked for (few: an idle server's check reads only these). */
  killsOf(owner: Owner): JobState[] {
    return this.run("read", () => this.sql.killsOf.all(...ownerParams(owner)).map(state));
  }

  /** Jobs newest first, optionally of one status, and how many match in all. */
  list(status: JobStatus | undefined, limit: number): { jobs: JobState[]; total: number } {
    return this.run("read", () => {
      const rows = status ? this.sql.listStatus.all(status, limit) : this.sql.list.all(limit);
      const count = (status ? this.sql.countStatus.get(status) : this.sql.count.get()) as { n: number };
      return { jobs: rows.map(state), total: count.n };
    });
  }

  /** Finished jobs that completed before `cutoffMs`, or that are beyond the newest `keep` finished ones. */
  expired(cutoffMs: number, keep: number): string[] {
    return this.run("read", () => this.sql.expired.all(cutoffMs, keep).map((r) => (r as { job_id: string }).job_id));
  }

  /** Every finished job. */
  finished(): string[] {
    return this.run("read", () => this.sql.finished.all().map((r) => (r as { job_id: string }).job_id));
  }

  /** A short text that changes whenever a job is added or deleted. */
  signature(): string {
    return this.run("read", () => {
      const r = this.sql.signature.get() as { n: number; last: number | null };
      return `${r.n}:${r.last ?? 0}`;
    });
  }

  /**
   * A short text that changes whenever anything in the database changed, through this store or
   * another process (SQLite's data_version): cheap enough to ask often, so that an idle server
   * reads nothing else.
   */
  version(): string {
    return this.run("read", () => {
      const r = this.sql.dataVersion.get() as { data_version: number };
      return `${r.data_version}:${this.writes}`;
    });
  }

  /** Whether a job has a record. */
  has(id: string): boolean {
    return this.run("read", () => this.sql.has.get(id) !== undefined);
  }

  /** Deletes a finished job's record; false if it is running or gone. */
  delete(id: string): boolean {
    return this.write("delete", () => this.sql.delete.run(id).changes === 1);
  }

  /** Deletes a job's record whatever its status (a start that failed). */
  discard(id: string): void {
    this.write("delete", () => this.sql.discard.run(id));
  }

  /** Closes the database. */
  close(): void {
    bestEffort("closing the state database", () => this.db.close());
  }
}
