import type { CallToolResult } from "@modelcontextprotocol/server";
import type { JobsForTools } from "../engine/index.js";
import { JobError } from "../engine/index.js";
import { log } from "../log.js";
import { PatternError } from "../text/safe-regex.js";

/** A successful result: the value as `structuredContent` and the same JSON, compact, as text. */
export function ok<T extends object>(value: T): CallToolResult {
  return {
    content: [{ type: "text", text: JSON.stringify(value) }],
    structuredContent: value as Record<string, unknown>,
  };
}

/** A failed result: `isError` with a message saying what was wrong. */
export function fail(message: string): CallToolResult {
  return { content: [{ type: "text", text: message }], isError: true };
}

/**
 * Runs a tool body and turns what it returns or throws into a tool result: engine errors become
 * their message, anything unexpected is logged to stderr and reported without crashing the server.
 * Where jobs cannot run (not Linux, no capture process), every tool answers with the one line saying why.
 */
export async function runTool<T extends object>(
  jobs: Pick<JobsForTools, "unavailable">,
  body: () => T | Promise<T>,
): Promise<CallToolResult> {
  const unavailable = jobs.unavailable();
  if (unavailable) return fail(unavailable);
  try {
    return ok(await body());
  } catch (err) {
    if (err instanceof JobError || err instanceof PatternError) return fail(err.message);
    log("error", "tool failed", err);
    return fail(`Internal error: ${(err as Error)?.message ?? String(err)}`);
  }
}
