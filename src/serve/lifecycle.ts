import { log } from "../log.js";

/** Longest a shutdown may take before the server exits anyway. */
const SHUTDOWN_DEADLINE_MS = 15_000;

/**
 * Wires a server's stop: `teardown` runs once, on SIGINT, SIGTERM or SIGHUP, when the returned
 * function is called, or when the event loop runs dry, then the process exits 0 (1 if the teardown
 * overruns its deadline). Also installs the last nets: a bug in one callback is logged, and the
 * server keeps running, since an exit would take every job down with it; and an exit that comes
 * any other way (a library's process.exit, the deadline) first calls `abandon`, which must be
 * synchronous: the jobs then end as at a stop, if without their grace.
 */
export function onStop(teardown: () => Promise<void>, abandon: () => void): (why: string) => Promise<void> {
  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log("info", `stopping (${why})`);
    setTimeout(() => process.exit(1), SHUTDOWN_DEADLINE_MS).unref();
    // The stop holds the process until it is done: its waits (a grace, a shepherd's report of the
    // end) hold no handle of their own, and a loop run dry meanwhile would exit without finishing
    // it (beforeExit), leaving a job's processes that its group does not reach.
    setInterval(() => {}, 1000);
    try {
      await teardown();
    } catch (err) {
      log("error", "shutdown", err);
    }
    process.exit(0);
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => void stop(sig));
  process.on("beforeExit", () => void stop("nothing left to serve"));
  process.on("exit", (code) => {
    try {
      abandon();
    } catch (err) {
      log("error", `exit ${code}`, err);
    }
  });
  process.on("uncaughtException", (err) => log("error", "uncaught exception (server kept running)", err));
  process.on("unhandledRejection", (err) => log("error", "unhandled rejection (server kept running)", err));
  return stop;
}
