import { setTimeout as sleep } from "node:timers/promises";
import { killCgroup } from "./cgroups.js";
import { findTreeProcesses, type TreeRoot } from "./job-tree.js";
import { sendSignal } from "./signals.js";

/** What it takes to end one job and everything it started. */
export interface KillTarget extends TreeRoot {
  /** Process group of the job: its leader's pid (each job runs in a group of its own); 0 for none. */
  pgid: number;
  /** Settles when the job's main process has exited. */
  exited: Promise<unknown>;
}

const RESCAN_MS = 50;

/**
 * Ends jobs' whole process trees: `signal` to each job's group, then to every other process of
 * theirs (its cgroup's members, or its shepherd's descendants and the processes that carry its
 * MCP_BG_JOB_ID: see findTreeProcesses), and once `graceMs` has passed with any of them alive,
 * SIGKILL to all of them (a cgroup's all at once). Resolves when none is left. Several jobs are
 * ended together, with one /proc scan per round for all of them; in the common case (the group
 * obeys the signal) that is a single scan.
 */
export async function killProcessTree(
  targets: KillTarget | readonly KillTarget[],
  signal: NodeJS.Signals,
  graceMs: number,
  /** Pids known not to belong to these jobs, asked afresh for each scan (see findTreeProcesses). */
  notTheirs: () => ReadonlySet<number> = () => new Set(),
): Promise<void> {
  const list = Array.isArray(targets) ? targets : [targets as KillTarget];
  const deadline = Date.now() + graceMs;
  const exited = Promise.all(list.map((t) => t.exited));
  const find = () => findTreeProcesses(list, notTheirs());
  const signalGroups = (sig: NodeJS.Signals) => {
    for (const t of list) if (t.pgid > 0) sendSignal(-t.pgid, sig);
  };
  signalGroups(signal);
  const signalled = new Set<number>();
  if (signal !== "SIGKILL") {
    // Jobs with a cgroup, cheap to list, and jobs whose group is not known (reached only through
    // their processes) have all their processes signalled now; the rest once their main process
    // has exited, when one scan finds what is left outside their groups.
    const now = list.filter((t) => t.cgroup !== undefined || t.pgid <= 0);
    for (const pid of now.length > 0 ? findTreeProcesses(now, notTheirs()).keys() : []) {
      sendSignal(pid, signal);
      signalled.add(pid);
    }
    // The main processes' exits are events; the rest can only be looked for.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    for (;;) {
      const rest = find();
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
    for (const t of list) if (t.cgroup) killCgroup(t.cgroup);
    const rest = find();
    if (rest.size === 0) break;
    for (const pid of rest.keys()) sendSignal(pid, "SIGKILL");
    await sleep(10);
  }
  await exited;
}
