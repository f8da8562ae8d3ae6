import { OS } from "./platform.js";

/**
 * The TCP ports each job's processes listen on. `processes` maps pid -> job id; every job of `jobIds`
 * gets an entry, ascending, each port once. Processes that are gone, or whose descriptors may not be
 * read, add nothing.
 */
export async function listeningPortsByJob(
  processes: ReadonlyMap<number, string>,
  jobIds: Iterable<string>,
): Promise<Map<string, number[]>> {
  const found = new Map<string, Set<number>>();
  for (const id of jobIds) found.set(id, new Set());
  const byPid = await OS.listeningPorts([...processes.keys()]);
  for (const [pid, ports] of byPid) {
    const jobId = processes.get(pid);
    if (jobId === undefined) continue;
    let set = found.get(jobId);
    if (!set) {
      set = new Set();
      found.set(jobId, set);
    }
    for (const port of ports) set.add(port);
  }
  return new Map([...found].map(([id, ports]) => [id, [...ports].sort((a, b) => a - b)]));
}
