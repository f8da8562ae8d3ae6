import type { TestContext } from "vitest";

/**
 * The suite runs a second time in portable mode (`npm run test:portable`): the server uses only what
 * macOS also has (README: Platforms). What only a Linux facility can do is skipped there, each test
 * saying why in one line.
 */
export const PORTABLE = process.env.MCP_BG_PORTABLE === "1";

/** Skips this test in portable mode, saying in one line which Linux facility it needs. */
export function linuxOnly(ctx: TestContext, why: string): void {
  if (!PORTABLE) return;
  process.stderr.write(`skipped in portable mode: "${ctx.task.name}": ${why}\n`);
  ctx.skip(true, why);
}
