import {
  CLIENT_CAPABILITIES_META_KEY,
  type JSONRPCMessage,
  ProtocolErrorCode,
  SUBSCRIPTION_ID_META_KEY,
} from "@modelcontextprotocol/server";
import { bestEffort, quietly } from "../../log.js";
import { ListenCountingTransport } from "../listen-count.js";
import type { TaskRuntime } from "./task-runtime.js";
import { declaresTasksIn, TASKS_EXTENSION, taskV2 } from "./task-wire.js";

/** Task ids one listen may ask for. */
const MAX_IDS = 100;
const KEEP_ALIVE_MS = 15_000;

type Id = string | number;
interface ListenRequest {
  id?: Id;
  method?: string;
  params?: { notifications?: { taskIds?: unknown }; _meta?: Record<string, unknown> };
}

/** A 2026-07-28 `subscriptions/listen` that asks for task notifications, or undefined. */
function taskListen(message: unknown): (ListenRequest & { id: Id; ids: unknown[] }) | undefined {
  const m = message as ListenRequest | null;
  const ids = m?.params?.notifications?.taskIds;
  if (m?.method !== "subscriptions/listen" || m.id === undefined || !Array.isArray(ids)) return undefined;
  return { ...m, id: m.id, ids };
}

/**
 * Serves one listen for `notifications/tasks` (the SDK's listen streams know nothing of task ids):
 * acknowledges the known task ids it was asked for, sends each task's state as it settles (at once
 * for one settled already), and ends the stream gracefully once all have settled. A listen that
 * also asks for other notifications gets the task ids only (its acknowledgement says so); other
 * notifications need a listen of their own. `write` sends a message; `end` is called once, after
 * the last. Returns what ends it early (and whether it has ended), or the error to answer instead.
 */
function serveListen(
  runtime: TaskRuntime,
  req: ListenRequest & { id: Id; ids: unknown[] },
  write: (message: JSONRPCMessage) => void,
  end: () => void,
): { stop: () => void; ended: () => boolean } | { error: JSONRPCMessage } {
  if (!declaresTasksIn(req.params?._meta?.[CLIENT_CAPABILITIES_META_KEY])) {
    const requiredCapabilities = { extensions: { [TASKS_EXTENSION]: {} } };
    const error = {
      code: ProtocolErrorCode.MissingRequiredClientCapability,
      message: "Missing required client capability",
      data: { requiredCapabilities },
    };
    return { error: { jsonrpc: "2.0", id: req.id, error } };
  }
  const stamp = { [SUBSCRIPTION_ID_META_KEY]: req.id };
  const known = [...new Set(req.ids.filter((id): id is string => typeof id === "string"))]
    .slice(0, MAX_IDS)
    .filter((id) => runtime.store.get(id) !== undefined);
  const open = new Set(known);
  let ended = false;
  const finish = (graceful: boolean) => {
    if (ended) return;
    ended = true;
    unsubscribe();
    unwatch();
    if (graceful) write({ jsonrpc: "2.0", id: req.id, result: { resultType: "complete", _meta: stamp } });
    end();
  };
  const send = (taskId: string) => {
    const task = runtime.store.get(taskId);
    if (!task || task.status === "working" || !open.delete(taskId)) return;
    write({ jsonrpc: "2.0", method: "notifications/tasks", params: { ...taskV2(task), _meta: stamp } });
    if (open.size === 0) finish(true);
  };
  const unsubscribe = runtime.onSettled((task) => send(task.taskId));
  // Tasks another server runs settle in the database only: looked at until they have.
  const unwatch = runtime.watch([...open]);
  write({
    jsonrpc: "2.0",
    method: "notifications/subscriptions/acknowledged",
    params: { notifications: { taskIds: known }, _meta: stamp },
  });
  for (const id of known) send(id);
  if (open.size === 0) finish(true);
  return { stop: () => finish(false), ended: () => ended };
}

/**
 * Over HTTP: answers a 2026-07-28 listen that asks for task notifications, as an event stream; any
 * other request is left to the SDK (undefined).
 */
export async function taskListenResponse(runtime: TaskRuntime, request: Request): Promise<Response | undefined> {
  if (request.method !== "POST" || request.headers.get("mcp-method") !== "subscriptions/listen") return undefined;
  const req = taskListen(
    await request
      .clone()
      .json()
      .catch(() => undefined),
  );
  if (!req) return undefined;
  const encoder = new TextEncoder();
  let timer: NodeJS.Timeout | undefined;
  let served: ReturnType<typeof serveListen> | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const frame = (text: string) => {
        bestEffort("a task listen's event (its stream may be gone)", () => controller.enqueue(encoder.encode(text)));
      };
      served = serveListen(
        runtime,
        req,
        (m) => frame(`event: message\ndata: ${JSON.stringify(m)}\n\n`),
        () => {
          clearInterval(timer);
          bestEffort("ending a task listen's stream", () => controller.close());
        },
      );
      if ("error" in served || served.ended()) return;
      timer = setInterval(() => frame(": keepalive\n\n"), KEEP_ALIVE_MS);
      timer.unref();
      request.signal.addEventListener("abort", () => stop(), { once: true });
    },
    cancel: () => {
      stop();
    },
  });
  const stop = () => {
    if (served && "stop" in served) served.stop();
  };
  if (served && "error" in served) return Response.json(served.error, { status: 400 });
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
    },
  });
}

/**
 * Stdin/stdout as ListenCountingTransport, also serving 2026-07-28 listens that ask for task
 * notifications (they never reach the SDK): `notifications/cancelled` for one ends it.
 */
export class TaskListenTransport extends ListenCountingTransport {
  private readonly taskListens = new Map<Id, () => void>();

  constructor(runtime: TaskRuntime, onOpen: () => void, maxBytes: number, onClosed?: () => void) {
    super(onOpen, maxBytes, onClosed);
    const parent = Object.getOwnPropertyDescriptor(this, "onmessage");
    type Deliver = (message: JSONRPCMessage, extra?: unknown) => void;
    Object.defineProperty(this, "onmessage", {
      configurable: true,
      get: () => {
        const deliver = parent?.get?.call(this) as Deliver | undefined;
        return deliver && ((m: JSONRPCMessage, extra?: unknown) => this.intercept(runtime, m) || deliver(m, extra));
      },
      set: (fn: Deliver | undefined) => parent?.set?.call(this, fn),
    });
  }

  private intercept(runtime: TaskRuntime, m: JSONRPCMessage): boolean {
    const cancelled = m as { method?: string; params?: { requestId?: Id } };
    if (cancelled.method === "notifications/cancelled" && cancelled.params?.requestId !== undefined) {
      const stop = this.taskListens.get(cancelled.params.requestId);
      stop?.();
      return stop !== undefined;
    }
    const req = taskListen(m);
    if (!req) return false;
    const write = (message: JSONRPCMessage) => quietly("a task listen's message", this.send(message));
    const served = serveListen(runtime, req, write, () => this.taskListens.delete(req.id));
    if ("error" in served) write(served.error);
    else if (!served.ended() && this.taskListens.size < 10_000) this.taskListens.set(req.id, served.stop);
    return true;
  }

  override async close(): Promise<void> {
    for (const stop of [...this.taskListens.values()]) stop();
    await super.close();
  }
}
