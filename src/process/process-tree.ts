import { readdirSync } from "node:fs";
import { cgroupProcesses } from "./cgroups.js";
import { environJobId, isSameProcessAlive, readStat } from "./proc.js";

/** A process named for good: its pid and its /proc start time. */
export interface ProcessRef {
  pid: number;
  start: number;
}

/** Where a job's processes can be found. */
export interface TreeRoot {
  /** The job's MCP_BG_JOB_ID, carried by the processes it starts unless they drop it. */
  jobId: string;
  /** The job's shepherd, a subreaper: while it lives, the job's processes are its descendants. */
  shepherd?: ProcessRef;
  /** The job's cgroup, if it has one: it lists every process of the job, whatever they did. */
  cgroup?: string;
}

/**
 * The live processes of these jobs (pid -> job id). A job with a cgroup: the cgroup's members.
 * Otherwise, from one pass over /proc: the descendants of its shepherd (processes that called
 * setsid, dropped or changed MCP_BG_JOB_ID or rewrote their title are still its descendants), and
 * any process that carries its MCP_BG_JOB_ID (found even if its shepherd is gone). `skip` names
 * pids known not to be these jobs' (other jobs' shepherds and main processes): their environments
 * are not read, which is most of the cost when many jobs run.
 */
export function findTreeProcesses(
  roots: readonly TreeRoot[],
  skip: ReadonlySet<number> = new Set(),
): Map<number, string> {
  const found = new Map<number, string>();
  const scanned: TreeRoot[] = [];
  for (const root of roots) {
    const members = root.cgroup ? cgroupProcesses(root.cgroup) : undefined;
    if (members) for (const pid of members) found.set(pid, root.jobId);
    else scanned.push(root);
  }
  if (scanned.length === 0) return found;
  const ids = new Set(scanned.map((r) => r.jobId));
  const shepherds = new Map<number, string>();
  for (const r of scanned) {
    if (r.shepherd && isSameProcessAlive(r.shepherd.pid, r.shepherd.start)) shepherds.set(r.shepherd.pid, r.jobId);
  }
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return found;
  }
  const children = new Map<number, number[]>();
  for (const entry of entries) {
    const code = entry.charCodeAt(0);
    if (code < 48 || code > 57) continue;
    const pid = Number(entry);
    if (shepherds.size > 0) {
      const stat = readStat(pid);
      if (!stat || stat.state === "Z") continue; // gone, or only a zombie left: nothing to end
      const siblings = children.get(stat.ppid);
      if (siblings) siblings.push(pid);
      else children.set(stat.ppid, [pid]);
    }
    if (skip.has(pid)) continue;
    const id = environJobId(pid);
    if (id !== undefined && ids.has(id)) found.set(pid, id);
  }
  for (const [shepherd, jobId] of shepherds) {
    const queue = [...(children.get(shepherd) ?? [])];
    for (let pid = queue.pop(); pid !== undefined; pid = queue.pop()) {
      found.set(pid, jobId);
      queue.push(...(children.get(pid) ?? []));
    }
  }
  return found;
}
