import type { IncomingMessage, ServerResponse } from "node:http";
import { toWebRequest } from "@modelcontextprotocol/node";
import { log, quietly } from "../log.js";

/** What answers a web-standard request. */
export type FetchHandler = (request: Request) => Promise<Response>;

const jsonError = (status: number, message: string, headers: Record<string, string> = {}) =>
  Response.json({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }, { status, headers });

/**
 * Serves a fetch-style handler on node:http, like the SDK's `toNodeHandler`, with two differences
 * that matter for long SSE streams: the response headers go out at once (a client sees its stream
 * open before the first event), and when the client goes away the response stream is cancelled at
 * once, not at its next event (so a client reconnecting its notification stream is not refused
 * with 409 meanwhile).
 */
export function nodeHandler(
  fetch: FetchHandler,
  opts: { maxRequestBodySize: number; onerror: (err: Error) => void },
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    const abort = new AbortController();
    let finished = false;
    res.on("close", () => {
      if (!finished) abort.abort();
    });
    let response: Response;
    try {
      const request = await toWebRequest(req, undefined, {
        signal: abort.signal,
        maxRequestBodySize: opts.maxRequestBodySize,
      });
      response = await fetch(request);
    } catch (err) {
      if ((err as { name?: string }).name === "RequestBodyTooLargeError") {
        // Refused by its Content-Length, before a byte was read: the connection stays open and node
        // drops the body, so that a client still sending it reads this answer instead of a reset.
        // Refused part way through a chunked body: the connection cannot be reused, so it closes.
        const declared = req.headers["content-length"] !== undefined;
        response = jsonError(413, (err as Error).message, declared ? {} : { connection: "close" });
      } else {
        opts.onerror(err instanceof Error ? err : new Error(String(err)));
        response = jsonError(500, "Internal error");
      }
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of response.headers) headers[name] = value;
    res.writeHead(response.status, headers);
    res.flushHeaders();
    if (!response.body || abort.signal.aborted) {
      finished = true;
      await response.body?.cancel().catch((err) => log("debug", "cancelling an answer nobody reads", err));
      res.end();
      return;
    }
    const reader = response.body.getReader();
    abort.signal.addEventListener("abort", () => quietly("cancelling an answer", reader.cancel()), { once: true });
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || abort.signal.aborted) break;
        if (!res.write(value)) {
          await new Promise<void>((resolve) => {
            const go = () => {
              res.off("drain", go);
              abort.signal.removeEventListener("abort", go);
              resolve();
            };
            res.on("drain", go);
            abort.signal.addEventListener("abort", go, { once: true });
          });
        }
      }
    } catch {
      // The answer broke off: a clean end would pass it off as complete.
      finished = true;
      res.destroy();
      return;
    }
    finished = true;
    res.end();
  };
}
