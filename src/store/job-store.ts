import { accessSync, constants, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type Database from "libsql";
import { ensureDir } from "./ensure-dir.js";
import { MIGRATIONS } from "./migrations.js";

/** A job's row in the state database: its record, and what finds its processes again. */
export interface JobRow {
  job_id: string;
  command: string;
  name: string | null;
  cwd: string;
  pty: number;
  status: "running" | "completed" | "failed" | "killed";
  started_ms: number;
  completed_ms: number | null;
  exit_code: number | null;
  signal: string | null;
  timed_out: number;
  lost: number;
  kill_requested: number;
  pid: number | null;
  pid_start: number | null;
  shepherd_pid: number | null;
  shepherd_start: number | null;
  owner_pid: number | null;
  owner_start: number | null;
  keep: number;
  deadline_ms: number | null;
  /** The boot (/proc/sys/kernel/random/boot_id) its processes and owner belong to; null if unknown. */
  boot_id: string | null;
  /** A kill under way escalates to SIGKILL at this time (ms); null if none was asked for. */
  kill_deadline_ms: number | null;
  /** The job's own cgroup, as its shepherd reported it; null if it has none (or it is not known). */
  cgroup: string | null;
}

/** A process named for good: its pid and its /proc start time. */
export interface ProcessId {
  pid: number;
  start: number;
}

/** Who owns running jobs: a server process, named by pid and start time within one boot. */
export interface Owner {
  owner_pid: number | null;
  owner_start: number | null;
  boot_id: string | null;
}

/** How a job ended, as written into its row. */
export interface JobEnd {
  code: number | null;
  signal: string | null;
  endedMs: number;
  lost: boolean;
}

// Loaded when a store is opened, not with the program: a server answers its first request sooner.
const loadDatabase = () => createRequire(import.meta.url)("libsql") as typeof Database;

/** The state database cannot be opened or used; the message names the file. */
export class StoreError extends Error {}

const COLUMNS =
  "job_id, command, name, cwd, pty, status, started_ms, completed_ms, exit_code, signal, timed_out, lost, kill_requested, pid, pid_start, shepherd_pid, shepherd_start, owner_pid, owner_start, keep, deadline_ms, boot_id, kill_deadline_ms, cgroup";

/** A prepared statement, as used here. */
interface Statement {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

// Refuses, with a message people can act on, a database this user cannot open for reading and writing.
function checkAccess(stateDir: string, path: string): void {
  const problem = (target: string, mode: number) => {
    try {
      accessSync(target, mode);
      return false;
    } catch {
      return true;
    }
  };
  // SQLite writes its -wal and -shm files beside the database.
  if (problem(stateDir, constants.R_OK | constants.W_OK | constants.X_OK)) {
    throw new StoreError(
      `cannot use the state dir ${stateDir}: permission denied (this user needs to read and write it)`,
    );
  }
  const info = statSync(path, { throwIfNoEntry: false });
  if (info?.isDirectory()) throw new StoreError(`cannot use the state database ${path}: it is a directory`);
  if (info && problem(path, constants.R_OK | constants.W_OK)) {
    throw new StoreError(
      `cannot use the state database ${path}: permission denied (this user needs to read and write it)`,
    );
  }
}

// Rows from libsql's get() carry an extra `_metadata` key: keep just the columns.
function clean(row: unknown): JobRow | undefined {
  if (!row) return undefined;
  const { _metadata, ...rest } = row as JobRow & { _metadata?: unknown };
  return rest as JobRow;
}

/**
 * Job records in SQLite (WAL mode) at `STATE_DIR/state.db`, shared by every server and command
 * line on the same state dir. Each write is one statement (SQLite makes it atomic and safe from a
 * SIGKILL at any moment); compare-and-set conditions in the statements settle races between servers.
 */
export class JobStore {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly sql;

  constructor(stateDir: string) {
    this.path = join(stateDir, "state.db");
    const unusable = (err: unknown) =>
      new StoreError(`cannot use the state dir ${stateDir}: ${(err as Error).message}`);
    try {
      ensureDir(stateDir);
    } catch (err) {
      throw unusable(err);
    }
    checkAccess(stateDir, this.path);
    try {
      ensureDir(join(stateDir, "jobs"));
    } catch (err) {
      throw unusable(err);
    }
    try {
      this.db = new (loadDatabase())(this.path, { timeout: 10_000 });
      this.db.exec("PRAGMA busy_timeout = 10000");
      this.db.exec("PRAGMA journal_mode = WAL");
      // In WAL mode, NORMAL never corrupts and survives any process crash; only a power cut may
      // lose the last commits.
      this.db.exec("PRAGMA synchronous = NORMAL");
      this.migrate();
      const check = this.db.prepare("PRAGMA quick_check").get() as { quick_check?: string } | undefined;
      if (check?.quick_check !== "ok") throw new Error(`integrity check failed: ${check?.quick_check}`);
    } catch (err) {
      throw new StoreError(
        `cannot use the state database ${this.path}: ${(err as Error).message} (move it away to start afresh)`,
      );
    }
    const all = `SELECT ${COLUMNS} FROM jobs`;
    const prep = (text: string) => this.db.prepare(text) as unknown as Statement;
    this.sql = {
      insert: prep(
        `INSERT INTO jobs (${COLUMNS}) VALUES (@job_id, @command, @name, @cwd, @pty, @status, @started_ms, @completed_ms, @exit_code, @signal, @timed_out, @lost, @kill_requested, @pid, @pid_start, @shepherd_pid, @shepherd_start, @owner_pid, @owner_start, @keep, @deadline_ms, @boot_id, @kill_deadline_ms, @cgroup)`,
      ),
      get: prep(`${all} WHERE job_id = ?`),
      prefix: prep(`${all} WHERE job_id >= ? AND job_id < ? ORDER BY job_id LIMIT 10`),
      started: prep(
        "UPDATE jobs SET pid = ?, pid_start = ?, shepherd_pid = ?, shepherd_start = ?, cgroup = ? WHERE job_id = ?",
      ),
      finish: prep(
        `UPDATE jobs SET
           status = CASE WHEN kill_requested THEN 'killed' WHEN @lost THEN 'failed'
                         WHEN @code = 0 THEN 'completed' ELSE 'failed' END,
           exit_code = @code, signal = @signal, completed_ms = @ended, lost = @lost
         WHERE job_id = @id AND status = 'running'`,
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
      runningOf: prep(`${all} WHERE status = 'running' AND owner_pid IS ? AND owner_start IS ? AND boot_id IS ?`),
      count: prep("SELECT count(*) AS n FROM jobs"),
      countStatus: prep("SELECT count(*) AS n FROM jobs WHERE status = ?"),
      list: prep(`${all} ORDER BY started_ms DESC, rowid DESC LIMIT ?`),
      listStatus: prep(`${all} WHERE status = ? ORDER BY started_ms DESC, rowid DESC LIMIT ?`),
      expired: prep(
        `SELECT job_id FROM jobs WHERE status != 'running' AND completed_ms < ?
         UNION SELECT job_id FROM (SELECT job_id FROM jobs WHERE status != 'running'
                                   ORDER BY completed_ms DESC, rowid DESC LIMIT -1 OFFSET ?)`,
      ),
      finished: prep("SELECT job_id FROM jobs WHERE status != 'running'"),
      delete: prep("DELETE FROM jobs WHERE job_id = ? AND status != 'running'"),
      discard: prep("DELETE FROM jobs WHERE job_id = ?"),
      signature: prep("SELECT count(*) AS n, max(rowid) AS last FROM jobs"),
      has: prep("SELECT 1 AS y FROM jobs WHERE job_id = ?"),
    };
  }

  // Applies the schema steps this database lacks, one server at a time.
  private migrate(): void {
    const version = () => (this.db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
    if (version() > MIGRATIONS.length) {
      throw new Error(`it was made by a newer mcp-bg-jobs (schema ${version()}; this one knows ${MIGRATIONS.length})`);
    }
    if (version() === MIGRATIONS.length) return;
    this.db.exec("BEGIN IMMEDIATE");
    try {
      for (let v = version(); v < MIGRATIONS.length; v++) {
        this.db.exec(MIGRATIONS[v] as string);
        this.db.exec(`PRAGMA user_version = ${v + 1}`);
      }
      this.db.exec("COMMIT");
    } catch (err) {
      this.db.exec("ROLLBACK");
      throw err;
    }
  }

  // Runs a statement; a database failure becomes a StoreError naming the file.
  private run<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw new StoreError(`state database ${this.path}: ${what} failed: ${(err as Error).message}`);
    }
  }

  /** Adds a job's row. */
  insert(row: JobRow): void {
    this.run("insert", () => this.sql.insert.run(row));
  }

  /** A job's row, or undefined. */
  get(id: string): JobRow | undefined {
    return this.run("read", () => clean(this.sql.get.get(id)));
  }

  /** Rows whose id starts with `prefix` (at most 10). */
  withPrefix(prefix: string): JobRow[] {
    const upper = `${prefix}\u{10ffff}`;
    return this.run("read", () => this.sql.prefix.all(prefix, upper).map((r) => clean(r) as JobRow));
  }

  /** Records the processes (and cgroup, if any) of a job that has started. */
  setStarted(id: string, job: ProcessId, shepherd: ProcessId, cgroup: string | null): void {
    this.run("update", () => this.sql.started.run(job.pid, job.start, shepherd.pid, shepherd.start, cgroup, id));
  }

  /**
   * Records a running job's end (a no-op if someone already did: the first writer wins) and returns
   * its row. The status is `killed` if a kill was asked for, whoever asked.
   */
  finish(id: string, end: JobEnd): JobRow | undefined {
    return this.run("update", () => {
      this.sql.finish.run({ id, code: end.code, signal: end.signal, ended: end.endedMs, lost: end.lost ? 1 : 0 });
      return this.get(id);
    });
  }

  /**
   * Marks a running job as being killed (by a timeout if `timedOut`), escalating to SIGKILL at
   * `deadlineMs` (the earliest of all kills asked for), before any signal is sent.
   */
  requestKill(id: string, timedOut: boolean, deadlineMs: number): void {
    this.run("update", () => this.sql.kill.run({ id, timedOut: timedOut ? 1 : 0, deadline: deadlineMs }));
  }

  /** Takes over a running job from `from` (its owner as recorded); false if someone else did first. */
  claim(id: string, from: { pid: number | null; start: number | null }, to: ProcessId): boolean {
    return this.run("update", () => this.sql.claim.run(to.pid, to.start, id, from.pid, from.start).changes === 1);
  }

  /** The owners of running jobs (an owner is a process of one boot). */
  owners(): Owner[] {
    return this.run("read", () => this.sql.owners.all() as Owner[]);
  }

  /** Running jobs of one owner. */
  runningOf(owner: Owner): JobRow[] {
    return this.run("read", () =>
      this.sql.runningOf.all(owner.owner_pid, owner.owner_start, owner.boot_id).map((r) => clean(r) as JobRow),
    );
  }

  /** Jobs newest first, optionally of one status, and how many match in all. */
  list(status: string | undefined, limit: number): { rows: JobRow[]; total: number } {
    return this.run("read", () => {
      const rows = status ? this.sql.listStatus.all(status, limit) : this.sql.list.all(limit);
      const count = (status ? this.sql.countStatus.get(status) : this.sql.count.get()) as { n: number };
      return { rows: rows.map((r) => clean(r) as JobRow), total: count.n };
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

  /** Whether a job has a row. */
  has(id: string): boolean {
    return this.run("read", () => this.sql.has.get(id) !== undefined);
  }

  /** Deletes a finished job's row; false if it is running or gone. */
  delete(id: string): boolean {
    return this.run("delete", () => this.sql.delete.run(id).changes === 1);
  }

  /** Deletes a job's row whatever its status (a start that failed). */
  discard(id: string): void {
    this.run("delete", () => this.sql.discard.run(id));
  }

  /** Closes the database. */
  close(): void {
    try {
      this.db.close();
    } catch {}
  }
}
