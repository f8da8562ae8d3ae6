import type { ExecutorName, JobState, JobStatus, LimitHit, Limits, Usage } from "./job-state.js";

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
  /** The limit it ran into and its value (there only if it did). */
  limit_hit?: { limit: LimitHit; value: number | null };
  /** What it used, as read at its end (there only for an ended job whose cgroup told it). */
  cpu_seconds?: number;
  peak_memory_bytes?: number;
  /** Whether its readiness probe has matched in this run (there only for jobs with one; null unless running). */
  ready?: boolean | null;
  /** How often it was started again (there only for jobs that restart). */
  restarts?: number;
  /** Why it ended without being started (a job it came after failed). */
  not_started?: string;
}

/** What supervises a job (its queue, order, restarts, readiness), as get_job_status reports it. */
export interface SupervisionView {
  /** Its place among the jobs waiting for a slot (1: next); null unless it waits for one. */
  place_in_queue: number | null;
  after: string[];
  after_condition: string | null;
  restart: string;
  max_restarts: number | null;
  restarts: number;
  /** How its last run ended, once it has been restarted. */
  last_exit: { exit_code: number | null; signal: string | null; ended: string | null } | null;
  /** When it starts again (queued for a restart). */
  next_start_at: string | null;
  /** When its readiness probe first matched in this run. */
  ready_at: string | null;
  /** When it last wrote output. */
  last_output_at: string | null;
}

/** What supervises a job, from its state (`place`: its place in the queue; `lastOutputMs` from its files). */
export function supervisionOf(job: JobState, place: number | null, lastOutputMs: number | null): SupervisionView {
  const plan = job.plan;
  const last = job.lastExit;
  return {
    place_in_queue: place,
    after: plan?.after ?? [],
    after_condition: plan && plan.after.length > 0 ? plan.afterCondition : null,
    restart: plan?.restart ?? "no",
    max_restarts: plan && plan.restart !== "no" ? plan.maxRestarts : null,
    restarts: job.restarts,
    last_exit: last ? { exit_code: exitCode(last.code), signal: last.signal, ended: iso(last.endedMs) } : null,
    next_start_at: job.status === "queued" ? iso(job.nextStartMs) : null,
    ready_at: iso(job.readyMs),
    last_output_at: iso(lastOutputMs),
  };
}

/** What confines a job and what it has used, as get_job_status reports them. */
export interface ConfinementView {
  sandbox: "off" | "workspace" | "read-only";
  network: boolean;
  writable: string[];
  /** As enforced (null: none). */
  limits: Limits;
  /** What enforces them, in words. */
  confined_by: string[];
  /** So far (running), or at its end; null where it cannot be read (no cgroup). */
  usage: Usage | null;
  limit_hit: LimitHit | null;
}

/** A job's confinement and usage (`live`: its usage now, for a running job). */
export function confinementOf(job: JobState, live?: { usage: Usage; limitHit: LimitHit | null }): ConfinementView {
  const c = job.confinement;
  return {
    sandbox: c?.sandbox ?? "off",
    network: c?.network ?? true,
    writable: c?.writable ?? [],
    limits: c?.limits ?? { memory_bytes: null, cpu: null, processes: null },
    confined_by: c?.via ?? [],
    usage: live?.usage ?? job.usage,
    limit_hit: live?.limitHit ?? job.limitHit,
  };
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
    ...(typeof job.usage?.cpu_seconds === "number"
      ? { cpu_seconds: Math.round(job.usage.cpu_seconds * 1000) / 1000 }
      : {}),
    ...(typeof job.usage?.peak_memory_bytes === "number" ? { peak_memory_bytes: job.usage.peak_memory_bytes } : {}),
    ...(job.plan?.ready ? { ready: job.status === "running" ? job.readyMs !== null : null } : {}),
    ...(job.restarts > 0 || (job.plan && job.plan.restart !== "no") ? { restarts: job.restarts } : {}),
    ...(job.notStarted ? { not_started: job.notStarted } : {}),
    ...(job.limitHit
      ? {
          limit_hit: {
            limit: job.limitHit,
            value:
              (job.limitHit === "memory" ? job.confinement?.limits.memory_bytes : job.confinement?.limits.processes) ??
              null,
          },
        }
      : {}),
  };
}
