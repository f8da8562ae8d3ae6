import type { ExecutorName, JobState, JobStatus } from "./job-state.js";

/** A job as tools report it (timestamps ISO 8601 UTC, absent values null). */
export interface JobRecord {
  job_id: string;
  status: JobStatus;
  command: string;
  name: string | null;
  cwd: string;
  pid: number | null;
  pty: boolean;
  started: string;
  completed: string | null;
  exit_code: number | null;
  signal: string | null;
  timed_out: boolean;
  /** Its end could not be observed (its processes were gone when it was looked for): exit_code is null. */
  lost: boolean;
  /** Where it runs: `local`, or `slurm`. */
  executor: ExecutorName;
  /** Its Slurm job id; null for local jobs. */
  slurm_job_id: string | null;
  /** The node it runs on, once known; null for local jobs. */
  node: string | null;
}

// A stored time as ISO 8601, or null; a value no date can hold (a garbled record) reads as null.
const iso = (ms: number | null) => {
  const d = ms === null ? undefined : new Date(ms);
  return d && Number.isFinite(d.getTime()) ? d.toISOString() : null;
};

/** An exit code as reported: a whole number from 0 to 255, else null. */
export const exitCode = (n: number | null) => (n !== null && Number.isInteger(n) && n >= 0 && n <= 255 ? n : null);

/** The record tools return, from a job's state. */
export function recordOf(job: JobState): JobRecord {
  return {
    job_id: job.id,
    status: job.status,
    command: job.command,
    name: job.name,
    cwd: job.cwd,
    pid: job.process?.pid ?? null,
    pty: job.pty,
    started: iso(job.startedMs) ?? new Date(0).toISOString(),
    completed: iso(job.completedMs),
    exit_code: exitCode(job.exitCode),
    signal: job.signal,
    timed_out: job.timedOut,
    lost: job.lost,
    executor: job.executor,
    slurm_job_id: job.executor === "slurm" ? job.executorId : null,
    node: job.node,
  };
}
