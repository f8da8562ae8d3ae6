import { serveStdio } from "@modelcontextprotocol/server/stdio";
import type { Config } from "../cli/config.js";
import type { JobManager } from "../jobs/job-manager.js";
import { log } from "../log.js";
import { ResourceHub } from "./resource-hub.js";
import { createServer } from "./server.js";

/** Longest a shutdown may take before the server exits anyway. */
const SHUTDOWN_DEADLINE_MS = 15_000;

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
  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log("info", `stopping (${why})`);
    setTimeout(() => process.exit(1), SHUTDOWN_DEADLINE_MS).unref();
    try {
      await jobs.shutdown();
      await handle.close();
    } catch (err) {
      log("error", "shutdown", err);
    }
    process.exit(0);
  };
  process.stdin.on("end", () => void stop("stdin closed"));
  process.stdin.on("close", () => void stop("stdin closed"));
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => void stop(sig));
  // A last net: a bug in one callback must not take every job down with the server.
  process.on("uncaughtException", (err) => log("error", "uncaught exception (server kept running)", err));
  process.on("unhandledRejection", (err) => log("error", "unhandled rejection (server kept running)", err));
  // stdout gone (host died): nothing can be answered any more.
  process.stdout.on("error", () => void stop("stdout closed"));
}
