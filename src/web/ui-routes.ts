import type { IncomingMessage, ServerResponse } from "node:http";
import type { JobsForPage } from "../engine/index.js";
import { JobError } from "../engine/index.js";
import { log } from "../log.js";
import { type Admission, AttemptLimit, ByteRate } from "./connections.js";
import { UiAssets } from "./ui-assets.js";
import { signInPage, type UiAuth } from "./ui-auth.js";
import { BoardFeed } from "./ui-feed.js";
import { json, send } from "./ui-http.js";
import { killFromPage } from "./ui-kill.js";
import { download, streamOutput } from "./ui-output.js";
import { signIn } from "./ui-sign-in.js";

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
export function createUi(jobs: JobsForPage, auth: UiAuth, admission: Admission): Ui {
  const attempts = new AttemptLimit();
  const rate = new ByteRate();
  const feed = new BoardFeed(jobs, rate);
  const assets = new UiAssets();

  async function route(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const method = req.method ?? "GET";
    if (path.startsWith("/ui/")) return assets.serve(res, path.slice(4), method);
    if (path === "/favicon.ico") return send(res, 204, "image/x-icon", "");
    if (path === "/login") {
      if (method !== "POST") return send(res, 405, "text/plain", "POST the token", { allow: "POST" });
      return signIn({ auth, attempts, admission }, req, res);
    }
    const page = path === "/" || /^\/job\/[^/]+$/.test(path);
    if (!auth.signedIn(req)) {
      if (page) return send(res, 401, "text/html; charset=utf-8", signInPage());
      return json(res, 401, { error: "Sign in with the token first" });
    }
    admission.prove(req.socket);
    if (page) {
      if (method !== "GET") return send(res, 405, "text/plain", "GET only", { allow: "GET" });
      return assets.page(res);
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
      return killFromPage(jobs, req, res, id);
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
