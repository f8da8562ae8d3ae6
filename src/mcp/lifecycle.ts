import { log } from "../log.js";

/** Longest a shutdown may take before the server exits anyway. */
const SHUTDOWN_DEADLINE_MS = 15_000;

/**
 * Wires a server's stop: `teardown` runs once, on SIGINT, SIGTERM or SIGHUP or when the returned
 * function is called, then the process exits 0 (1 if the teardown overruns its deadline). Also
 * installs the last net: a bug in one callback is logged, and the server keeps running, since an
 * exit would take every job down with it.
 */
export function onStop(teardown: () => Promise<void>): (why: string) => Promise<void> {
  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log("info", `stopping (${why})`);
    setTimeout(() => process.exit(1), SHUTDOWN_DEADLINE_MS).unref();
    try {
      await teardown();
    } catch (err) {
      log("error", "shutdown", err);
    }
    process.exit(0);
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => void stop(sig));
  process.on("uncaughtException", (err) => log("error", "uncaught exception (server kept running)", err));
  process.on("unhandledRejection", (err) => log("error", "unhandled rejection (server kept running)", err));
  return stop;
}
