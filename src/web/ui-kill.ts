import type { IncomingMessage, ServerResponse } from "node:http";
import { DEFAULT_GRACE_SECONDS, KILL_SIGNALS, type KillSignal, MAX_GRACE_SECONDS } from "../domain/defaults.js";
import type { JobsForPage } from "../engine/index.js";
import { json, readBody, refuseBody, sameOrigin } from "./ui-http.js";

/**
 * A kill from the page: only from the page itself (a POST with the page's Origin, a JSON body and the
 * page's own header, which a form or a plain cross-site request cannot send), with kill_job's signal
 * and grace choices.
 */
export async function killFromPage(
  jobs: Pick<JobsForPage, "kill">,
  req: IncomingMessage,
  res: ServerResponse,
  id: string,
): Promise<void> {
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
  return killWith(jobs, res, id, choice as { signal?: unknown; grace_seconds?: unknown });
}

async function killWith(
  jobs: Pick<JobsForPage, "kill">,
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
