import { lookup } from "node:dns/promises";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect, isIP, type LookupFunction } from "node:net";
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

// Addresses of this machine: loopback, and its interfaces' own.
function isLocalAddress(address: string): boolean {
  const a = address.toLowerCase().replace(/^::ffff:/, "");
  if (/^127\./.test(a) || a === "::1" || a === "0.0.0.0" || a === "::") return true;
  return Object.values(networkInterfaces()).some((list) => list?.some((i) => i.address.toLowerCase() === a));
}

/**
 * Where an until_http URL's host name leads, every address checked to be this machine's: a name may
 * resolve anywhere (a hosts entry or a DNS answer can send `dev.localhost` to 10.x), so the address
 * asked is the address checked. `localhost` and names under it are loopback without asking (RFC 6761).
 */
async function localAddresses(host: string): Promise<{ address: string; family: 4 | 6 }[]> {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  const literal = isIP(h);
  if (literal) return [{ address: h, family: literal as 4 | 6 }];
  if (h === "localhost" || h.endsWith(".localhost"))
    return [
      { address: "127.0.0.1", family: 4 },
      { address: "::1", family: 6 },
    ];
  let found: { address: string; family: number }[];
  try {
    found = await lookup(h, { all: true });
  } catch (err) {
    throw new JobError("invalid_input", `until_http: ${h} does not resolve (${(err as Error).message})`);
  }
  const elsewhere = found.find((a) => !isLocalAddress(a.address));
  if (elsewhere || found.length === 0)
    throw new JobError(
      "invalid_input",
      `until_http must name this machine: ${h} resolves to ${elsewhere?.address ?? "nothing"}, which is not one of its addresses`,
    );
  return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
}

// The words for an answer from the URL at this address, if it is below 500. Any TLS answer counts
// (a dev server's certificate is often self-signed: it answers all the same).
function answersAt(url: URL, to: { address: string; family: 4 | 6 }, signal: AbortSignal): Promise<string | undefined> {
  return new Promise((resolve) => {
    const secure = url.protocol === "https:";
    const req = (secure ? httpsRequest : httpRequest)(url, {
      method: "GET",
      signal: AbortSignal.any([signal, AbortSignal.timeout(TRY_MS)]),
      // The address checked, not a second answer of the resolver.
      lookup: ((_host: string, opts: { all?: boolean }, done: (...args: unknown[]) => void) =>
        opts?.all ? done(null, [to]) : done(null, to.address, to.family)) as unknown as LookupFunction,
      ...(secure ? { rejectUnauthorized: false, servername: isIP(url.hostname) ? undefined : url.hostname } : {}),
    });
    req.once("response", (res) => {
      res.resume();
      req.destroy();
      const status = res.statusCode ?? 0;
      resolve(status > 0 && status < 500 ? `${url.href} answered ${status}` : undefined);
    });
    req.once("error", () => resolve(undefined));
    req.end();
  });
}

// The words for an answer from the URL, at any of the addresses its host leads to; an error if
// its host leads off this machine.
async function answers(text: string, signal: AbortSignal): Promise<string | undefined> {
  const url = new URL(text);
  for (const to of await localAddresses(url.hostname)) {
    if (signal.aborted) return undefined;
    const answer = await answersAt(url, to, signal);
    if (answer) return answer;
  }
  return undefined;
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

// Names of this machine: loopback, its host name, and its interfaces' addresses (where a name
// leads is checked again at each try: see localAddresses).
function isThisMachine(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost") || h === hostname().toLowerCase()) return true;
  return isIP(h) !== 0 && isLocalAddress(h);
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
