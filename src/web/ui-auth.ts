import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** The cookie a person gets by signing in with the token, and how long it lets them in. */
const COOKIE = "mcpbg_ui";
const SIGNED_IN_MS = 30 * 24 * 3600 * 1000;

const digest = (s: string) => createHash("sha256").update(s).digest();
const same = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

// The value of one cookie of a request, if it has it.
function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/** Who may see the page: anyone (no token set: loopback only), or whoever shows the token. */
export interface UiAuth {
  /** A token is needed. */
  readonly required: boolean;
  /** The request carries the sign-in cookie or the bearer token (always true when none is needed). */
  signedIn(req: IncomingMessage): boolean;
  /** The token a person typed is the right one. */
  tokenIs(given: string): boolean;
  /** The Set-Cookie header that signs a browser in: HttpOnly, SameSite=Strict, for the whole site. */
  signInCookie(): string;
}

/**
 * Signing in to the page. A browser cannot send a bearer header on a plain link, so a person types the
 * token once into a form; the answer sets a cookie that says until when it lets them in, signed with
 * the token (an HMAC: the token itself is never stored in the browser). It holds across restarts for
 * 30 days, and dies with the token. Scripts may send `Authorization: Bearer <token>` as to /mcp.
 */
export function uiAuth(token: string | undefined): UiAuth {
  const sign = (expires: number) =>
    createHmac("sha256", token ?? "")
      .update(`mcp-bg-jobs ui until ${expires}`)
      .digest("base64url");
  return {
    required: token !== undefined,
    signedIn(req) {
      if (token === undefined) return true;
      const cookie = cookieOf(req, COOKIE);
      const [until, mac] = (cookie ?? "").split(".");
      const expires = Number(until);
      if (mac && Number.isSafeInteger(expires) && expires > Date.now() && same(mac, sign(expires))) return true;
      const bearer = /^bearer +(.*)$/i.exec(req.headers.authorization ?? "")?.[1];
      return bearer !== undefined && same(bearer, token);
    },
    tokenIs(given) {
      return token !== undefined && same(given, token);
    },
    signInCookie() {
      const expires = Date.now() + SIGNED_IN_MS;
      return `${COOKIE}=${expires}.${sign(expires)}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SIGNED_IN_MS / 1000}`;
    },
  };
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);

/** The sign-in page: one field for the token. */
export function signInPage(message?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mcp-bg-jobs: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/ui/app.css"></head>
<body class="signin"><main>
<h1>mcp-bg-jobs</h1>
<p>This job server needs its token (<code>MCP_BG_AUTH_TOKEN</code>).</p>
${message ? `<p class="error" role="alert">${escapeHtml(message)}</p>` : ""}
<form method="post" action="/login">
<label>Token <input type="password" name="token" autocomplete="current-password" autofocus required></label>
<button type="submit">Sign in</button>
</form>
</main></body></html>
`;
}
