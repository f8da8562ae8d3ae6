import { setTimeout as sleep } from "node:timers/promises";
import { findJobProcesses } from "./proc.js";
import { sendSignal } from "./signals.js";

/** What it takes to end one job and everything it started. */
export interface KillTarget {
  /** Process group of the job (its leader's pid: the job runs in its own session). */
  pgid: number;
  /** The job's MCP_BG_JOB_ID, carried by every process it started, in or out of its group. */
  jobId: string;
  /** Settles when the job's main process has exited. */
  exited: Promise<unknown>;
}

const RESCAN_MS = 50;

// Sends a signal to the job's group and to every process carrying its id.
function signalAll(target: KillTarget, signal: NodeJS.Signals): number {
  sendSignal(-target.pgid, signal);
  const rest = findJobProcesses(new Set([target.jobId]));
  for (const pid of rest.keys()) sendSignal(pid, signal);
  return rest.size;
}

/**
 * Ends a job's whole process tree: `signal` to its group and to every process that carries its
 * MCP_BG_JOB_ID (even those that called setsid), then, once `graceMs` has passed with any of them
 * still alive, SIGKILL to all of them. Resolves when none is left.
 */
export async function killProcessTree(target: KillTarget, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  if (signal === "SIGKILL") return finish(target);
  signalAll(target, signal);
  // The main process's exit is an event; escapees out of the group can only be looked for.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([target.exited, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
  clearTimeout(timer);
  while (Date.now() < deadline && findJobProcesses(new Set([target.jobId])).size > 0) {
    await sleep(Math.min(RESCAN_MS, Math.max(1, deadline - Date.now())));
  }
  return finish(target);
}

// SIGKILLs whatever is left until nothing carries the job's id, and waits for the main exit.
async function finish(target: KillTarget): Promise<void> {
  for (let round = 0; round < 100; round++) {
    if (signalAll(target, "SIGKILL") === 0) break;
    await sleep(10);
  }
  await target.exited;
}
