import type { Config } from "../config/config.js";
import { LocalExecutor } from "../executors/local/local-executor.js";
import { SHEPHERD_PATH } from "../executors/local/shepherd-binary.js";
import { RoutingExecutor } from "../executors/routing-executor.js";
import { SlurmExecutor } from "../executors/slurm/slurm-executor.js";
import type { TreeFinder } from "../process/kill-tree.js";

/** Remaining output is drained for at most this long after a job's exit. */
const DRAIN_MS = 500;

/**
 * The executors a server has, from its configuration: always the local one (it also reads the jobs
 * of executors it lacks), and Slurm when configured.
 */
export function buildExecutors(
  config: Config,
  jobsDir: string,
  server: boolean,
  findTree: TreeFinder,
): { router: RoutingExecutor; slurm: SlurmExecutor | undefined } {
  const local = new LocalExecutor({
    jobsDir,
    env: config.baseEnv,
    drainMs: DRAIN_MS,
    cgroups: config.cgroups,
    findTree,
    server,
  });
  const slurm = config.slurm
    ? new SlurmExecutor({
        jobsDir,
        env: config.baseEnv,
        shepherdPath: SHEPHERD_PATH,
        drainMs: DRAIN_MS,
        partition: config.slurmPartition,
        account: config.slurmAccount,
        timeMinutes: config.slurmTimeMinutes,
        sbatchArgs: config.slurmSbatchArgs,
      })
    : undefined;
  return { router: new RoutingExecutor(local, new Map(slurm ? [["slurm", slurm]] : [])), slurm };
}
