// What Slurm's commands are given and what they answer, as pure functions: the command lines built
// and the output read, tested against output recorded from a real cluster (test/support/fixtures/slurm).

/** One job as `squeue` shows it. */
export interface QueuedJob {
  id: string;
  /** PENDING, RUNNING, COMPLETING, ... */
  state: string;
  /** The node it runs on ("" while pending). */
  node: string;
  /** Why it waits (Priority, Resources, PartitionConfig, ...), or "None". */
  reason: string;
}

/** The format `squeue -o` is asked for: what queueOf reads. */
export const SQUEUE_FORMAT = "%i|%T|%N|%r";

/** States of a job that has left its node (MinJobAge keeps them visible a while). */
const ENDED_STATES: ReadonlySet<string> = new Set([
  "COMPLETED",
  "CANCELLED",
  "FAILED",
  "TIMEOUT",
  "NODE_FAIL",
  "PREEMPTED",
  "BOOT_FAIL",
  "DEADLINE",
  "OUT_OF_MEMORY",
  "REVOKED",
  "SPECIAL_EXIT",
]);

/** The jobs `squeue -h --states=all -o SQUEUE_FORMAT` shows that have not left their node, by id. */
export function queueOf(out: string): Map<string, QueuedJob> {
  const found = new Map<string, QueuedJob>();
  for (const line of out.split("\n")) {
    const [id, state, node, reason] = line.split("|");
    if (!id || !state || ENDED_STATES.has(state)) continue;
    found.set(id, { id, state, node: node ?? "", reason: reason ?? "" });
  }
  return found;
}

/** How a job ended, as `scontrol show job -o` says (`ExitCode=code:signal`), or undefined if it does not say. */
export interface SlurmEnd {
  code: number | null;
  signal: number | null;
  state: string;
  reason: string;
}

/** The end in `scontrol show job -o` output (empty for a job Slurm no longer knows): see SlurmEnd. */
export function endOf(out: string): SlurmEnd | undefined {
  const exit = /\bExitCode=(\d+):(\d+)/.exec(out);
  if (!exit) return undefined;
  const state = /\bJobState=(\S+)/.exec(out)?.[1] ?? "";
  const reason = /\bReason=(\S+)/.exec(out)?.[1] ?? "";
  const code = Number(exit[1]);
  const signal = Number(exit[2]);
  return { code: signal ? null : code, signal: signal || null, state, reason };
}

/** Whether a Slurm command's error says the job id is unknown (forgotten, or never there). */
export const unknownJob = (message: string) => /invalid job id/i.test(message);

/** The Slurm job id `sbatch --parsable` answered ("ID" or "ID;CLUSTER"), or undefined if it is not one. */
export function sbatchId(out: string): string | undefined {
  const id = out.trim().split(";")[0] ?? "";
  return /^\d+(_\d+)?$/.test(id) ? id : undefined;
}

/** What a job is submitted with (never a shell string: each option is one argument). */
export interface Submission {
  jobId: string;
  cwd: string;
  /** The job's folder: its batch script and Slurm's own output file go there. */
  dir: string;
  partition?: string;
  account?: string;
  timeMinutes?: number;
  /** More sbatch options, one argument each. */
  extra: readonly string[];
}

/** sbatch's arguments for a job: named after it (found by its name if its submission is lost), its batch script last. */
export function sbatchArgs(s: Submission): string[] {
  return [
    "--parsable",
    `--job-name=mcpbg-${s.jobId}`,
    "--no-requeue",
    `--chdir=${s.cwd}`,
    `--output=${s.dir}/slurm.out`,
    "--open-mode=append",
    "--export=ALL",
    ...(s.partition ? [`--partition=${s.partition}`] : []),
    ...(s.account ? [`--account=${s.account}`] : []),
    ...(s.timeMinutes ? [`--time=${s.timeMinutes}`] : []),
    ...s.extra,
    `${s.dir}/batch.sh`,
  ];
}
