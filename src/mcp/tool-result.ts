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

/** Where a failed result carries its code (a result's `_meta`, named as MCP asks: a prefix of ours). */
export const ERROR_CODE_KEY = "mcp-bg-jobs/error_code";

/**
 * A failed result: `isError` with a message saying what was wrong, and a stable code a client can
 * branch on in `_meta["mcp-bg-jobs/error_code"]` (`not_found`, `not_running`, `limit`,
 * `invalid_input`, `denied`, `stdin_closed`, `spawn_failed`, `unavailable`, `invalid_pattern`,
 * `internal`). Not as `structuredContent`: some clients check that against the tool's output schema
 * even on an error (LangChain's adapters did, and turned the error into a schema failure).
 */
export function fail(message: string, code = "internal"): CallToolResult {
  return { content: [{ type: "text", text: message }], isError: true, _meta: { [ERROR_CODE_KEY]: code } };
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
  if (unavailable) return fail(unavailable, "unavailable");
  try {
    return ok(await body());
  } catch (err) {
    if (err instanceof JobError) return fail(err.message, err.code);
    if (err instanceof PatternError) return fail(err.message, "invalid_pattern");
    log("error", "tool failed", err);
    return fail(`Internal error: ${(err as Error)?.message ?? String(err)}`);
  }
}
