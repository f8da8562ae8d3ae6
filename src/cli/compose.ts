import { join } from "node:path";
import type { Config } from "../config/config.js";
import { JobEngine } from "../engine/index.js";
import { LocalExecutor } from "../executors/local/local-executor.js";
import { SHEPHERD_PATH } from "../executors/local/shepherd-binary.js";
import { RoutingExecutor } from "../executors/routing-executor.js";
import { SlurmExecutor } from "../executors/slurm/slurm-executor.js";
import { TextWorkers } from "../workers/workers.js";

/** Remaining output is drained for at most this long after a job's exit. */
const DRAIN_MS = 500;

/**
 * What a program does with jobs: a server starts and owns them and takes over dead servers' jobs;
 * the command line (`cli`) only looks and kills; `run` starts jobs but takes over nothing.
 */
export type Role = "server" | "cli" | "run";

/**
 * Where the program is composed: the workers, the executors (local, and Slurm, which costs nothing
 * until a Slurm job is seen, so that every job of the state dir can be read, waited on and killed
 * wherever it runs; whether new jobs may go to Slurm is the configuration's), and the engine over them.
 * The engine knows executors by their interface only.
 */
export function openJobEngine(config: Config, role: Role = "server"): JobEngine {
  const text = new TextWorkers();
  const jobsDir = join(config.stateDir, "jobs");
  const local = new LocalExecutor({
    jobsDir,
    env: config.baseEnv,
    drainMs: DRAIN_MS,
    cgroups: config.cgroups,
    findTree: (roots, skip) => text.findTree(roots, skip),
    server: role !== "cli",
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
  const refusal = () =>
    config.slurm
      ? undefined
      : "The slurm executor is not configured on this server (start it with --executor slurm, or MCP_BG_SLURM=1 to offer Slurm beside local jobs)";
  const executors = new RoutingExecutor(local, new Map([["slurm", slurm]]), refusal);
  try {
    return new JobEngine(config, { executors, text }, { server: role !== "cli", watch: role === "server" });
  } catch (err) {
    text.close();
    throw err;
  }
}
