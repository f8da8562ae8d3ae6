import type { IncomingMessage, ServerResponse } from "node:http";
import type { Admission, AttemptLimit } from "./connections.js";
import { signInPage, type UiAuth } from "./ui-auth.js";
import { readBody, refuseBody, SAFE_HEADERS, send } from "./ui-http.js";

/**
 * A sign-in to the page with the token (a form's POST /login): a few a second, a small share of the
 * connections, the body within its deadline; the right token gets the cookie.
 */
export async function signIn(
  deps: { auth: UiAuth; attempts: AttemptLimit; admission: Admission },
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { auth, attempts, admission } = deps;
  // Sign-ins are guesses at the token until one is right: a few a second, and a small share of
  // the connections, whoever sends them.
  // Refused without reading the body, and the connection let go (what is left of the body would
  // be read as the next request).
  const refuse = (status: number, message: string) => {
    send(res, status, "text/plain", `${message}\n`, { "retry-after": "1", connection: "close" });
    res.on("finish", () => req.socket.destroy());
  };
  if (!attempts.take(req.socket.remoteAddress ?? "")) return refuse(429, "Too many sign-in attempts: wait a second");
  if (!admission.holdUnauthenticated(req.socket)) return refuse(503, "Too many sign-ins under way: try again shortly");
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
