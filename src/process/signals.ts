import { constants } from "node:os";

const byNumber: ReadonlyMap<number, string> = new Map(
  Object.entries(constants.signals).map(([name, num]) => [num as number, name]),
);

/** Signal name (`SIGTERM`) for a signal number, or undefined when unknown or 0. */
export function signalName(num: number): string | undefined {
  return num > 0 ? byNumber.get(num) : undefined;
}

/**
 * Sends a signal, ignoring a process (or group, for negative pids) that is already gone. Never to
 * "every process" (-1), this process's group (0), init (1) or this process: a garbled record
 * naming such a pid must not take the machine down.
 */
export function sendSignal(pid: number, signal: NodeJS.Signals | number): void {
  if (!Number.isInteger(pid) || Math.abs(pid) <= 1 || Math.abs(pid) === process.pid) return;
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}
