import { killCgroup } from "../process/cgroups.js";
import { killProcessTree } from "../process/kill-tree.js";
import { BOOT_ID, processStartTime } from "../process/proc.js";
import type { TreeRoot } from "../process/process-tree.js";
import { sendSignal } from "../process/signals.js";
import type { Job } from "./job.js";
import type { JobRegistry } from "./job-registry.js";

/**
 * The job's process group, if its number still means it: a group outlives its leader, but once
 * the leader's pid belongs to another process, the group is gone (0: reach it by its id only).
 */
export function groupOf(job: Job): number {
  const pid = job.pid;
  if (!pid || (job.row.boot_id !== null && job.row.boot_id !== BOOT_ID)) return 0;
  const start = processStartTime(pid);
  return start === undefined || start === job.row.pid_start ? pid : 0;
}

// Pids that cannot carry these jobs' ids: the shepherd of every job this process runs, and the
// main process of every other one (it carries its own id). A kill's /proc scan need not read them.
function pidsOfOtherJobs(registry: JobRegistry, ids: ReadonlySet<string>): Set<number> {
  const pids = new Set<number>();
  for (const job of registry.known()) {
    if (!job.running || !job.process) continue;
    pids.add(job.process.shepherdPid);
    if (!ids.has(job.id) && job.pid !== null) pids.add(job.pid);
  }
  return pids;
}

/**
 * Ends these running jobs and everything they started as one batch (one /proc scan per round for
 * all of them), resolving once all of it is gone and their ends are recorded. The kill is recorded
 * first, so whichever process sees a job's end records it as `killed` (`timed_out` too if set).
 */
export function killJobs(
  registry: JobRegistry,
  jobs: Job[],
  signal: NodeJS.Signals,
  graceMs: number,
  timedOut = false,
): Promise<void> {
  const live = jobs.filter((j) => j.running);
  const deadline = Date.now() + (signal === "SIGKILL" ? 0 : graceMs);
  for (const job of live) {
    registry.store.requestKill(job.id, timedOut, deadline);
    job.row = {
      ...job.row,
      kill_requested: 1,
      timed_out: job.row.timed_out || (timedOut ? 1 : 0),
      kill_deadline_ms: Math.min(job.row.kill_deadline_ms ?? deadline, deadline),
    };
    registry.follow(job);
  }
  const ids = new Set(live.map((j) => j.id));
  return killProcessTree(
    live.map((j) => ({ ...j.treeRoot(), pgid: groupOf(j), exited: j.ended })),
    signal,
    graceMs,
    () => pidsOfOtherJobs(registry, ids),
    registry.findTree,
  );
}

/**
 * Ends what an ended job left running (background children carrying its id, or still in its
 * cgroup, or still under its shepherd). Its process group may be gone and its number reused: the
 * leftovers are reached by those means only.
 */
export function killLeftovers(registry: JobRegistry, job: Job, signal: NodeJS.Signals, graceMs: number) {
  return killProcessTree(
    { ...job.treeRoot(), pgid: 0, exited: Promise.resolve() },
    signal,
    graceMs,
    () => pidsOfOtherJobs(registry, new Set([job.id])),
    registry.findTree,
  );
}

/** SIGKILLs whatever is still left of these jobs, and the group of `pgid` if given. */
export async function reapLeftovers(registry: JobRegistry, roots: readonly TreeRoot[], pgid?: number): Promise<void> {
  if (pgid) sendSignal(-pgid, "SIGKILL");
  for (const root of roots) if (root.cgroup) killCgroup(root.cgroup);
  for (const pid of (await registry.findTree(roots, new Set())).keys()) sendSignal(pid, "SIGKILL");
}
