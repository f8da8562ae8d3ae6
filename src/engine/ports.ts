import { MAX_PORTS_SHOWN } from "../domain/defaults.js";
import type { Executor } from "../executors/executor.js";
import type { TextWorkers } from "../workers/workers.js";
import type { TrackedJob } from "./tracked-job.js";

/**
 * The TCP ports running jobs' processes listen on, in one look at the processes (in a worker) for all of
 * them: job id -> the lowest MAX_PORTS_SHOWN ports of each. Not those of jobs run elsewhere.
 */
export async function portsOf(
  jobs: readonly TrackedJob[],
  executor: Executor,
  text: TextWorkers,
): Promise<Map<string, number[]>> {
  const roots = jobs.filter((j) => j.running).flatMap((j) => executor.processRoot(j.state) ?? []);
  if (roots.length === 0) return new Map();
  const found = await text.listeningPorts(roots);
  for (const [id, ports] of found) found.set(id, [...new Set(ports)].sort((a, b) => a - b).slice(0, MAX_PORTS_SHOWN));
  return found;
}
