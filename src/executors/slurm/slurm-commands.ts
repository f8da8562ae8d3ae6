import { execFile, spawn } from "node:child_process";
import { endOf, type QueuedJob, queueOf, type SlurmEnd, SQUEUE_FORMAT, unknownJob } from "./slurm-parse.js";

export type { QueuedJob } from "./slurm-parse.js";

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
  // --states=all: COMPLETING and the ended states that MinJobAge keeps; ended ones are left out below.
  const out = await slurm("squeue", ["-h", "--states=all", "-o", SQUEUE_FORMAT, "-j", ids.join(",")], env).catch(
    (err: unknown) => {
      // An id the controller has forgotten makes squeue fail for the whole list: "Invalid job id".
      if (err instanceof SlurmError && unknownJob(err.message)) return "";
      throw err;
    },
  );
  return queueOf(out);
}

/**
 * How Slurm says a job ended (`scontrol show job -o`: `ExitCode=code:signal`, which this version gets
 * right where `sacct` does not for codes of 128 and more), or undefined if it no longer knows the job.
 */
export async function slurmEnd(id: string, env: NodeJS.ProcessEnv): Promise<SlurmEnd | undefined> {
  const out = await slurm("scontrol", ["show", "job", "-o", id], env).catch((err: unknown) => {
    if (err instanceof SlurmError && unknownJob(err.message)) return "";
    throw err;
  });
  return endOf(out);
}
