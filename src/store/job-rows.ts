import type {
  Confinement,
  ExecutorName,
  JobPlan,
  JobState,
  JobStatus,
  LimitHit,
  Owner,
  ProcessRef,
  RunEnd,
  Usage,
} from "../domain/job-state.js";

/** A job's row in the state database, as SQLite holds it (0/1 integers, snake_case). */
export interface JobRow {
  job_id: string;
  command: string;
  name: string | null;
  cwd: string;
  pty: number;
  status: JobStatus;
  started_ms: number;
  completed_ms: number | null;
  exit_code: number | null;
  signal: string | null;
  timed_out: number;
  lost: number;
  kill_requested: number;
  pid: number | null;
  pid_start: number | null;
  shepherd_pid: number | null;
  shepherd_start: number | null;
  owner_pid: number | null;
  owner_start: number | null;
  keep: number;
  deadline_ms: number | null;
  boot_id: string | null;
  kill_deadline_ms: number | null;
  cgroup: string | null;
  executor: string;
  executor_id: string | null;
  node: string | null;
  confinement: string | null;
  usage: string | null;
  limit_hit: string | null;
  plan: string | null;
  restarts: number;
  next_start_ms: number | null;
  last_exit: string | null;
  ready_ms: number | null;
  not_started: string | null;
}

/** The columns, in the order the statements name them. */
export const COLUMNS = [
  "job_id",
  "command",
  "name",
  "cwd",
  "pty",
  "status",
  "started_ms",
  "completed_ms",
  "exit_code",
  "signal",
  "timed_out",
  "lost",
  "kill_requested",
  "pid",
  "pid_start",
  "shepherd_pid",
  "shepherd_start",
  "owner_pid",
  "owner_start",
  "keep",
  "deadline_ms",
  "boot_id",
  "kill_deadline_ms",
  "cgroup",
  "executor",
  "executor_id",
  "node",
  "confinement",
  "usage",
  "limit_hit",
  "plan",
  "restarts",
  "next_start_ms",
  "last_exit",
  "ready_ms",
  "not_started",
] as const;

const ref = (pid: number | null, start: number | null): ProcessRef | null =>
  pid !== null && start !== null ? { pid, start } : null;

const EXECUTORS: readonly string[] = ["local", "slurm"];

// A JSON column: a value that does not parse (a garbled record) reads as null.
function json<T>(text: string | null): T | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === "object" ? (v as T) : null;
  } catch {
    return null;
  }
}

const LIMIT_HITS: readonly string[] = ["memory", "processes"];

/** A row as the engine knows it. Rows from libsql's get() carry an extra `_metadata` key: left out. */
export function toState(row: JobRow): JobState {
  return {
    id: row.job_id,
    command: row.command,
    name: row.name,
    cwd: row.cwd,
    pty: row.pty === 1,
    status: row.status,
    startedMs: row.started_ms,
    completedMs: row.completed_ms,
    exitCode: row.exit_code,
    signal: row.signal,
    timedOut: row.timed_out === 1,
    lost: row.lost === 1,
    killRequested: row.kill_requested === 1,
    killDeadlineMs: row.kill_deadline_ms,
    owner:
      row.owner_pid !== null && row.owner_start !== null
        ? { pid: row.owner_pid, start: row.owner_start, bootId: row.boot_id }
        : null,
    keep: row.keep === 1,
    deadlineMs: row.deadline_ms,
    bootId: row.boot_id,
    executor: (EXECUTORS.includes(row.executor) ? row.executor : "local") as ExecutorName,
    process: ref(row.pid, row.pid_start),
    shepherd: ref(row.shepherd_pid, row.shepherd_start),
    cgroup: row.cgroup,
    executorId: row.executor_id,
    node: row.node,
    confinement: json<Confinement>(row.confinement),
    usage: json<Usage>(row.usage),
    limitHit: row.limit_hit !== null && LIMIT_HITS.includes(row.limit_hit) ? (row.limit_hit as LimitHit) : null,
    plan: json<JobPlan>(row.plan),
    restarts: row.restarts ?? 0,
    nextStartMs: row.next_start_ms ?? null,
    lastExit: json<RunEnd>(row.last_exit),
    readyMs: row.ready_ms ?? null,
    notStarted: row.not_started ?? null,
  };
}

/** A job as its row stores it. */
export function toRow(job: JobState): JobRow {
  return {
    job_id: job.id,
    command: job.command,
    name: job.name,
    cwd: job.cwd,
    pty: job.pty ? 1 : 0,
    status: job.status,
    started_ms: job.startedMs,
    completed_ms: job.completedMs,
    exit_code: job.exitCode,
    signal: job.signal,
    timed_out: job.timedOut ? 1 : 0,
    lost: job.lost ? 1 : 0,
    kill_requested: job.killRequested ? 1 : 0,
    pid: job.process?.pid ?? null,
    pid_start: job.process?.start ?? null,
    shepherd_pid: job.shepherd?.pid ?? null,
    shepherd_start: job.shepherd?.start ?? null,
    owner_pid: job.owner?.pid ?? null,
    owner_start: job.owner?.start ?? null,
    keep: job.keep ? 1 : 0,
    deadline_ms: job.deadlineMs,
    boot_id: job.bootId,
    kill_deadline_ms: job.killDeadlineMs,
    cgroup: job.cgroup,
    executor: job.executor,
    executor_id: job.executorId,
    node: job.node,
    confinement: job.confinement ? JSON.stringify(job.confinement) : null,
    usage: job.usage ? JSON.stringify(job.usage) : null,
    limit_hit: job.limitHit,
    plan: job.plan ? JSON.stringify(job.plan) : null,
    restarts: job.restarts,
    next_start_ms: job.nextStartMs,
    last_exit: job.lastExit ? JSON.stringify(job.lastExit) : null,
    ready_ms: job.readyMs,
    not_started: job.notStarted,
  };
}

/** An owner as the statements name it. */
export const ownerParams = (o: Owner) => [o.pid, o.start, o.bootId] as const;
