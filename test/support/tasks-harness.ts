import type { Client, Transport } from "@modelcontextprotocol/client";
import {
  createTaskSessionFromClient,
  type JsonRpcResponse,
  type TaskEnabledSession,
} from "@modelcontextprotocol/ext-tasks/client";
import type { JsonValue } from "@modelcontextprotocol/ext-tasks/core";
import { HANG_GUARD_MS } from "./helpers.js";

/** What the 2026-07-28 raw requests of a test client write and what comes back for them. */
export interface RawWire {
  /** Sends a request outside the SDK client's codec (which refuses task-shaped results). */
  dispatch(request: JsonValue): Promise<JsonRpcResponse>;
  /** Notifications the server sent that the SDK client does not handle itself (e.g. notifications/tasks). */
  notifications: Record<string, unknown>[];
  /** Messages that answer or belong to a raw request (listen streams: acks, notifications, the end). */
  raw: Record<string, unknown>[];
}

/**
 * A host's request coordinator on a connected SDK client's transport: requests with ids of its own
 * go out through the transport, and their answers are taken before the SDK client sees them.
 */
export function rawWire(transport: Transport): RawWire {
  const pending = new Map<string, (r: JsonRpcResponse) => void>();
  const wire: RawWire = { dispatch, notifications: [], raw: [] };
  let next = 0;
  const deliver = transport.onmessage;
  transport.onmessage = (message, extra) => {
    const m = message as { id?: unknown; method?: string; result?: JsonValue; error?: JsonRpcResponse & object };
    if (typeof m.id === "string" && m.id.startsWith("raw-")) {
      wire.raw.push(m);
      const answer = pending.get(m.id);
      if (answer && !("method" in m)) {
        pending.delete(m.id);
        answer(m.error ? { kind: "error", error: m.error as never } : { kind: "result", result: m.result ?? null });
      }
      return;
    }
    if (m.method !== undefined && m.id === undefined) wire.notifications.push(m);
    deliver?.(message, extra as never);
  };
  function dispatch(request: JsonValue): Promise<JsonRpcResponse> {
    const id = `raw-${++next}`;
    const answer = new Promise<JsonRpcResponse>((resolve) => pending.set(id, resolve));
    void transport.send({ ...(request as object), jsonrpc: "2.0", id } as never).catch((err: Error) => {
      pending.get(id)?.({ kind: "error", error: { code: -32000, message: err.message } });
    });
    return answer;
  }
  return wire;
}

export const CLIENT_INFO = { name: "mcp-bg-jobs-task-tests", version: "1.0.0" };
export const MODERN = "2026-07-28";

/** A task session over a connected client: 2025-11-25 tasks, or (modern) the 2026-07-28 extension. */
export function taskSession(
  client: Client,
  transport: Transport,
  modern: boolean,
  endpointId = "mcp-bg-jobs-tests",
): { session: TaskEnabledSession; wire: RawWire } {
  const wire = rawWire(transport);
  const session = modern
    ? createTaskSessionFromClient(client, {
        endpointId,
        rawDispatch: (request) => wire.dispatch(request),
        v2RequestFraming: { protocolVersion: MODERN, clientInfo: CLIENT_INFO, clientCapabilities: {} },
      })
    : createTaskSessionFromClient(client, { endpointId });
  return { session, wire };
}

/** The `_meta` a 2026-07-28 request carries, declaring the tasks extension unless told not to. */
export function modernMeta(tasks = true): Record<string, JsonValue> {
  return {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
    "io.modelcontextprotocol/clientCapabilities": tasks ? { extensions: { "io.modelcontextprotocol/tasks": {} } } : {},
  };
}

/** Resolves once `check` holds (polled), or fails after `ms` or HANG_GUARD_MS, whichever is longer. */
export async function until(check: () => boolean, ms = HANG_GUARD_MS, what = "the condition"): Promise<void> {
  const end = Date.now() + Math.max(ms, HANG_GUARD_MS);
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
