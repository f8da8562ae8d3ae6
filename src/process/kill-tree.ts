import { setTimeout as sleep } from "node:timers/promises";
import { killCgroup } from "./cgroups.js";
import { OS } from "./platform.js";
import { readStat } from "./proc.js";
import { findTreeProcesses, type TreeRoot } from "./process-tree.js";
import { sendSignal } from "./signals.js";

/** What it takes to end one job and everything it started. */
export interface KillTarget extends TreeRoot {
  /** Process group of the job: its leader's pid (each job runs in a group of its own); 0 for none. */
  pgid: number;
  /** Settles when the job's main process has exited. */
  exited: Promise<unknown>;
}

/** Finds the live processes of jobs (pid -> job id), leaving out `skip` (see findTreeProcesses). */
export type TreeFinder = (roots: readonly TreeRoot[], skip: ReadonlySet<number>) => Promise<Map<number, string>>;

/** Looks on this thread (for tests and the command line); a server looks in a worker (TextWorkers.findTree). */
export const findHere: TreeFinder = async (roots, skip) => findTreeProcesses(roots, skip);

const RESCAN_MS = 50;
/** Rounds of stopping (SIGSTOP) what is left before the SIGKILL, at most: a process that forks as fast as it is killed cannot outrun being stopped. */
const FREEZE_ROUNDS = 20;

/**
 * What a kill has seen of its jobs' processes, where a process whose parent dies leaves its shepherd's
 * tree (no subreaper: macOS, portable mode): each one seen is signalled again while it lives (checked
 * by its start time), found or not by a later look.
 */
class Seen {
  private readonly seen = new Map<number, { start: number; jobId: string }>();

  /** The processes a look found, and those seen before that still live (of these jobs). */
  add(found: Map<number, string>, jobIds: ReadonlySet<string>): Map<number, string> {
    for (const [pid, jobId] of found) {
      if (this.seen.has(pid)) continue;
      const stat = readStat(pid);
      if (stat && stat !== "unknown") this.seen.set(pid, { start: stat.start, jobId });
    }
    for (const [pid, { start, jobId }] of this.seen) {
      if (found.has(pid) || !jobIds.has(jobId)) continue;
      const stat = readStat(pid);
      // Not known now: still signalled (its pid and start were seen; a failed look is no end).
      if (stat === "unknown" || (stat && stat.start === start && stat.state !== "Z")) found.set(pid, jobId);
      else this.seen.delete(pid);
    }
    return found;
  }
}

/**
 * Ends jobs' whole process trees: `signal` to each job's group, then to every other process of
 * theirs (its cgroup's members, or its shepherd's descendants and the processes that carry its
 * MCP_BG_JOB_ID: see findTreeProcesses), and once `graceMs` has passed with any of them alive,
 * SIGKILL to all of them: a cgroup's all at once; elsewhere they are first stopped, so that none can
 * fork a new one meanwhile. Resolves when none is left. Several jobs are ended together, with one
 * look at the processes per round for all of them; in the common case (the group obeys the signal)
 * that is a single look. Where orphans leave the shepherd's tree (OS.adoptsOrphans false), it looks
 * first and signals what it saw, before a dying parent can orphan its children.
 */
export async function killProcessTree(
  targets: KillTarget | readonly KillTarget[],
  signal: NodeJS.Signals,
  graceMs: number,
  /** Pids known not to belong to these jobs, asked afresh for each scan (see findTreeProcesses). */
  notTheirs: () => ReadonlySet<number> = () => new Set(),
  find: TreeFinder = findHere,
): Promise<void> {
  const list = Array.isArray(targets) ? targets : [targets as KillTarget];
  const deadline = Date.now() + graceMs;
  const exited = Promise.all(list.map((t) => t.exited));
  const seen = OS.adoptsOrphans ? undefined : new Seen();
  const scan = async (roots: readonly KillTarget[] = list) => {
    const found = await find(roots, notTheirs());
    return seen ? seen.add(found, new Set(roots.map((r) => r.jobId))) : found;
  };
  const signalGroups = (sig: NodeJS.Signals) => {
    for (const t of list) if (t.pgid > 0) sendSignal(-t.pgid, sig);
  };
  const signalled = new Set<number>();
  if (seen) {
    // Everything of the jobs first (stopped first where the signal is SIGKILL), then their groups.
    const first = await scan();
    for (const pid of first.keys()) {
      sendSignal(pid, signal === "SIGKILL" ? "SIGSTOP" : signal);
      signalled.add(pid);
    }
  }
  // (A SIGKILL waits for the rounds below there: a group's end would orphan what it has not stopped.)
  if (!(seen && signal === "SIGKILL")) signalGroups(signal);
  if (signal !== "SIGKILL") {
    // Jobs with a cgroup, cheap to list, and jobs whose group is not known (reached only through
    // their processes) have all their processes signalled now; the rest once their main process
    // has exited, when one scan finds what is left outside their groups.
    const now = list.filter((t) => t.cgroup !== undefined || t.pgid <= 0);
    for (const pid of now.length > 0 && !seen ? (await scan(now)).keys() : []) {
      sendSignal(pid, signal);
      signalled.add(pid);
    }
    // The main processes' exits are events; the rest can only be looked for.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    for (;;) {
      const rest = await scan();
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
  const killCgroups = () => {
    for (const t of list) if (t.cgroup) killCgroup(t.cgroup);
  };
  // Without a subreaper, what the group's end would orphan is stopped before the group is killed.
  if (!seen) {
    signalGroups("SIGKILL");
    killCgroups();
  }
  // What is outside a cgroup is stopped first, round after round, until a look finds nothing new.
  const stopped = new Set<number>();
  for (let round = 0; round < FREEZE_ROUNDS; round++) {
    let fresh = 0;
    for (const pid of (await scan()).keys()) {
      if (stopped.has(pid)) continue;
      sendSignal(pid, "SIGSTOP");
      stopped.add(pid);
      fresh++;
    }
    if (fresh === 0) break;
  }
  for (let round = 0; round < 100; round++) {
    signalGroups("SIGKILL");
    killCgroups();
    const rest = await scan();
    if (rest.size === 0) break;
    for (const pid of rest.keys()) sendSignal(pid, "SIGKILL");
    await sleep(10);
  }
  await exited;
}
