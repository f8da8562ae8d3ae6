import type { Config } from "../config/config.js";
import { LocalExecutor } from "../executors/local/local-executor.js";
import { SHEPHERD_PATH } from "../executors/local/shepherd-binary.js";
import { RoutingExecutor } from "../executors/routing-executor.js";
import { SlurmExecutor } from "../executors/slurm/slurm-executor.js";
import type { TreeFinder } from "../process/kill-tree.js";

/** Remaining output is drained for at most this long after a job's exit. */
const DRAIN_MS = 500;

/**
 * The executors a server or the command line has: local, and Slurm (which costs nothing until a Slurm
 * job is seen), so that every job of the state dir can be read, waited on and killed wherever it runs.
 * Whether new jobs may go to Slurm is the configuration's (`slurm`), checked at the start.
 */
export function buildExecutors(
  config: Config,
  jobsDir: string,
  server: boolean,
  findTree: TreeFinder,
): { router: RoutingExecutor; slurm: SlurmExecutor } {
  const local = new LocalExecutor({
    jobsDir,
    env: config.baseEnv,
    drainMs: DRAIN_MS,
    cgroups: config.cgroups,
    findTree,
    server,
  });
  const slurm = new SlurmExecutor({
    jobsDir,
    env: config.baseEnv,
    shepherdPath: SHEPHERD_PATH,
    drainMs: DRAIN_MS,
    partition: config.slurmPartition,
    account: config.slurmAccount,
    timeMinutes: config.slurmTimeMinutes,
    sbatchArgs: config.slurmSbatchArgs,
    input: config.slurmInput,
  });
  return { router: new RoutingExecutor(local, new Map([["slurm", slurm]])), slurm };
}
