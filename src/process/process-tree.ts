import { cgroupProcesses } from "./cgroups.js";
import { OS } from "./platform.js";

/** A process named for good: its pid and its start time (see ProcStat). */
export interface ProcessRef {
  pid: number;
  start: number;
}

/** Where a job's processes can be found. */
export interface TreeRoot {
  /** The job's MCP_BG_JOB_ID, carried by the processes it starts unless they drop it. */
  jobId: string;
  /** The job's shepherd: while it lives, the job's processes are its descendants (on Linux, orphans too: it is a subreaper). */
  shepherd?: ProcessRef;
  /** The job's cgroup, if it has one: it lists every process of the job, whatever they did. */
  cgroup?: string;
}

/**
 * The live processes of these jobs (pid -> job id). A job with a cgroup: the cgroup's members.
 * Otherwise, from one look at all processes: the descendants of its shepherd (processes that called
 * setsid, dropped or changed MCP_BG_JOB_ID or rewrote their title are still its descendants), and
 * any process that carries its MCP_BG_JOB_ID (found even if its shepherd is gone). `skip` names
 * pids known not to be these jobs' (other jobs' shepherds and main processes): their environments
 * are not read, which is most of the cost when many jobs run.
 */
export async function findTreeProcesses(
  roots: readonly TreeRoot[],
  skip: ReadonlySet<number> = new Set(),
): Promise<Map<number, string>> {
  const found = new Map<number, string>();
  const scanned: TreeRoot[] = [];
  for (const root of roots) {
    const members = root.cgroup ? cgroupProcesses(root.cgroup) : undefined;
    if (members) for (const pid of members) found.set(pid, root.jobId);
    else scanned.push(root);
  }
  if (scanned.length === 0) return found;
  const ids = new Set(scanned.map((r) => r.jobId));
  const withShepherd = scanned.filter((r) => r.shepherd);
  const look = await OS.scan(ids, skip, withShepherd.length > 0);
  for (const [pid, id] of look.carriers) found.set(pid, id);
  if (!look.table) return found;
  const children = new Map<number, number[]>();
  for (const [pid, stat] of look.table) {
    if (stat.state === "Z") continue; // only a zombie left: nothing to end
    const siblings = children.get(stat.ppid);
    if (siblings) siblings.push(pid);
    else children.set(stat.ppid, [pid]);
  }
  for (const { shepherd, jobId } of withShepherd) {
    const alive = shepherd && look.table.get(shepherd.pid);
    if (!shepherd || !alive || alive.start !== shepherd.start || alive.state === "Z") continue;
    const queue = [...(children.get(shepherd.pid) ?? [])];
    for (let pid = queue.pop(); pid !== undefined; pid = queue.pop()) {
      found.set(pid, jobId);
      queue.push(...(children.get(pid) ?? []));
    }
  }
  return found;
}
