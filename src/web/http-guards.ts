import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { localhostAllowedHostnames, validateHostHeader, validateOriginHeader } from "@modelcontextprotocol/server";

/** Why a request is refused: an HTTP status, a message, and headers to send. */
export interface Refusal {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

/** What an HTTP request must satisfy before it reaches MCP. */
export interface GuardSettings {
  /** The address the server listens on. */
  host: string;
  /** More host names that requests may use. */
  allowedHosts: string[];
  authToken: string | undefined;
}

const digest = (s: string) => createHash("sha256").update(s).digest();

// A host as the SDK's validators spell it: lower case, IPv6 in brackets.
const hostName = (h: string) => {
  const lower = h.toLowerCase();
  return lower.includes(":") && !lower.startsWith("[") ? `[${lower}]` : lower;
};

/**
 * The checks every HTTP request goes through, in this order: Host, then Origin (the DNS-rebinding
 * defence: a page on another site cannot reach this server through a name that resolves here),
 * then the bearer token, compared in constant time (`token: false` skips it: for answers that
 * give nothing away, such as a 404).
 */
export function requestGuard(
  settings: GuardSettings,
): (req: IncomingMessage, opts?: { token?: boolean }) => Refusal | undefined {
  const wildcard = ["0.0.0.0", "::", "[::]"].includes(settings.host);
  const allowed = [
    ...new Set([
      ...localhostAllowedHostnames(),
      ...(wildcard ? [] : [hostName(settings.host)]),
      ...settings.allowedHosts.map(hostName),
    ]),
  ];
  const expected = settings.authToken === undefined ? undefined : digest(settings.authToken);
  return (req, opts = {}) => {
    // A host name, an IPv4 or bracketed IPv6 address, and a port: nothing else (no user@host).
    if (
      req.headers.host !== undefined &&
      !/^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9A-Fa-f:.]+\](:\d+)?$/.test(req.headers.host)
    ) {
      return { status: 403, message: `Invalid Host: ${req.headers.host.slice(0, 100)}` };
    }
    const host = validateHostHeader(req.headers.host, allowed);
    if (!host.ok) return { status: 403, message: host.message };
    const origin = validateOriginHeader(req.headers.origin, allowed);
    if (!origin.ok) return { status: 403, message: origin.message };
    // The scheme is case-insensitive (RFC 9110); the token is compared in constant time.
    const token = /^bearer +(.*)$/i.exec(req.headers.authorization ?? "")?.[1] ?? "";
    if (expected && opts.token !== false && !timingSafeEqual(digest(token), expected)) {
      return {
        status: 401,
        message: "Unauthorized: send Authorization: Bearer <token>",
        headers: { "www-authenticate": 'Bearer realm="mcp-bg-jobs"' },
      };
    }
    return undefined;
  };
}
