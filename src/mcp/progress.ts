import type { ServerContext } from "@modelcontextprotocol/server";
import { quietly } from "../log.js";

const EVERY_MS = 1000;

/**
 * Runs a long call, sending `notifications/progress` every second while it lasts when the request
 * carries a progress token (hosts that reset their timeout on progress then keep waiting).
 */
export async function withProgress<T>(
  ctx: ServerContext,
  total: number,
  message: string,
  work: Promise<T>,
): Promise<T> {
  const token = ctx.mcpReq._meta?.progressToken;
  if (token === undefined) return work;
  const started = Date.now();
  const timer = setInterval(() => {
    quietly(
      "a progress notification",
      ctx.mcpReq.notify({
        method: "notifications/progress",
        params: { progressToken: token, progress: Math.floor((Date.now() - started) / 1000), total, message },
      }),
    );
  }, EVERY_MS);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}
