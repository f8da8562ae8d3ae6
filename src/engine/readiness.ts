import { connect } from "node:net";
import { hostname, networkInterfaces } from "node:os";
import { JobError } from "./errors.js";

/** What else than a line of output says a job is ready. */
export interface Readiness {
  /** A TCP port on this machine that accepts connections. */
  port?: number;
  /** An http(s) URL on this machine that answers with a status below 500. */
  http?: string;
}

/** How often a port or URL is tried while a wait lasts. */
const PROBE_EVERY_MS = 250;
/** How long one try may take. */
const TRY_MS = 2000;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });

// Whether something accepts a TCP connection on this host and port now.
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: TRY_MS });
    const end = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => end(true));
    socket.once("error", () => end(false));
    socket.once("timeout", () => end(false));
  });
}

// The words for an answer from the URL, if it is below 500.
async function answers(url: string, signal: AbortSignal): Promise<string | undefined> {
  try {
    const res = await fetch(url, {
      redirect: "manual",
      signal: AbortSignal.any([signal, AbortSignal.timeout(TRY_MS)]),
    });
    await res.body?.cancel().catch(() => {});
    return res.status < 500 ? `${url} answered ${res.status}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Resolves with what was seen once the port accepts connections (on 127.0.0.1 or ::1) or the URL
 * answers below 500, whichever comes first, trying every PROBE_EVERY_MS; never while neither does.
 * Stops trying once the signal aborts (and then never resolves).
 */
export async function untilReady(ready: Readiness, signal: AbortSignal): Promise<string> {
  const { port, http } = ready;
  while (!signal.aborted) {
    if (port !== undefined && ((await accepts("127.0.0.1", port)) || (await accepts("::1", port))))
      return `port ${port} accepts connections`;
    if (http !== undefined && !signal.aborted) {
      const answer = await answers(http, signal);
      if (answer) return answer;
    }
    await sleep(PROBE_EVERY_MS, signal);
  }
  return new Promise<string>(() => {});
}

// Names of this machine: loopback, its host name, and its interfaces' addresses.
function isThisMachine(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost") || h === "::1" || h === "0.0.0.0" || h === "::") return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === hostname().toLowerCase()) return true;
  return Object.values(networkInterfaces()).some((list) => list?.some((i) => i.address.toLowerCase() === h));
}

/** An until_http argument checked: an http(s) URL on this machine; an `invalid_input` error otherwise. */
export function checkLocalUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new JobError("invalid_input", `until_http is not a URL: ${JSON.stringify(text.slice(0, 200))}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new JobError("invalid_input", `until_http must be an http:// or https:// URL, not ${url.protocol}`);
  if (!isThisMachine(url.hostname))
    throw new JobError(
      "invalid_input",
      `until_http must name this machine (localhost, 127.0.0.1, ::1 or its own address), not ${url.hostname}`,
    );
  return url.href;
}
