import { serveStdio } from "@modelcontextprotocol/server/stdio";
import type { Config } from "../cli/config.js";
import type { JobManager } from "../jobs/job-manager.js";
import { log } from "../log.js";
import { onStop } from "./lifecycle.js";
import { ResourceHub } from "./resource-hub.js";
import { createServer } from "./server.js";

/**
 * Serves MCP on stdin/stdout until stdin closes or a SIGINT, SIGTERM or SIGHUP arrives; then kills
 * every job it runs (short grace; none with keep-jobs) and exits.
 */
export function serveOnStdio(jobs: JobManager, config: Pick<Config, "keepJobs">): void {
  const hub = new ResourceHub(jobs);
  const handle = serveStdio(
    (ctx) => createServer(jobs, { keepJobs: config.keepJobs, hub: ctx.era === "legacy" ? hub : undefined }),
    {
      onerror: (err) => log("warn", "transport", err),
    },
  );
  const stop = onStop(async () => {
    await jobs.shutdown();
    await handle.close();
  });
  process.stdin.on("end", () => void stop("stdin closed"));
  process.stdin.on("close", () => void stop("stdin closed"));
  // stdout gone (host died): nothing can be answered any more.
  process.stdout.on("error", () => void stop("stdout closed"));
}
