import type { IncomingMessage, ServerResponse } from "node:http";

// How the page answers: its safe headers, its bodies, and what it takes of a request's.

/** Headers every answer of the page carries: no framing, no sniffing, scripts from here only. */
export const SAFE_HEADERS = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
};

/** A request body the page sends at most (a kill's choices). */
const MAX_BODY = 4096;

export function send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers = {}): void {
  res.writeHead(status, { ...SAFE_HEADERS, "content-type": type, ...headers });
  res.end(body);
}

export const json = (res: ServerResponse, status: number, value: unknown, headers = {}) =>
  send(res, status, "application/json", JSON.stringify(value), { "cache-control": "no-store", ...headers });

/** A request body over MAX_BODY: answered 413, the rest of it not read. */
class BodyTooLarge extends Error {}

/** A request body that did not arrive within BODY_DEADLINE_MS: answered 408. */
class BodyTooSlow extends Error {}

/** How long a body the page takes (a sign-in, a kill) may take to arrive: a few bytes. */
const BODY_DEADLINE_MS = 5000;

export function readBody(req: IncomingMessage): Promise<string> {
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
export function refuseBody(res: ServerResponse, err: unknown, type: "json" | "text"): boolean {
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
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (!origin || !req.headers.host) return false;
  try {
    const o = new URL(origin);
    return (o.protocol === "http:" || o.protocol === "https:") && o.host === req.headers.host.toLowerCase();
  } catch {
    return false;
  }
}
