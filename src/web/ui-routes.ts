import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { DEFAULT_GRACE_SECONDS, KILL_SIGNALS, type KillSignal, MAX_GRACE_SECONDS } from "../domain/defaults.js";
import type { JobsForPage } from "../engine/index.js";
import { JobError } from "../engine/index.js";
import { log } from "../log.js";
import { PACKAGE_ROOT } from "../package-root.js";
import { AttemptLimit, ByteRate, type ConnectionBudget } from "./connections.js";
import { signInPage, type UiAuth } from "./ui-auth.js";
import { BoardFeed } from "./ui-feed.js";
import { download, streamOutput } from "./ui-output.js";

/** The page's files (built into dist/ui by scripts/build-ui.mjs), by name, with their types. */
const ASSETS: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8",
  "xterm.js": "text/javascript; charset=utf-8",
  "xterm.css": "text/css; charset=utf-8",
  "addon-search.js": "text/javascript; charset=utf-8",
};

/** Headers every answer of the page carries: no framing, no sniffing, scripts from here only. */
const SAFE_HEADERS = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
};

/** A request body the page sends at most (a kill's choices). */
const MAX_BODY = 4096;

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers = {}): void {
  res.writeHead(status, { ...SAFE_HEADERS, "content-type": type, ...headers });
  res.end(body);
}

const json = (res: ServerResponse, status: number, value: unknown, headers = {}) =>
  send(res, status, "application/json", JSON.stringify(value), { "cache-control": "no-store", ...headers });

/** A request body over MAX_BODY: answered 413, the rest of it not read. */
class BodyTooLarge extends Error {}

/** A request body that did not arrive within BODY_DEADLINE_MS: answered 408. */
class BodyTooSlow extends Error {}

/** How long a body the page takes (a sign-in, a kill) may take to arrive: a few bytes. */
const BODY_DEADLINE_MS = 5000;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    const timer = setTimeout(() => {
      reject(new BodyTooSlow(`The body did not arrive within ${BODY_DEADLINE_MS / 1000} s`));
      req.pause();
    }, BODY_DEADLINE_MS);
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
      if (body.length > MAX_BODY) {
        clearTimeout(timer);
        reject(new BodyTooLarge(`The body is over ${MAX_BODY} bytes`));
        req.pause();
      }
    });
    req.on("end", () => {
      clearTimeout(timer);
      resolve(body);
    });
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

// Answers a body that broke a rule (too large, too slow) and lets the connection go: the rest of it
// is not read.
function refuseBody(res: ServerResponse, err: unknown, type: "json" | "text"): boolean {
  const status = err instanceof BodyTooLarge ? 413 : err instanceof BodyTooSlow ? 408 : 0;
  if (status === 0) return false;
  const message = (err as Error).message;
  if (type === "json") json(res, status, { error: message }, { connection: "close" });
  else send(res, status, "text/plain", `${message}\n`, { connection: "close" });
  res.on("finish", () => res.socket?.destroy());
  return true;
}

/**
 * Whether a request comes from the page itself: its Origin names the very host it was sent to (the
 * Host/Origin guard only checks that both are allowed names; a page of another port on localhost is
 * another origin).
 */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (!origin || !req.headers.host) return false;
  try {
    const o = new URL(origin);
    return (o.protocol === "http:" || o.protocol === "https:") && o.host === req.headers.host.toLowerCase();
  } catch {
    return false;
  }
}

/** The web page's side of an HTTP server: what `handle` answers, and what `close` ends. */
export interface Ui {
  /** Whether this request is the page's (its paths: /, /job/ID, /ui/*, /api/*, /login). */
  owns(path: string): boolean;
  handle(req: IncomingMessage, res: ServerResponse, path: string): void;
  close(): void;
}

/**
 * The page for people: the live job list and each job's output, and a kill with a confirmation,
 * on the jobs of the state dir. Host and Origin are checked before (as for /mcp); here, that the
 * browser has signed in (when a token is set), and that a kill comes from the page itself: a POST
 * with the page's Origin, a JSON body and the page's own header, which a form or a plain
 * cross-site request cannot send.
 */
export function createUi(jobs: JobsForPage, auth: UiAuth, budget: ConnectionBudget): Ui {
  const attempts = new AttemptLimit();
  const rate = new ByteRate();
  const feed = new BoardFeed(jobs, rate);
  const dir = join(PACKAGE_ROOT, "dist", "ui");
  const cache = new Map<string, Buffer>();
  const asset = (name: string) => {
    let body = cache.get(name);
    if (!body) {
      body = readFileSync(join(dir, name));
      cache.set(name, body);
    }
    return body;
  };

  async function kill(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    if (
      !sameOrigin(req) ||
      req.headers["x-mcp-bg-jobs"] !== "ui" ||
      !/^application\/json\b/.test(req.headers["content-type"] ?? "")
    )
      return json(res, 403, { error: "A kill must come from the page itself" });
    let choice: unknown;
    try {
      choice = JSON.parse(await readBody(req));
    } catch (err) {
      if (refuseBody(res, err, "json")) return;
      return json(res, 400, { error: "The body is not JSON" });
    }
    if (choice === null || typeof choice !== "object" || Array.isArray(choice))
      return json(res, 400, { error: "The body must be a JSON object: {signal, grace_seconds}" });
    return killWith(res, id, choice as { signal?: unknown; grace_seconds?: unknown });
  }

  async function killWith(
    res: ServerResponse,
    id: string,
    choice: { signal?: unknown; grace_seconds?: unknown },
  ): Promise<void> {
    const signal = (choice.signal ?? "SIGTERM") as KillSignal;
    const grace = choice.grace_seconds ?? DEFAULT_GRACE_SECONDS;
    if (!KILL_SIGNALS.includes(signal))
      return json(res, 400, { error: `signal must be one of ${KILL_SIGNALS.join(", ")}` });
    if (typeof grace !== "number" || !(grace >= 0 && grace <= MAX_GRACE_SECONDS))
      return json(res, 400, { error: `grace_seconds must be a number from 0 to ${MAX_GRACE_SECONDS}` });
    const status = await jobs.kill(id, { signal, graceMs: grace * 1000 });
    json(res, status === "not_found" ? 404 : 200, { status });
  }

  async function signIn(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Sign-ins are guesses at the token until one is right: a few a second, and a small share of
    // the connections, whoever sends them.
    // Refused without reading the body, and the connection let go (what is left of the body would
    // be read as the next request).
    const refuse = (status: number, message: string) => {
      send(res, status, "text/plain", `${message}\n`, { "retry-after": "1", connection: "close" });
      res.on("finish", () => req.socket.destroy());
    };
    if (!attempts.take(req.socket.remoteAddress ?? "")) return refuse(429, "Too many sign-in attempts: wait a second");
    if (!budget.holdUnauthenticated(req.socket)) return refuse(503, "Too many sign-ins under way: try again shortly");
    let body: string;
    try {
      body = await readBody(req);
    } catch (err) {
      if (refuseBody(res, err, "text")) return;
      throw err;
    }
    const form = new URLSearchParams(body);
    if (!auth.tokenIs(form.get("token") ?? ""))
      return send(res, 401, "text/html; charset=utf-8", signInPage("That is not the token."));
    res.writeHead(303, { ...SAFE_HEADERS, location: "/", "set-cookie": auth.signInCookie() });
    res.end();
  }

  async function route(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const method = req.method ?? "GET";
    if (path.startsWith("/ui/")) {
      const name = path.slice(4);
      if (!Object.hasOwn(ASSETS, name) || method !== "GET") return json(res, 404, { error: "Not found" });
      return send(res, 200, ASSETS[name] as string, asset(name), { "cache-control": "no-cache" });
    }
    if (path === "/favicon.ico") return send(res, 204, "image/x-icon", "");
    if (path === "/login") {
      if (method !== "POST") return send(res, 405, "text/plain", "POST the token", { allow: "POST" });
      return signIn(req, res);
    }
    const page = path === "/" || /^\/job\/[^/]+$/.test(path);
    if (!auth.signedIn(req)) {
      if (page) return send(res, 401, "text/html; charset=utf-8", signInPage());
      return json(res, 401, { error: "Sign in with the token first" });
    }
    budget.prove(req.socket);
    if (page) {
      if (method !== "GET") return send(res, 405, "text/plain", "GET only", { allow: "GET" });
      return send(res, 200, ASSETS["index.html"] as string, asset("index.html"), { "cache-control": "no-cache" });
    }
    if (path === "/api/events") {
      if (method !== "GET") return json(res, 405, { error: "GET only" }, { allow: "GET" });
      return feed.open(res);
    }
    const m = /^\/api\/jobs\/([^/]+)(\/output|\/raw|\/kill)?$/.exec(path);
    if (!m) return json(res, 404, { error: "Not found" });
    let id: string;
    try {
      id = decodeURIComponent(m[1] as string);
    } catch {
      return json(res, 400, { error: "The job id is not valid percent-encoding" });
    }
    if (m[2] === "/kill") {
      if (method !== "POST") return json(res, 405, { error: "POST only" }, { allow: "POST" });
      return kill(req, res, id);
    }
    if (method !== "GET") return json(res, 405, { error: "GET only" }, { allow: "GET" });
    const job = jobs.lookup(id);
    const stream = new URL(req.url ?? "/", "http://x").searchParams.get("stream") === "stderr" ? "stderr" : "stdout";
    if (m[2] === "/output") return streamOutput(jobs, job, stream, res, rate);
    if (m[2] === "/raw") return download(job, stream, res, rate);
    const ports = job.running ? ((await jobs.ports([job])).get(job.id) ?? null) : [];
    // The server that owns it, as the list shows it.
    const owner_pid = job.state.owner?.pid ?? null;
    return json(res, 200, { ...job.record(), owner_pid, ports, waiting: jobs.waiting(job) ?? null });
  }

  return {
    owns: (path) =>
      path === "/" ||
      path === "/login" ||
      path === "/favicon.ico" ||
      path.startsWith("/ui/") ||
      path.startsWith("/api/") ||
      path.startsWith("/job/"),
    handle(req, res, path) {
      route(req, res, path).catch((err: unknown) => {
        if (res.headersSent) return res.end();
        if (err instanceof JobError) return json(res, err.code === "not_found" ? 404 : 400, { error: err.message });
        log("warn", "web page", err);
        json(res, 500, { error: "Internal error" });
      });
    },
    close: () => feed.close(),
  };
}
