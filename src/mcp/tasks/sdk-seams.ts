import {
  type CallToolResult,
  type JSONRPCRequest,
  type McpServer,
  ProtocolError,
  ProtocolErrorCode,
  type Result,
  type ServerContext,
} from "@modelcontextprotocol/server";

/**
 * The few places where tasks reach into the SDK, kept here. The SDK (2.x) has no server runtime for
 * tasks and its `tools/call` handler rejects any result but a CallToolResult; these use the seams
 * its Protocol class offers subclasses (`_getRequestHandler`, `_wrapHandler`), documented there as
 * hooks, on the instance McpServer builds.
 */

/** A stored request handler, as the SDK keeps it. */
export type Handler = (request: JSONRPCRequest, ctx: ServerContext) => Promise<Result>;

interface ProtocolSeams {
  _getRequestHandler(method: string): Handler | undefined;
  _wrapHandler(method: string, handler: Handler): Handler;
  setRequestHandler(method: string, handler: (request: JSONRPCRequest, ctx: ServerContext) => Promise<Result>): void;
}

const seams = (server: McpServer) => server.server as unknown as ProtocolSeams;

/** The handler the SDK keeps for a method (with its checks), or an error if there is none. */
export function storedHandler(server: McpServer, method: string): Handler {
  const handler = seams(server)._getRequestHandler(method);
  if (!handler) throw new Error(`no ${method} handler to extend`);
  return handler;
}

// The SDK's own words for params that fail its schema (a zod issue list as JSON), in one line.
function invalidParams(method: string, err: unknown): ProtocolError {
  const text = err instanceof Error ? err.message : String(err);
  let said = text;
  try {
    const issues = JSON.parse(text) as { path?: unknown[]; message?: string }[];
    said = issues.map((i) => `${(i.path ?? []).join(".")}: ${i.message ?? "invalid"}`).join("; ");
  } catch {}
  return new ProtocolError(ProtocolErrorCode.InvalidParams, `Invalid params for ${method}: ${said.slice(0, 500)}`);
}

// `null` for an optional field of a tools/call's task counts as leaving it out, as for tool arguments.
function withoutNulls(request: JSONRPCRequest): JSONRPCRequest {
  const params = request.params as { task?: Record<string, unknown> | null } | undefined;
  if (!params || !("task" in params)) return request;
  const { task, ...rest } = params;
  if (task === null) return { ...request, params: rest };
  if (typeof task !== "object") return request;
  const kept = Object.fromEntries(Object.entries(task).filter(([, v]) => v !== null));
  return { ...request, params: { ...rest, task: kept } };
}

/**
 * Replaces a spec method's handler by `make(previous)`. The SDK still parses the request; with
 * `unchecked`, it does not check the result again (a task-creating tools/call answers a
 * CreateTaskResult, which its tools/call check refuses; the previous handler keeps its checks), a
 * `null` in the call's `task` counts as absent, and params its schema refuses are an invalid-params
 * error (-32602, in a line) rather than an internal one with the schema's dump.
 */
export function replaceHandler(
  server: McpServer,
  method: string,
  make: (previous: Handler) => Handler,
  unchecked = false,
): void {
  const s = seams(server);
  const made = make(storedHandler(server, method));
  if (!unchecked) {
    s.setRequestHandler(method, made);
    return;
  }
  // Calls that got past the SDK's parsing into `made` (their errors are their own).
  const entered = new WeakSet<object>();
  const next: Handler = (request, ctx) => {
    entered.add(ctx);
    return made(request, ctx);
  };
  const own = Object.getOwnPropertyDescriptor(s, "_wrapHandler");
  s._wrapHandler = (_method, handler) => async (request, ctx) => {
    try {
      return await handler(withoutNulls(request), ctx);
    } catch (err) {
      if (entered.has(ctx) || err instanceof ProtocolError) throw err;
      throw invalidParams(method, err);
    }
  };
  try {
    s.setRequestHandler(method, next);
  } finally {
    if (own) Object.defineProperty(s, "_wrapHandler", own);
    else delete (s as Partial<ProtocolSeams>)._wrapHandler;
  }
}

/**
 * Calls a tool of a server that has no connection, as a client's tools/call would (arguments
 * checked, result shaped), with `signal` standing for the request's: no client, no progress.
 */
export async function callTool(
  server: McpServer,
  name: string,
  args: Record<string, unknown>,
  signal: AbortSignal,
): Promise<CallToolResult> {
  const request = { jsonrpc: "2.0", id: 0, method: "tools/call", params: { name, arguments: args } } as const;
  const ctx = {
    mcpReq: {
      id: 0,
      method: "tools/call",
      _meta: undefined,
      signal,
      requestState: () => undefined,
      send: () => Promise.reject(new Error("a task has no client to ask")),
      notify: async () => {},
    },
  } as unknown as ServerContext;
  return (await storedHandler(server, "tools/call")(request, ctx)) as CallToolResult;
}
