import { execFile, spawn } from "node:child_process";

/** Longest one Slurm command may take: a controller that does not answer must not hold anything up. */
export const SLURM_COMMAND_MS = 15_000;

/** A Slurm command that failed: its own words (the last line of its stderr), or why it did not run. */
export class SlurmError extends Error {}

/**
 * Runs a Slurm client command (sbatch, squeue, scancel, scontrol) without a shell, with a time limit,
 * in the given environment (SLURM_CONF and the like come from the server's). Resolves with its stdout;
 * rejects with SlurmError naming what Slurm said.
 */
export function slurm(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = SLURM_COMMAND_MS,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { env, timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 16 * 1024 * 1024, encoding: "utf8" },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const e = err as NodeJS.ErrnoException & { killed?: boolean };
        if (e.code === "ENOENT") return reject(new SlurmError(`${command} is not installed (no Slurm client here)`));
        if (e.killed) return reject(new SlurmError(`${command} did not answer in ${timeoutMs / 1000} s`));
        const said = `${stderr ?? ""}`.trim().split("\n").pop()?.trim();
        reject(new SlurmError(said || `${command} failed (${e.message})`));
      },
    );
  });
}

/**
 * Starts a Slurm client command and does not wait for it (this process is exiting: the command
 * outlives it); a command that cannot start is no error.
 */
export function slurmDetached(command: string, args: readonly string[], env: NodeJS.ProcessEnv): void {
  try {
    spawn(command, args, { env, stdio: "ignore", detached: true }).on("error", () => {});
  } catch {}
}

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

/** Ids asked about in one `squeue` (its command line stays short however many jobs are watched). */
const IDS_PER_CALL = 500;

/** The jobs of these Slurm ids that the queue still shows (ids it does not know are left out). */
export async function queued(ids: readonly string[], env: NodeJS.ProcessEnv): Promise<Map<string, QueuedJob>> {
  const found = new Map<string, QueuedJob>();
  for (let i = 0; i < ids.length; i += IDS_PER_CALL) {
    for (const [id, job] of await queuedOnce(ids.slice(i, i + IDS_PER_CALL), env)) found.set(id, job);
  }
  return found;
}

async function queuedOnce(ids: readonly string[], env: NodeJS.ProcessEnv): Promise<Map<string, QueuedJob>> {
  const found = new Map<string, QueuedJob>();
  // --states=all: COMPLETING and the ended states that MinJobAge keeps; ended ones are left out below.
  const out = await slurm("squeue", ["-h", "--states=all", "-o", "%i|%T|%N|%r", "-j", ids.join(",")], env).catch(
    (err: unknown) => {
      // An id the controller has forgotten makes squeue fail for the whole list: "Invalid job id".
      if (err instanceof SlurmError && /invalid job id/i.test(err.message)) return "";
      throw err;
    },
  );
  for (const line of out.split("\n")) {
    const [id, state, node, reason] = line.split("|");
    if (!id || !state) continue;
    if (ENDED_STATES.has(state)) continue;
    found.set(id, { id, state, node: node ?? "", reason: reason ?? "" });
  }
  return found;
}

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

/**
 * How Slurm says a job ended (`scontrol show job -o`: `ExitCode=code:signal`, which this version gets
 * right where `sacct` does not for codes of 128 and more), or undefined if it no longer knows the job.
 */
export async function slurmEnd(
  id: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; signal: number | null; state: string; reason: string } | undefined> {
  const out = await slurm("scontrol", ["show", "job", "-o", id], env).catch((err: unknown) => {
    if (err instanceof SlurmError && /invalid job id/i.test(err.message)) return "";
    throw err;
  });
  const exit = /\bExitCode=(\d+):(\d+)/.exec(out);
  const state = /\bJobState=(\S+)/.exec(out)?.[1] ?? "";
  const reason = /\bReason=(\S+)/.exec(out)?.[1] ?? "";
  if (!exit) return undefined;
  const code = Number(exit[1]);
  const signal = Number(exit[2]);
  return { code: signal ? null : code, signal: signal || null, state, reason };
}
