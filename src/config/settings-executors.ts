import type { ExecutorName } from "../domain/job-state.js";
import { bad, integer, jsonStringList, slurmName, yesNo } from "./parsers.js";
import type { Config, Setting } from "./types.js";

/** The settings of where jobs run: cgroups, and the Slurm executor. */
export const EXECUTOR_SETTINGS = [
  {
    key: "cgroups",
    env: "MCP_BG_CGROUPS",
    flag: "--cgroups",
    parse: yesNo,
    help: "1: each job gets a cgroup of its own where cgroup v2 allows (finds all its processes); 0: never",
    default: true,
    shown: "1",
  },
  {
    key: "executor",
    env: "MCP_BG_EXECUTOR",
    flag: "--executor",
    parse: (raw: string, name: string): ExecutorName => {
      if (raw === "local" || raw === "slurm") return raw;
      throw bad(name, raw, "expected local or slurm");
    },
    help: "where jobs run unless execute_command names an executor: local or slurm",
    default: "local",
    shown: "local",
  },
  {
    key: "slurm",
    env: "MCP_BG_SLURM",
    flag: "--slurm",
    parse: yesNo,
    help: "offer the Slurm executor to jobs that ask for it (on whenever --executor slurm)",
    default: false,
    shown: "off",
    isSwitch: true,
  },
  {
    key: "slurmPartition",
    env: "MCP_BG_SLURM_PARTITION",
    flag: "--slurm-partition",
    parse: slurmName,
    help: "Slurm partition for jobs",
    default: undefined,
    shown: "the cluster's default",
  },
  {
    key: "slurmAccount",
    env: "MCP_BG_SLURM_ACCOUNT",
    flag: "--slurm-account",
    parse: slurmName,
    help: "Slurm account to charge",
    default: undefined,
    shown: "the user's default",
  },
  {
    key: "slurmTimeMinutes",
    env: "MCP_BG_SLURM_TIME",
    flag: "--slurm-time",
    parse: integer(1, 525_600),
    help: "Slurm's own time limit per job, in minutes; timeout_seconds is enforced by the server",
    default: undefined,
    shown: "the partition's",
  },
  {
    key: "slurmSbatchArgs",
    env: "MCP_BG_SLURM_SBATCH_ARGS",
    flag: "--slurm-sbatch-args",
    parse: jsonStringList,
    help: 'more sbatch options as a JSON list of strings, one argument each: ["--qos=high","--mem=2G"]',
    default: () => [],
    shown: "none",
  },
  {
    key: "slurmInput",
    env: "MCP_BG_SLURM_INPUT",
    flag: "--slurm-input",
    parse: (raw: string, name: string): "auto" | "srun" | "fifo" => {
      if (raw === "auto" || raw === "srun" || raw === "fifo") return raw;
      throw bad(name, raw, "expected auto, srun or fifo");
    },
    help: "how input reaches Slurm jobs: srun --overlap on their node when it is not this one, srun, fifo",
    default: "auto",
    shown: "auto",
  },
] as const satisfies readonly Setting<keyof Config>[];
