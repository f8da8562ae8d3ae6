import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  createMcpHandler,
  InMemoryServerEventBus,
  isInitializeRequest,
  isLegacyRequest,
  type McpServer,
  WebStandardStreamableHTTPServerTransport,
} from "@modelcontextprotocol/server";
import type { Config } from "../config/config.js";
import type { JobsForTools } from "../engine/index.js";
import { log, quietly } from "../log.js";
import { feedListeners } from "./listen-feed.js";
import { nodeHandler } from "./node-fetch-handler.js";
import { taskListenResponse } from "./tasks/task-listen.js";
import type { McpWiring } from "./wiring.js";

/** A 2025-era client: its MCP server instance and transport, kept across its requests. */
interface Session {
  transport: WebStandardStreamableHTTPServerTransport;
  server: McpServer;
  lastSeen: number;
  /** Requests and streams of this session still open: while any is, it is not idle. */
  open: number;
}

const jsonError = (status: number, code: number, message: string) =>
  Response.json({ jsonrpc: "2.0", error: { code, message }, id: null }, { status });

/** Answers a request with a JSON-RPC error (no id: it is refused before it is read). */
export function refuse(
  res: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
}

/** MCP over Streamable HTTP, as a handler of requests to /mcp that the hosting (serve/) routes to it. */
export interface McpOverHttp {
  /** Answers one request to /mcp (the hosting has checked Host, Origin and the token). */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Ends every session and stream (the server stops). */
  close(): Promise<void>;
}

/**
 * MCP over Streamable HTTP, to clients of both protocol eras: 2025 (initialize, a session per
 * client, an SSE stream for notifications; a session unused for MCP_BG_SESSION_IDLE with nothing
 * open is closed, and when MCP_BG_MAX_SESSIONS are open the one unused longest makes room) and
 * 2026-07-28 (stateless requests; a tool call answered as an event stream started at once).
 */
export function mcpOverHttp(jobs: JobsForTools, config: Config, wiring: McpWiring): McpOverHttp {
  const { hub, tasks } = wiring;
  const sessions = new Map<string, Session>();
  // A client's bad request is its own business: one line, no stack trace.
  const onerror = (err: Error) => log("warn", `http: ${err.message}`);
  // 2025-era sessions subscribe through the hub; 2026-era requests through the handler's listen streams.
  const build = (session: boolean) => wiring.server(session ? "legacy" : "modern");
  const bus = new InMemoryServerEventBus(onerror);
  const modernOptions = { legacy: "reject" as const, onerror, bus, maxRequestBodySize: config.maxRequestBytes };
  const modern = createMcpHandler(() => build(false), modernOptions);
  // A tool call may wait for minutes: its answer starts at once as an event stream (keep-alives
  // flow while it waits), so that fetch clients do not give up waiting for headers. Other requests
  // keep their plain JSON answers. Both share the bus: a notification reaches every listen stream.
  const streaming = createMcpHandler(() => build(false), { ...modernOptions, responseMode: "sse" });
  const modernFetch = async (request: Request) =>
    (await taskListenResponse(tasks, request)) ??
    (request.headers.get("mcp-method") === "tools/call" ? streaming : modern).fetch(request);
  const modernFeed = feedListeners(jobs, hub, {
    active: () => bus.listenerCount > 0,
    updated: (uri) => modern.notify.resourceUpdated(uri),
  });
  const stopModernList = jobs.changes.onListChanged(() => modern.notify.resourcesChanged());

  // A 2025-era request: to its session, or an initialize that opens one.
  async function handleLegacy(request: Request): Promise<Response> {
    const sid = request.headers.get("mcp-session-id");
    if (sid) {
      const session = sessions.get(sid);
      if (!session) return jsonError(404, -32001, "Session not found: initialize again");
      session.lastSeen = Date.now();
      return session.transport.handleRequest(request);
    }
    if (request.method === "POST") {
      let body: unknown;
      try {
        body = await request.clone().json();
      } catch {
        return jsonError(400, -32700, "Parse error: the body is not JSON");
      }
      if (isInitializeRequest(body)) {
        if (sessions.size >= config.maxSessions && !evictIdleSession()) {
          return jsonError(503, -32000, "Too many sessions: try again later");
        }
        const server = build(true);
        const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          maxRequestBodySize: config.maxRequestBytes,
          onsessioninitialized: (id) => {
            sessions.set(id, { transport, server, lastSeen: Date.now(), open: 0 });
          },
          onsessionclosed: (id) => {
            sessions.delete(id);
          },
        });
        transport.onclose = () => {
          if (transport.sessionId) sessions.delete(transport.sessionId);
        };
        await server.connect(transport);
        return transport.handleRequest(request, { parsedBody: body });
      }
    }
    return jsonError(400, -32000, "Bad request: no valid session id (send initialize first)");
  }

  // Clients that never say goodbye (the SDK's close() sends no DELETE) leave sessions behind: when
  // the table is full, the one unused longest, with nothing open, makes room.
  function evictIdleSession(): boolean {
    let oldest: [string, Session] | undefined;
    for (const entry of sessions) {
      if (entry[1].open === 0 && (!oldest || entry[1].lastSeen < oldest[1].lastSeen)) oldest = entry;
    }
    if (!oldest) return false;
    sessions.delete(oldest[0]);
    quietly("closing an idle session", oldest[1].transport.close());
    return true;
  }

  const mcp = nodeHandler(
    async (request) =>
      (await isLegacyRequest(request, undefined, { maxRequestBodySize: config.maxRequestBytes }))
        ? handleLegacy(request)
        : modernFetch(request),
    { maxRequestBodySize: config.maxRequestBytes, onerror },
  );
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    // A session with a request or stream open is in use, however long that takes.
    const session = sessions.get(String(req.headers["mcp-session-id"] ?? ""));
    if (session) {
      session.open++;
      res.on("close", () => {
        session.open--;
        session.lastSeen = Date.now();
      });
    }
    mcp(req, res).catch((err: Error) => {
      onerror(err);
      if (!res.headersSent) refuse(res, 500, "Internal error");
    });
  };

  const sweep = setInterval(
    () => {
      // A session unused this long, with nothing open, is closed: clients that never say goodbye
      // must not pile up.
      const cutoff = Date.now() - config.sessionIdleSeconds * 1000;
      for (const [id, s] of sessions) {
        if (s.open === 0 && s.lastSeen < cutoff) {
          sessions.delete(id);
          quietly("closing an idle session", s.transport.close());
        }
      }
    },
    Math.min(60_000, config.sessionIdleSeconds * 1000),
  );
  sweep.unref();

  return {
    handle,
    async close() {
      clearInterval(sweep);
      modernFeed.stop();
      stopModernList();
      await Promise.allSettled([...sessions.values()].map((s) => s.transport.close()));
      await Promise.allSettled([modern.close(), streaming.close()]);
    },
  };
}
