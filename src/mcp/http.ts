import { randomUUID } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  createMcpHandler,
  InMemoryServerEventBus,
  isInitializeRequest,
  isLegacyRequest,
  type McpServer,
  WebStandardStreamableHTTPServerTransport,
} from "@modelcontextprotocol/server";
import type { Config } from "../config/config.js";
import type { JobEngine } from "../engine/index.js";
import { log } from "../log.js";
import { ConnectionBudget } from "../web/connections.js";
import { requestGuard } from "../web/http-guards.js";
import { uiAuth } from "../web/ui-auth.js";
import { createUi } from "../web/ui-routes.js";
import { onStop } from "./lifecycle.js";
import { feedListeners } from "./listen-feed.js";
import { nodeHandler } from "./node-fetch-handler.js";
import { ResourceHub } from "./resource-hub.js";
import { createServer } from "./server.js";
import { taskListenResponse } from "./tasks/task-listen.js";
import { TaskRuntime } from "./tasks/task-runtime.js";

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

function refuse(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
}

/**
 * Serves MCP over Streamable HTTP at /mcp, to clients of both protocol eras: 2025 (initialize,
 * a session per client, an SSE stream for notifications) and 2026-07-28 (stateless requests).
 * Every request passes the Host/Origin/token guard first. Runs until SIGINT, SIGTERM or SIGHUP;
 * then closes the streams, kills the jobs it owns (unless keep-jobs) and exits.
 */
export function serveOnHttp(jobs: JobEngine, config: Config): void {
  const hub = new ResourceHub(jobs);
  const tasks = new TaskRuntime(jobs, config.stateDir);
  const sessions = new Map<string, Session>();
  // A client's bad request is its own business: one line, no stack trace.
  const onerror = (err: Error) => log("warn", `http: ${err.message}`);
  // 2025-era sessions subscribe through the hub; 2026-era requests through the handler's listen streams.
  const build = (session: boolean) =>
    createServer(jobs, {
      keepJobs: config.keepJobs,
      channel: config.notifyChannel,
      hub: session ? hub : undefined,
      subscribeElsewhere: !session,
      tasks,
      era: session ? ("legacy" as const) : ("modern" as const),
    });
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
    void oldest[1].transport.close().catch(() => {});
    return true;
  }

  const mcp = nodeHandler(
    async (request) =>
      (await isLegacyRequest(request, undefined, { maxRequestBodySize: config.maxRequestBytes }))
        ? handleLegacy(request)
        : modernFetch(request),
    { maxRequestBodySize: config.maxRequestBytes, onerror },
  );
  const guard = requestGuard(config);
  const http = createHttpServer();
  const budget = new ConnectionBudget(http);
  const ui = createUi(jobs, uiAuth(config.authToken), budget);
  http.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0] as string;
    // Any other path is not found, token or not: a client probing for OAuth metadata
    // (/.well-known/oauth-*) must learn there is none, not be told to authenticate.
    const refusal = guard(req, { token: path === "/mcp" });
    if (refusal) return refuse(res, refusal.status, refusal.message, refusal.headers);
    // The web page for people, beside /mcp on the same port (it checks the token itself: a browser
    // signs in with a cookie).
    if (ui.owns(path)) return ui.handle(req, res, path);
    if (path !== "/mcp") return refuse(res, 404, "Not found: MCP is served at /mcp");
    // Past the token check: this connection is a client's, not a stranger's (see ConnectionBudget).
    budget.prove(req.socket);
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
  });
  http.on("clientError", (_err, socket) => socket.destroy());

  const sweep = setInterval(
    () => {
      // A session unused this long, with nothing open, is closed: clients that never say goodbye
      // must not pile up.
      const cutoff = Date.now() - config.sessionIdleSeconds * 1000;
      for (const [id, s] of sessions) {
        if (s.open === 0 && s.lastSeen < cutoff) {
          sessions.delete(id);
          void s.transport.close().catch(() => {});
        }
      }
    },
    Math.min(60_000, config.sessionIdleSeconds * 1000),
  );
  sweep.unref();

  onStop(
    async () => {
      tasks.stop();
      http.close();
      modernFeed.stop();
      stopModernList();
      await Promise.allSettled([...sessions.values()].map((s) => s.transport.close()));
      await Promise.allSettled([modern.close(), streaming.close()]);
      http.closeAllConnections();
      await jobs.shutdown();
    },
    () => jobs.abandon(),
  );
  http.on("error", (err) => {
    log("error", `cannot listen on ${config.host}:${config.port}: ${err.message}`);
    void jobs.shutdown().finally(() => process.exit(2));
  });
  http.listen(config.port, config.host, () => {
    const { port } = http.address() as AddressInfo;
    const host = config.host.includes(":") ? `[${config.host}]` : config.host;
    log("info", `listening on http://${host}:${port}/mcp`);
  });
}
