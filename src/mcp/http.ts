import { randomUUID } from "node:crypto";
import { createServer as createHttpServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  createMcpHandler,
  InMemoryServerEventBus,
  isInitializeRequest,
  isLegacyRequest,
  type McpServer,
  WebStandardStreamableHTTPServerTransport,
} from "@modelcontextprotocol/server";
import type { Config } from "../cli/config.js";
import type { JobManager } from "../jobs/job-manager.js";
import { log } from "../log.js";
import { requestGuard } from "./http-guards.js";
import { onStop } from "./lifecycle.js";
import { nodeHandler } from "./node-fetch-handler.js";
import { ResourceHub } from "./resource-hub.js";
import { createServer } from "./server.js";

/** A 2025-era client: its MCP server instance and transport, kept across its requests. */
interface Session {
  transport: WebStandardStreamableHTTPServerTransport;
  server: McpServer;
  lastSeen: number;
  /** Requests and streams of this session still open: while any is, it is not idle. */
  open: number;
}

/** Connections served at once (each holds a file descriptor; jobs need some too). */
const MAX_CONNECTIONS = 512;
/** A client gets this long to send its request headers (a slow trickle must not hold a connection). */
const HEADERS_TIMEOUT_MS = 10_000;
/** ... and this long to send a whole request, body included. */
const REQUEST_TIMEOUT_MS = 60_000;
/** How often the running jobs are looked at for 2026-era listeners. */
const MODERN_FEED_MS = 1000;

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
export function serveOnHttp(jobs: JobManager, config: Config): void {
  const hub = new ResourceHub(jobs);
  const sessions = new Map<string, Session>();
  // A client's bad request is its own business: one line, no stack trace.
  const onerror = (err: Error) => log("warn", `http: ${err.message}`);
  // 2025-era sessions subscribe through the hub; 2026-era requests through the handler's listen streams.
  const build = (session: boolean) =>
    createServer(jobs, { keepJobs: config.keepJobs, hub: session ? hub : undefined, subscribeElsewhere: !session });
  const bus = new InMemoryServerEventBus(onerror);
  const modern = createMcpHandler(() => build(false), {
    legacy: "reject",
    onerror,
    bus,
    maxRequestBodySize: config.maxRequestBytes,
  });
  const stopModernFeed = feedModernListeners(jobs, hub, bus, (uri) => modern.notify.resourceUpdated(uri));
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
        : modern.fetch(request),
    { maxRequestBodySize: config.maxRequestBytes, onerror },
  );
  const guard = requestGuard(config);
  const http = createHttpServer((req, res) => {
    const refusal = guard(req);
    if (refusal) return refuse(res, refusal.status, refusal.message, refusal.headers);
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/mcp") return refuse(res, 404, "Not found: MCP is served at /mcp");
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
  http.headersTimeout = HEADERS_TIMEOUT_MS;
  http.requestTimeout = REQUEST_TIMEOUT_MS;
  http.maxConnections = MAX_CONNECTIONS;

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

  onStop(async () => {
    http.close();
    stopModernFeed();
    stopModernList();
    await Promise.allSettled([...sessions.values()].map((s) => s.transport.close()));
    await modern.close();
    http.closeAllConnections();
    await jobs.shutdown();
  });
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

/**
 * 2026-era clients subscribe through subscriptions/listen, which the SDK serves without telling
 * which URIs: while any such stream is open, every running job's resources are watched and their
 * changes published (the SDK passes each on only to listeners that asked for that URI).
 */
function feedModernListeners(
  jobs: JobManager,
  hub: ResourceHub,
  bus: InMemoryServerEventBus,
  publish: (uri: string) => void,
): () => void {
  const watching = new Map<string, () => void>();
  const tick = () => {
    const wanted = new Set<string>();
    if (bus.listenerCount > 0) {
      try {
        for (const r of jobs.list({ status: "running", limit: 500 }).jobs) wanted.add(r.job_id);
      } catch (err) {
        log("warn", "watching jobs for listeners", err);
      }
    }
    for (const id of wanted) {
      if (watching.has(id)) continue;
      try {
        const stops = [hub.subscribe(`job://${id}`, publish), hub.subscribe(`job://${id}/output`, publish)];
        watching.set(id, () => {
          for (const s of stops) s();
        });
      } catch {}
    }
    // A job that ended is let go at the next look: its last change has been published.
    for (const [id, stopWatching] of watching) {
      if (!wanted.has(id)) {
        stopWatching();
        watching.delete(id);
      }
    }
  };
  const timer = setInterval(tick, MODERN_FEED_MS);
  timer.unref();
  // A job that starts is watched at once, not at the next look: a short one would be missed.
  const stopList = jobs.changes.onListChanged(tick);
  return () => {
    clearInterval(timer);
    stopList();
    for (const s of watching.values()) s();
    watching.clear();
  };
}
