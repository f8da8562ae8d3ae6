import { randomUUID } from "node:crypto";
import { type CallToolResult, McpServer } from "@modelcontextprotocol/server";
import { DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS } from "../../domain/defaults.js";
import type { JobRecord } from "../../domain/record.js";
import type { JobsForTools, StartOptions } from "../../engine/index.js";
import { JobTasks, type TaskRecord } from "../../engine/index.js";
import { bestEffort, log } from "../../log.js";
import { VERSION } from "../../version.js";
import { registerExecuteCommandTool, startWaits } from "../tools/execute-command.js";
import { registerWaitForJobTool } from "../tools/wait-for-job.js";
import { callTool } from "./sdk-seams.js";
import { doneMessage, text, workingMessage } from "./task-messages.js";
import { internal, unknownTask } from "./task-wire.js";

/** The tools that run as tasks (execute_command only when it waits, in 2026-07-28). */
export const TASK_TOOLS: readonly string[] = ["wait_for_job", "execute_command"];
/** How often working tasks of servers that died are looked for (and cancellations by another server). */
const ADOPT_MS = 5000;
/** How often tasks that listeners wait for, and that another server runs, are looked at. */
const WATCH_MS = 1000;
/** Tasks one server runs at once (each holds a wait and its own small tools server). */
const MAX_RUNNING = 1000;

/**
 * Runs tasks for every connection of this server: a tool call answered later, whose wait is not
 * bounded by the call timeout (only by the tool's own maximum, MAX_WAIT_SECONDS). The call runs
 * through the tools' own code (a server of its own with the same two tools), so a task's result
 * is what the plain call would answer. Records live in the state database: a task outlives this
 * server, and a wait under way when a server stopped is taken up again by the next one (for the
 * time it had left). Cancelling a task stops its wait; the job keeps running.
 */
export class TaskRuntime {
  readonly store: JobTasks;
  private readonly running = new Map<string, AbortController>();
  private readonly listeners = new Set<(task: TaskRecord) => void>();
  private readonly timer: NodeJS.Timeout;
  private stopped = false;
  /** Tasks listeners wait for (how many listeners each), looked at every WATCH_MS. */
  private readonly watched = new Map<string, number>();
  private watchTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly jobs: JobsForTools,
    stateDir: string,
  ) {
    this.store = new JobTasks(stateDir);
    this.timer = setInterval(() => this.adopt(), ADOPT_MS);
    this.timer.unref();
    setTimeout(() => this.adopt(), 200).unref();
  }

  /** Calls `fn` whenever a task settles; returns what stops that. */
  onSettled(fn: (task: TaskRecord) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Creates a task for a tool call and starts it; refused when MAX_RUNNING are under way here. The
   * task of an execute_command has its job's id as its id (the job gets it when it starts): a host
   * that shows the model only the task id (Claude Code) shows one that the job's tools take.
   * Resolves once that job has started (or the start failed: the task has settled), so that the id
   * is a job's by the time anyone sees it.
   */
  async create(session: string, tool: string, args: Record<string, unknown>, ttlMs: number): Promise<TaskRecord> {
    if (this.running.size >= MAX_RUNNING)
      throw internal(`Too many tasks under way here (${MAX_RUNNING}): wait for some to settle, or cancel some`);
    const jobId = tool === "wait_for_job" ? (text(args.job_id) ?? null) : null;
    let started: () => void = () => {};
    const start = new Promise<void>((resolve) => (started = resolve));
    const task = this.store.create({
      taskId: randomUUID(),
      session,
      tool,
      arguments: args,
      jobId,
      statusMessage: workingMessage(tool, args, jobId),
      ttlMs,
    });
    this.run(task, false, started);
    if (tool === "execute_command") await start;
    return this.get(task.taskId);
  }

  /** A task by id, or the error for an unknown one. */
  get(id: string): TaskRecord {
    const task = this.store.get(id);
    if (!task) throw unknownTask(id);
    return task;
  }

  /** The task once it has settled (or the signal aborted). */
  async settled(id: string, signal: AbortSignal): Promise<TaskRecord> {
    for (;;) {
      const task = this.get(id);
      if (task.status !== "working" || signal.aborted) return task;
      // Settled here (told at once), or by another server (seen within WATCH_MS).
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          stop();
          unwatch();
          signal.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, ADOPT_MS);
        const stop = this.onSettled((t) => t.taskId === id && done());
        const unwatch = this.watch([id]);
        signal.addEventListener("abort", done);
      });
    }
  }

  /**
   * Looks at these tasks every WATCH_MS until each has settled, and tells the onSettled listeners
   * when one has: a task another server runs (or cancelled) is settled in the database only. Returns
   * what stops watching them.
   */
  watch(ids: readonly string[]): () => void {
    for (const id of ids) this.watched.set(id, (this.watched.get(id) ?? 0) + 1);
    if (!this.watchTimer && this.watched.size > 0) {
      this.watchTimer = setInterval(() => this.lookWatched(), WATCH_MS);
      this.watchTimer.unref();
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const id of ids) {
        const n = (this.watched.get(id) ?? 0) - 1;
        if (n > 0) this.watched.set(id, n);
        else this.watched.delete(id);
      }
      this.idleWatch();
    };
  }

  private lookWatched(): void {
    for (const id of [...this.watched.keys()]) {
      // This server's own tasks are told of when they settle here.
      if (this.running.has(id)) continue;
      bestEffort("looking at a task another server runs", () => {
        const task = this.store.get(id);
        if (!task) this.watched.delete(id);
        else if (task.status !== "working") this.settledNow(id);
      });
    }
    this.idleWatch();
  }

  private idleWatch(): void {
    if (this.watched.size > 0 || !this.watchTimer) return;
    clearInterval(this.watchTimer);
    this.watchTimer = undefined;
  }

  /** Cancels a working task: its wait stops, its job keeps running. Returns the task as it now is. */
  cancel(id: string): TaskRecord {
    const task = this.get(id);
    if (task.status !== "working") return task;
    const message = task.jobId
      ? `Cancelled: stopped waiting; job ${task.jobId} keeps running (kill_job stops it)`
      : "Cancelled: stopped waiting; a job it started keeps running (list_jobs shows it)";
    // Settled meanwhile (it ended, or another server cancelled it): as it is, told once already.
    if (!this.store.settle(id, "cancelled", message, null)) return this.get(id);
    this.running.get(id)?.abort();
    return this.settledNow(id);
  }

  /** Stops running tasks without settling them (the next server takes them up) and closes the store. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearInterval(this.watchTimer);
    for (const abort of this.running.values()) abort.abort();
    this.store.close();
  }

  private settledNow(id: string): TaskRecord {
    this.watched.delete(id);
    const task = this.get(id);
    for (const fn of [...this.listeners]) {
      try {
        fn(task);
      } catch (err) {
        log("warn", "task listener", err);
      }
    }
    return task;
  }

  // Takes up the working tasks of servers that died, and stops waits another server cancelled.
  private adopt(): void {
    if (this.stopped) return;
    for (const task of this.store.adopt()) if (!this.running.has(task.taskId)) this.run(task, true);
    for (const [id, abort] of this.running) {
      bestEffort("looking for a cancel from another server", () => {
        if (this.store.get(id)?.status !== "working") {
          abort.abort();
          this.settledNow(id);
        }
      });
    }
  }

  private run(task: TaskRecord, resumed: boolean, started: () => void = () => {}): void {
    const abort = new AbortController();
    this.running.set(task.taskId, abort);
    const settle = (status: "completed" | "failed", message: string, result: object) => {
      started();
      // A cancelled wait, or one this server stopped at its end, leaves the record as it is.
      if (abort.signal.aborted || this.stopped) return;
      // Lost to a cancel by another server (seen here at the next look): its record goes out now.
      this.store.settle(task.taskId, status, message, result);
      this.settledNow(task.taskId);
    };
    this.execute(task, resumed, abort.signal, started)
      .then(
        (result) => settle("completed", doneMessage(result, this.store.get(task.taskId)?.jobId ?? null), result),
        (err: { code?: unknown; message?: string }) => {
          const code = typeof err?.code === "number" ? err.code : internal("").code;
          const text = err?.message ?? String(err);
          settle("failed", `The call failed: ${text}`, { code, message: text });
        },
      )
      .catch((err) => log("warn", `task ${task.taskId}`, err))
      .finally(() => {
        started();
        this.running.delete(task.taskId);
      });
  }

  // The call, through the tools' own code, with a job engine whose waits may last as long as the
  // tool allows, and that notes the job execute_command starts (or, taken up again, started).
  private async execute(
    task: TaskRecord,
    resumed: boolean,
    signal: AbortSignal,
    started: () => void,
  ): Promise<CallToolResult> {
    const args = { ...task.arguments };
    const key = task.tool === "wait_for_job" ? "timeout_seconds" : "wait_seconds";
    const waits = task.tool === "wait_for_job" || startWaits(args);
    if (resumed && waits) {
      const asked = typeof args[key] === "number" ? (args[key] as number) : DEFAULT_WAIT_SECONDS;
      args[key] = Math.max(0.001, asked - (Date.now() - task.createdMs) / 1000);
    }
    let start = async (opts: StartOptions): Promise<JobRecord> => {
      // The job takes the task's id (see create).
      const job = await this.jobs.start({ ...opts, id: task.taskId });
      this.store.setJob(task.taskId, job.job_id, workingMessage(task.tool, args, job.job_id));
      started();
      return job;
    };
    if (resumed && task.tool === "execute_command") {
      const jobId = task.jobId;
      if (!jobId) throw internal("The server stopped before the job started: list_jobs shows whether it did");
      start = async () => this.jobs.lookup(jobId).record();
    }
    const view = Object.create(this.jobs, {
      callTimeoutMs: { value: MAX_WAIT_SECONDS * 1000 },
      start: { value: start },
    }) as JobsForTools;
    const tools = new McpServer({ name: "mcp-bg-jobs-tasks", version: VERSION }, { capabilities: { tools: {} } });
    registerExecuteCommandTool(tools, view);
    registerWaitForJobTool(tools, view);
    if (!TASK_TOOLS.includes(task.tool)) throw internal(`${task.tool} does not run as a task`);
    return callTool(tools, task.tool, args, signal);
  }
}
