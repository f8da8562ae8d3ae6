import { setTimeout as sleep } from "node:timers/promises";
import { findJobProcesses } from "./proc.js";
import { sendSignal } from "./signals.js";

/** What it takes to end one job and everything it started. */
export interface KillTarget {
  /** Process group of the job: its leader's pid (each job runs in a group of its own); 0 for none. */
  pgid: number;
  /** The job's MCP_BG_JOB_ID, carried by every process it started, in or out of its group. */
  jobId: string;
  /** Settles when the job's main process has exited. */
  exited: Promise<unknown>;
}

const RESCAN_MS = 50;

/**
 * Ends jobs' whole process trees: `signal` to each job's group, then to every process that still
 * carries one of their MCP_BG_JOB_IDs (found in /proc: those that called setsid), and once
 * `graceMs` has passed with any of them alive, SIGKILL to all of them. Resolves when none is left.
 * Several jobs are ended together, with one /proc scan per round for all of them; in the common
 * case (the group obeys the signal) that is a single scan.
 */
export async function killProcessTree(
  targets: KillTarget | readonly KillTarget[],
  signal: NodeJS.Signals,
  graceMs: number,
  /** Pids known not to belong to these jobs, asked afresh for each scan (see findJobProcesses). */
  notTheirs: () => ReadonlySet<number> = () => new Set(),
): Promise<void> {
  const list = Array.isArray(targets) ? targets : [targets as KillTarget];
  const ids = new Set(list.map((t) => t.jobId));
  const deadline = Date.now() + graceMs;
  const exited = Promise.all(list.map((t) => t.exited));
  const signalGroups = (sig: NodeJS.Signals) => {
    for (const t of list) if (t.pgid > 0) sendSignal(-t.pgid, sig);
  };
  signalGroups(signal);
  const signalled = new Set<number>();
  // A job whose group is not known is reached by its id only: look for its processes now, not after the grace.
  if (signal !== "SIGKILL" && list.some((t) => t.pgid <= 0)) {
    for (const pid of findJobProcesses(ids, notTheirs()).keys()) {
      sendSignal(pid, signal);
      signalled.add(pid);
    }
  }
  if (signal !== "SIGKILL") {
    // The main processes' exits are events; escapees out of the groups can only be looked for.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    for (;;) {
      const rest = findJobProcesses(ids, notTheirs());
      if (rest.size === 0) {
        await exited;
        return;
      }
      if (Date.now() >= deadline) break;
      for (const pid of rest.keys()) {
        if (signalled.has(pid)) continue;
        sendSignal(pid, signal);
        signalled.add(pid);
      }
      await sleep(Math.min(RESCAN_MS, Math.max(1, deadline - Date.now())));
    }
  }
  for (let round = 0; round < 100; round++) {
    signalGroups("SIGKILL");
    const rest = findJobProcesses(ids, notTheirs());
    if (rest.size === 0) break;
    for (const pid of rest.keys()) sendSignal(pid, "SIGKILL");
    await sleep(10);
  }
  await exited;
}
