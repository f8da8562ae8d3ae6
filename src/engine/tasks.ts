import type { Owner } from "../domain/job-state.js";
import { log } from "../log.js";
import { recordedAlive, selfRef } from "../process/proc.js";
import { type TaskRecord, type TaskStatus, TaskStore } from "../store/task-store.js";

export type { TaskRecord, TaskStatus } from "../store/task-store.js";

/**
 * MCP tasks kept in the state database beside the jobs, so that they outlive the server that
 * created them: a server runs the tasks it created, and takes over the working tasks of a server
 * that died (as it takes over its jobs). The database (its own connection) is opened on first use;
 * the server that uses it closes it when it stops.
 */
export class JobTasks {
  private opened: TaskStore | undefined;
  private closed = false;

  /** This server: it runs the tasks it creates and those it takes over. */
  private readonly self: Owner = selfRef();

  constructor(private readonly stateDir: string) {}

  private get store(): TaskStore {
    if (this.closed) throw new Error("the state database is closed");
    this.opened ??= new TaskStore(this.stateDir);
    return this.opened;
  }

  /** Records a new working task, run by this server. */
  create(
    t: Pick<TaskRecord, "taskId" | "session" | "tool" | "arguments" | "jobId" | "statusMessage" | "ttlMs">,
  ): TaskRecord {
    const now = Date.now();
    this.store.insert({ ...t, createdMs: now, owner: this.self });
    return this.get(t.taskId) as TaskRecord;
  }

  get(id: string): TaskRecord | undefined {
    return this.store.get(id);
  }

  /** A session's tasks, newest first, after the given one. */
  page(session: string, after: { ms: number; id: string } | undefined, limit: number): TaskRecord[] {
    return this.store.page(session, after, limit);
  }

  /** Notes the job a working task waits on, and says so in its status message. */
  setJob(id: string, jobId: string, message: string): void {
    this.store.setJob(id, jobId, message, Date.now());
  }

  /** Settles a working task; false if it had been settled already (cancelled, or by another server). */
  settle(id: string, status: Exclude<TaskStatus, "working">, message: string, result: object | null): boolean {
    return this.store.settle(id, status, message, result, Date.now());
  }

  /**
   * Takes over the working tasks of servers that died (and drops settled tasks past their time to
   * live); returns the tasks this server now runs and may not be running yet.
   */
  adopt(): TaskRecord[] {
    const self = this.self;
    if (this.closed) return [];
    try {
      this.store.dropExpired(Date.now());
      const adopted: TaskRecord[] = [];
      for (const owner of this.store.owners()) {
        const mine = owner.pid === self.pid && owner.start === self.start && owner.bootId === self.bootId;
        const alive = recordedAlive(owner, owner.bootId);
        // This server's own tasks run here already: only a dead server's are taken (and re-read).
        if (!mine && !alive) adopted.push(...this.store.claim(owner, self));
      }
      return adopted;
    } catch (err) {
      log("warn", "taking over tasks", err);
      return [];
    }
  }

  close(): void {
    this.closed = true;
    this.opened?.close();
  }
}
