import { constants } from "node:os";

const byNumber = new Map<number, string>(Object.entries(constants.signals).map(([name, num]) => [num as number, name]));

/** Signal name (`SIGTERM`) for a signal number, or undefined when unknown or 0. */
export function signalName(num: number): string | undefined {
  return num > 0 ? byNumber.get(num) : undefined;
}

/** Sends a signal, ignoring a process (or group, for negative pids) that is already gone. */
export function sendSignal(pid: number, signal: NodeJS.Signals | number): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}
