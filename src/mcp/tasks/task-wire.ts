import type { TaskV1 } from "@modelcontextprotocol/ext-tasks/core/v1";
import type { CreateTaskResultV2, DetailedTaskV2, ErrorV2 } from "@modelcontextprotocol/ext-tasks/core/v2";
import { ProtocolError, ProtocolErrorCode } from "@modelcontextprotocol/server";
import type { TaskRecord } from "../../engine/index.js";

// The task wire shapes of both generations, from a stored record. Only the types come from
// @modelcontextprotocol/ext-tasks (a dev dependency): nothing of it is loaded at run time.

/** The extension's name (2026-07-28 and later). */
export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";
/** How often a client is asked to poll tasks/get, in ms (a job's end is seen at once). */
export const POLL_MS = 1000;
/** How long a task is kept from its creation when the client asks nothing else: a day. */
export const DEFAULT_TTL_MS = 24 * 3600_000;
const MIN_TTL_MS = 60_000;
const MAX_TTL_MS = 7 * 24 * 3600_000;

/** The time to live a client asked for (2025-11-25 `task.ttl`), within what is kept. */
export const ttlOf = (asked: unknown) =>
  typeof asked === "number" && Number.isFinite(asked)
    ? Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, Math.round(asked)))
    : DEFAULT_TTL_MS;

const iso = (ms: number) => new Date(ms).toISOString();
const message = (t: TaskRecord) => (t.statusMessage === null ? {} : { statusMessage: t.statusMessage });

/** A task as 2025-11-25 shows it. */
export function taskV1(t: TaskRecord): TaskV1 {
  return {
    taskId: t.taskId,
    status: t.status,
    ...message(t),
    createdAt: iso(t.createdMs),
    lastUpdatedAt: iso(t.updatedMs),
    ttl: t.ttlMs,
    pollInterval: POLL_MS,
  };
}

/** A task as the 2026-07-28 extension shows it: with its result or error once settled. */
export function taskV2(t: TaskRecord): DetailedTaskV2 {
  const base = {
    taskId: t.taskId,
    ...message(t),
    createdAt: iso(t.createdMs),
    lastUpdatedAt: iso(t.updatedMs),
    ttlMs: t.ttlMs,
    pollIntervalMs: POLL_MS,
  };
  switch (t.status) {
    case "completed":
      return { ...base, status: "completed", result: { resultType: "complete", ...t.result } };
    case "failed":
      return { ...base, status: "failed", error: (t.result ?? internal("no error recorded")) as ErrorV2 };
    default:
      return { ...base, status: t.status };
  }
}

/** What a task-creating tools/call answers, per generation. */
export function created(t: TaskRecord, modern: boolean): Record<string, unknown> {
  if (!modern) return { task: taskV1(t) };
  const { status, ...rest } = taskV2(t) as DetailedTaskV2 & Record<string, unknown>;
  const { result: _r, error: _e, inputRequests: _i, ...task } = rest;
  return { ...task, status, resultType: "task" } satisfies CreateTaskResultV2;
}

/** A JSON-RPC error, as a failed task records it. */
export const internal = (text: string) => ({ code: ProtocolErrorCode.InternalError, message: text });

/** The error for a task id nobody knows (never created, or dropped after its time to live). */
export const unknownTask = (id: string) =>
  new ProtocolError(ProtocolErrorCode.InvalidParams, `Task ${id} not found (unknown, or dropped after its ttl)`);

/** Whether a 2026-07-28 request's client capabilities declare the tasks extension. */
export function declaresTasksIn(capabilities: unknown): boolean {
  const ext = (capabilities as { extensions?: Record<string, unknown> } | undefined)?.extensions?.[TASKS_EXTENSION];
  return typeof ext === "object" && ext !== null;
}

/** Whether a 2025-era connection speaks a protocol with tasks (2025-11-25 or later). */
export const knowsTasks = (version: string | undefined) => version !== undefined && version >= "2025-11-25";
