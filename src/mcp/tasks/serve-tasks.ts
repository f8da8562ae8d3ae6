import { randomUUID } from "node:crypto";
import {
  CLIENT_CAPABILITIES_META_KEY,
  type McpServer,
  MissingRequiredClientCapabilityError,
  ProtocolError,
  ProtocolErrorCode,
  RELATED_TASK_META_KEY,
  type ServerContext,
  type Tool,
} from "@modelcontextprotocol/server";
import { z } from "zod";
import { quietly } from "../../log.js";
import { chain } from "../resources.js";
import { startWaits } from "../tools/execute-command.js";
import { replaceHandler } from "./sdk-seams.js";
import { TASK_TOOLS, type TaskRuntime } from "./task-runtime.js";
import {
  created,
  DEFAULT_TTL_MS,
  declaresTasksIn,
  knowsTasks,
  TASKS_EXTENSION,
  taskV1,
  taskV2,
  ttlOf,
} from "./task-wire.js";

const byId = z.object({ taskId: z.string().min(1, "taskId is empty") });
const page = z.object({ cursor: z.string().optional() });
/** Tasks a tasks/list page shows. */
const PAGE_SIZE = 50;

/** Whether a request is of the 2026-07-28 era (its protocol fields ride in `_meta`). */
const modernOf = (ctx: ServerContext) => ctx.mcpReq.envelope !== undefined;

/** Whether a 2026-07-28 request declares the tasks extension among its client capabilities. */
const declaresTasks = (ctx: ServerContext) =>
  declaresTasksIn((ctx.mcpReq.envelope as Record<string, unknown> | undefined)?.[CLIENT_CAPABILITIES_META_KEY]);

/** The era of a tasks/* request; a 2026-07-28 client must have declared the extension. */
function eraOf(ctx: ServerContext): "modern" | "legacy" {
  if (!modernOf(ctx)) return "legacy";
  if (!declaresTasks(ctx)) {
    throw new MissingRequiredClientCapabilityError({ requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } });
  }
  return "modern";
}

const cursorOf = (t: { createdMs: number; taskId: string }) =>
  Buffer.from(JSON.stringify([t.createdMs, t.taskId])).toString("base64url");
function afterOf(cursor: string | undefined): { ms: number; id: string } | undefined {
  if (cursor === undefined) return undefined;
  try {
    const [ms, id] = JSON.parse(Buffer.from(cursor, "base64url").toString()) as unknown[];
    if (typeof ms === "number" && typeof id === "string") return { ms, id };
  } catch {}
  throw new ProtocolError(ProtocolErrorCode.InvalidParams, "Invalid cursor: pass a nextCursor tasks/list gave");
}

/**
 * Serves MCP tasks on one server instance, both generations: 2025-11-25 (`capabilities.tasks`, a
 * tools/call with `task`, tasks/get, tasks/result, tasks/list, tasks/cancel,
 * notifications/tasks/status) and the 2026-07-28 extension `io.modelcontextprotocol/tasks`
 * (`resultType: "task"`, tasks/get, tasks/update, tasks/cancel; notifications/tasks go to listen
 * streams, see task-listen.ts). wait_for_job and execute_command take tasks; a client that asks
 * for none sees the same server as before. Tasks this connection created are listed to it only;
 * any connection that knows a task's id (unguessable) may read or cancel it.
 */
export function serveTasks(server: McpServer, runtime: TaskRuntime, era?: "legacy" | "modern"): void {
  // The connection (a 2025-era session, or stdio): what tasks/list shows, where status goes.
  const session = randomUUID();
  // Declared as each era knows them: the capability to 2025-11-25 (initialize), the extension to
  // 2026-07-28 (discover); neither to a client of an earlier protocol.
  server.server.registerCapabilities({
    ...(era !== "modern" ? { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } } : {}),
    ...(era !== "legacy" ? { extensions: { [TASKS_EXTENSION]: {} } } : {}),
  });
  replaceHandler(server, "initialize", (previous) => async (request, ctx) => {
    const result = (await previous(request, ctx)) as { protocolVersion: string; capabilities: Record<string, unknown> };
    if (knowsTasks(result.protocolVersion)) return result;
    const { tasks: _tasks, extensions: _extensions, ...capabilities } = result.capabilities;
    return { ...result, capabilities };
  });

  replaceHandler(server, "tools/list", (previous) => async (request, ctx) => {
    const result = (await previous(request, ctx)) as { tools: Tool[] };
    if (!modernOf(ctx) && !knowsTasks(server.server.getNegotiatedProtocolVersion())) return result;
    const tools = result.tools.map((t) =>
      TASK_TOOLS.includes(t.name) ? { ...t, execution: { taskSupport: "optional" as const } } : t,
    );
    return { ...result, tools };
  });

  let notifying = false;
  const notifyStatus = () => {
    if (notifying) return;
    notifying = true;
    const stop = runtime.onSettled((task) => {
      if (task.session !== session) return;
      quietly(
        "a task's status",
        server.server.notification({ method: "notifications/tasks/status", params: taskV1(task) }),
      );
    });
    chain(server, "onclose", stop);
  };

  replaceHandler(
    server,
    "tools/call",
    (plain) => async (request, ctx) => {
      const params = request.params as { name: string; arguments?: Record<string, unknown>; task?: { ttl?: number } };
      const args = params.arguments ?? {};
      if (modernOf(ctx)) {
        // The server decides: a wait (or a start that waits) becomes a task for a client that takes them.
        const waits = params.name === "wait_for_job" || startWaits(args);
        if (!declaresTasks(ctx) || !TASK_TOOLS.includes(params.name) || !waits) return plain(request, ctx);
        return created(await runtime.create("", params.name, args, DEFAULT_TTL_MS), true);
      }
      // A `task` from a client of an earlier protocol (which has none) is not one: a plain call.
      if (params.task === undefined || !knowsTasks(server.server.getNegotiatedProtocolVersion()))
        return plain(request, ctx);
      if (!TASK_TOOLS.includes(params.name)) {
        throw new ProtocolError(ProtocolErrorCode.MethodNotFound, `Tool ${params.name} does not run as a task`);
      }
      notifyStatus();
      return created(await runtime.create(session, params.name, args, ttlOf(params.task.ttl)), false);
    },
    true,
  );

  server.server.setRequestHandler("tasks/get", { params: byId }, async ({ taskId }, ctx) => {
    const modern = eraOf(ctx) === "modern";
    const task = runtime.get(taskId);
    return modern ? { resultType: "complete", ...taskV2(task) } : taskV1(task);
  });

  server.server.setRequestHandler("tasks/cancel", { params: byId }, async ({ taskId }, ctx) => {
    const modern = eraOf(ctx) === "modern";
    const task = runtime.get(taskId);
    if (!modern && task.status !== "working") {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Task ${taskId} is ${task.status}: only a working task can be cancelled`,
      );
    }
    const now = runtime.cancel(taskId);
    if (!modern && now.status !== "cancelled") {
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Task ${taskId} is ${now.status}: it settled first`);
    }
    return modern ? { resultType: "complete" } : taskV1(now);
  });

  // 2026-07-28: answers to a task's input requests. These tasks never ask for input.
  server.server.setRequestHandler("tasks/update", { params: byId.loose() }, async ({ taskId }, ctx) => {
    if (!modernOf(ctx)) throw new ProtocolError(ProtocolErrorCode.MethodNotFound, "Method not found");
    eraOf(ctx);
    runtime.get(taskId);
    return { resultType: "complete" };
  });

  // 2025-11-25 only (the 2026 era has neither: the SDK answers method not found).
  server.server.setRequestHandler("tasks/result", { params: byId }, async ({ taskId }, ctx) => {
    const task = await runtime.settled(taskId, ctx.mcpReq.signal);
    const related = { [RELATED_TASK_META_KEY]: { taskId } };
    if (task.status === "completed") {
      const result = task.result ?? {};
      return { ...result, _meta: { ...(result._meta as object | undefined), ...related } };
    }
    if (task.status === "failed") {
      const error = (task.result ?? {}) as { code?: number; message?: string };
      throw new ProtocolError(error.code ?? ProtocolErrorCode.InternalError, error.message ?? "The task failed");
    }
    const why = task.status === "cancelled" ? "was cancelled" : "is still working";
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Task ${taskId} ${why}: it has no result`);
  });

  server.server.setRequestHandler("tasks/list", { params: page }, async ({ cursor }) => {
    const tasks = runtime.store.page(session, afterOf(cursor), PAGE_SIZE + 1);
    const shown = tasks.slice(0, PAGE_SIZE);
    const last = shown[shown.length - 1];
    return { tasks: shown.map(taskV1), ...(tasks.length > PAGE_SIZE && last ? { nextCursor: cursorOf(last) } : {}) };
  });
}
