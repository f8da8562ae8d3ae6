import type Database from "libsql";
import type { Owner } from "../domain/job-state.js";
import { bestEffort } from "../log.js";
import { openDatabase, StoreError } from "./open-database.js";

/** Where a task stands (MCP's `input_required` is never used here). */
export type TaskStatus = "working" | "completed" | "failed" | "cancelled";

/** A task as stored: a tool call run in the background, and its answer once there is one. */
export interface TaskRecord {
  taskId: string;
  /** The connection that created it: tasks/list shows a connection its own tasks only. */
  session: string;
  tool: string;
  /** The call's arguments, as the client sent them. */
  arguments: Record<string, unknown>;
  /** The job it waits on, once known. */
  jobId: string | null;
  status: TaskStatus;
  statusMessage: string | null;
  /** The tool result (completed) or the JSON-RPC error (failed), as JSON. */
  result: Record<string, unknown> | null;
  createdMs: number;
  updatedMs: number;
  ttlMs: number;
  owner: Owner | null;
}

interface Row {
  task_id: string;
  session: string;
  tool: string;
  arguments: string;
  job_id: string | null;
  status: TaskStatus;
  status_message: string | null;
  result: string | null;
  created_ms: number;
  updated_ms: number;
  ttl_ms: number;
  owner_pid: number | null;
  owner_start: number | null;
  boot_id: string | null;
}

interface Statement {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

const toRecord = (r: Row): TaskRecord => ({
  taskId: r.task_id,
  session: r.session,
  tool: r.tool,
  arguments: JSON.parse(r.arguments) as Record<string, unknown>,
  jobId: r.job_id,
  status: r.status,
  statusMessage: r.status_message,
  result: r.result === null ? null : (JSON.parse(r.result) as Record<string, unknown>),
  createdMs: r.created_ms,
  updatedMs: r.updated_ms,
  ttlMs: r.ttl_ms,
  owner: r.owner_pid === null ? null : { pid: r.owner_pid, start: r.owner_start ?? 0, bootId: r.boot_id },
});

/**
 * Task records in the state database (its own connection to `STATE_DIR/state.db`). Each write is
 * one statement; a task leaves `working` once only (compare-and-set), so an answer and a
 * cancellation, or two servers, cannot both settle it.
 */
export class TaskStore {
  private readonly db: Database.Database;
  private readonly sql;

  constructor(stateDir: string) {
    this.db = openDatabase(stateDir).db;
    const prep = (text: string) => this.db.prepare(text) as unknown as Statement;
    this.sql = {
      insert: prep(
        `INSERT INTO tasks (task_id, session, tool, arguments, job_id, status, status_message, created_ms, updated_ms,
           ttl_ms, owner_pid, owner_start, boot_id)
         VALUES (@task_id, @session, @tool, @arguments, @job_id, 'working', @status_message, @now, @now,
           @ttl_ms, @owner_pid, @owner_start, @boot_id)`,
      ),
      get: prep("SELECT * FROM tasks WHERE task_id = ?"),
      page: prep(
        `SELECT * FROM tasks WHERE session = @session AND (created_ms < @ms OR (created_ms = @ms AND task_id < @id))
         ORDER BY created_ms DESC, task_id DESC LIMIT @limit`,
      ),
      job: prep(
        "UPDATE tasks SET job_id = ?, status_message = ?, updated_ms = ? WHERE task_id = ? AND status = 'working'",
      ),
      settle: prep(
        `UPDATE tasks SET status = @status, status_message = @message, result = @result, updated_ms = @now
         WHERE task_id = @id AND status = 'working'`,
      ),
      owners: prep("SELECT DISTINCT owner_pid, owner_start, boot_id FROM tasks WHERE status = 'working'"),
      claim: prep(
        `UPDATE tasks SET owner_pid = @pid, owner_start = @start, boot_id = @boot
         WHERE status = 'working' AND owner_pid IS @old_pid AND owner_start IS @old_start AND boot_id IS @old_boot`,
      ),
      ownedBy: prep("SELECT * FROM tasks WHERE status = 'working' AND owner_pid = ? AND owner_start = ?"),
      // A result is kept its ttl from creation, and at least a minute after it came (a long wait).
      expired: prep(
        "DELETE FROM tasks WHERE status != 'working' AND created_ms + ttl_ms < @now AND updated_ms + 60000 < @now",
      ),
    };
  }

  private run<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw new StoreError(`state database: task ${what} failed: ${(err as Error).message}`);
    }
  }

  /** Records a new working task. */
  insert(t: Omit<TaskRecord, "status" | "result" | "updatedMs">): void {
    this.run("insert", () =>
      this.sql.insert.run({
        task_id: t.taskId,
        session: t.session,
        tool: t.tool,
        arguments: JSON.stringify(t.arguments),
        job_id: t.jobId,
        status_message: t.statusMessage,
        now: t.createdMs,
        ttl_ms: t.ttlMs,
        owner_pid: t.owner?.pid ?? null,
        owner_start: t.owner?.start ?? null,
        boot_id: t.owner?.bootId ?? null,
      }),
    );
  }

  get(id: string): TaskRecord | undefined {
    const row = this.run("read", () => this.sql.get.get(id)) as Row | undefined;
    return row && toRecord(row);
  }

  /** A session's tasks, newest first, after (older than) the given one. */
  page(session: string, after: { ms: number; id: string } | undefined, limit: number): TaskRecord[] {
    const at = after ?? { ms: Number.MAX_SAFE_INTEGER, id: "" };
    const rows = this.run("list", () => this.sql.page.all({ session, ms: at.ms, id: at.id, limit })) as Row[];
    return rows.map(toRecord);
  }

  /** Notes the job a working task waits on. */
  setJob(id: string, jobId: string, message: string, now: number): void {
    this.run("update", () => this.sql.job.run(jobId, message, now, id));
  }

  /** Settles a working task; false if it was settled already. */
  settle(
    id: string,
    status: Exclude<TaskStatus, "working">,
    message: string,
    result: object | null,
    now: number,
  ): boolean {
    return this.run(
      "update",
      () => this.sql.settle.run({ id, status, message, result: result && JSON.stringify(result), now }).changes === 1,
    );
  }

  /** The owners of working tasks. */
  owners(): Owner[] {
    const rows = this.run("read", () => this.sql.owners.all()) as Row[];
    return rows.map((r) => ({ pid: r.owner_pid ?? 0, start: r.owner_start ?? 0, bootId: r.boot_id }));
  }

  /** Takes over the working tasks of a (dead) owner; returns them. */
  claim(from: Owner, to: Owner): TaskRecord[] {
    return this.run("claim", () => {
      const params = { pid: to.pid, start: to.start, boot: to.bootId, old_pid: from.pid, old_start: from.start };
      if (this.sql.claim.run({ ...params, old_boot: from.bootId }).changes === 0) return [];
      return (this.sql.ownedBy.all(to.pid, to.start) as Row[]).map(toRecord);
    });
  }

  /** Drops settled tasks whose time to live has passed; returns how many. */
  dropExpired(now: number): number {
    return this.run("cleanup", () => this.sql.expired.run({ now }).changes);
  }

  close(): void {
    bestEffort("closing the tasks' database", () => this.db.close());
  }
}
