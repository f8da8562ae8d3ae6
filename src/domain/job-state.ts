// The job as the engine knows it: one typed shape, whatever stores or runs it. Imports nothing.

/**
 * Every status a job can have, in the order people read them. `queued`: accepted, not started yet
 * (waiting for a slot, for the jobs it comes after, or for its next restart).
 */
export const JOB_STATUSES = ["running", "completed", "failed", "killed", "queued"] as const;

/** Where a job is in its life. */
export type JobStatus = (typeof JOB_STATUSES)[number];

/** The statuses of a job that has ended for good. */
export const END_STATUSES = ["completed", "failed", "killed"] as const;

/** Whether a job in this status has ended for good (a queued job has not: it will run). */
export const isEnded = (status: JobStatus) => status !== "running" && status !== "queued";

/** When a job that ends is started again. */
export const RESTARTS = ["no", "on-failure", "always"] as const;
export type RestartPolicy = (typeof RESTARTS)[number];

/** What the jobs a job comes after must have done before it starts. */
export const AFTER_CONDITIONS = ["completed", "ended", "ready"] as const;
export type AfterCondition = (typeof AFTER_CONDITIONS)[number];

/** What says a job is ready (its readiness probe): a line of output, a port, an http answer. */
export interface ReadyProbe {
  until?: string;
  port?: number;
  http?: string;
}

/**
 * What a job was asked to be, kept with it so that any server can start it later (from the queue)
 * or again (a restart): everything a start needs besides its record's command, cwd and pty.
 */
export interface JobPlan {
  env: Record<string, string>;
  timeoutSeconds: number | null;
  confine: ConfineAsk;
  /** It waits for a slot when the job limit is reached, instead of being refused. */
  queue: boolean;
  after: string[];
  afterCondition: AfterCondition;
  restart: RestartPolicy;
  maxRestarts: number;
  ready: ReadyProbe | null;
  /** The Procfile that `up` started it from (`down` stops them), if any. */
  group: string | null;
}

/** How a run of a job ended, as kept between its runs. */
export interface RunEnd {
  code: number | null;
  signal: string | null;
  endedMs: number;
  /** How long it waited before it started again (1 s, doubling to 60 s; 1 s after a run of 60 s or more). */
  delayMs: number;
}

/** The wait before the first restart, the longest one, and how long a run must last to start the doubling over. */
export const RESTART_DELAY_MS = { first: 1000, most: 60_000, resetAfter: 60_000 } as const;

/** How long a job whose run ended so (having started at `startedMs`) waits before it starts again. */
export function restartDelay(job: Pick<JobState, "startedMs" | "lastExit">, endedMs: number): number {
  const prev = job.lastExit?.delayMs;
  if (prev === undefined || endedMs - job.startedMs >= RESTART_DELAY_MS.resetAfter) return RESTART_DELAY_MS.first;
  return Math.min(RESTART_DELAY_MS.most, prev * 2);
}

/** Whether a job's plan has it start again after a run that ended so (and a kill was not asked for). */
export function restartsAfter(job: JobState, end: Pick<JobEnd, "code" | "lost">): boolean {
  const plan = job.plan;
  if (!plan || plan.restart === "no" || job.killRequested || job.restarts >= plan.maxRestarts) return false;
  return plan.restart === "always" || end.lost || end.code !== 0;
}

/** Where jobs can run. */
export const EXECUTORS = ["local", "slurm"] as const;
export type ExecutorName = (typeof EXECUTORS)[number];

/** A process named for good: its pid and its start time (a pid alone may be reused). */
export interface ProcessRef {
  pid: number;
  start: number;
}

/** Who owns running jobs: a server process, named by pid and start time within one boot. */
export interface Owner {
  pid: number;
  start: number;
  /** The boot it runs in (Linux: /proc/sys/kernel/random/boot_id; macOS: kern.bootsessionuuid); null if unknown. */
  bootId: string | null;
}

/** How a job ended. */
export interface JobEnd {
  /** Exit code, or null when a signal ended it or its end could not be observed. */
  code: number | null;
  /** Name of the signal that ended it, or null. */
  signal: string | null;
  endedMs: number;
  /** Its end could not be observed (its processes were gone when it was looked for). */
  lost: boolean;
  /** What it used and the limit it ran into, as read at its end (where the executor can). */
  usage?: Usage | null;
  limitHit?: LimitHit | null;
}

/** What a job asks to be confined by (its own arguments over the server's defaults). */
export interface ConfineAsk {
  sandbox: Sandbox;
  network: boolean;
  /** Folders a workspace sandbox may write below besides the job's cwd and the temp dir. */
  writable: string[];
  limits: Limits;
}

/** Limits on a job's resources (null: none). */
export interface Limits {
  memory_bytes: number | null;
  /** Cores (1.5: one and a half cores' time). */
  cpu: number | null;
  /** Processes and threads at once. */
  processes: number | null;
}

/** How far a job's sandbox goes, from none to most. */
export const SANDBOXES = ["off", "workspace", "read-only"] as const;
export type Sandbox = (typeof SANDBOXES)[number];

/** What confines a job, as enforced (not as asked). */
export interface Confinement {
  sandbox: Sandbox;
  network: boolean;
  /** Folders it may write below (with a sandbox); [] without one. */
  writable: string[];
  limits: Limits;
  /** What enforces it, in words ("Landlock ABI 7", "seccomp", "cgroup v1 memory"). */
  via: string[];
  /** The cgroups that hold its limits (and its usage). */
  cgroups: string[];
}

/** What a job has used, from its cgroups; a figure that cannot be had is null. */
export interface Usage {
  cpu_seconds: number | null;
  memory_bytes: number | null;
  peak_memory_bytes: number | null;
  processes: number | null;
  peak_processes: number | null;
}

/** A limit a job ran into: memory (the kernel killed it), processes (forks were refused). */
export type LimitHit = "memory" | "processes";

/** A job: what was asked for, where it runs, and how far it has got. */
export interface JobState {
  id: string;
  command: string;
  name: string | null;
  cwd: string;
  pty: boolean;
  status: JobStatus;
  startedMs: number;
  completedMs: number | null;
  exitCode: number | null;
  signal: string | null;
  /** Killed by its timeout. */
  timedOut: boolean;
  lost: boolean;
  /** A kill was asked for: its end reads `killed`, whoever sees it. */
  killRequested: boolean;
  /** A kill under way escalates to SIGKILL at this time. */
  killDeadlineMs: number | null;
  /** The server that started it or took it over; null for none (recovered from its folder). */
  owner: Owner | null;
  /** It outlives its server's normal stop (keep-jobs). */
  keep: boolean;
  /** Its timeout: killed at this time. */
  deadlineMs: number | null;
  /** The boot its processes belong to; null if unknown. */
  bootId: string | null;
  executor: ExecutorName;
  /** The job's main process, once known. */
  process: ProcessRef | null;
  /** Its shepherd (the process that captures its output), or, while it starts, the process starting it. */
  shepherd: ProcessRef | null;
  /** Its own cgroup, as its shepherd reported it; null if it has none or it is not known. */
  cgroup: string | null;
  /** The executor's own name for it (a Slurm job id); null for local jobs. */
  executorId: string | null;
  /** The machine it runs on, once known; null for local jobs. */
  node: string | null;
  /** Its sandbox and limits, as enforced; null for none (a job of an older server). */
  confinement: Confinement | null;
  /** What it used, as read at its end; null while it runs or where nothing could be read. */
  usage: Usage | null;
  /** The limit it ran into, if any. */
  limitHit: LimitHit | null;
  /** What it was asked to be (for a start from the queue, a restart); null for jobs of older servers. */
  plan: JobPlan | null;
  /** How often it has been started again (see JobPlan.restart). */
  restarts: number;
  /** Queued for a restart: when it starts again. */
  nextStartMs: number | null;
  /** How its last run ended, once it has been restarted. */
  lastExit: RunEnd | null;
  /** When its readiness probe first matched in this run; null if not (yet). */
  readyMs: number | null;
  /** Why it ended without being started (a job it came after failed); null otherwise. */
  notStarted: string | null;
}

/**
 * The one status rule: what a job that has ended this way is. A kill asked for (by anyone, a timeout
 * included) makes it `killed`; an end that was not seen, or a non-zero exit, `failed`.
 */
export function statusOf(end: Pick<JobEnd, "code" | "lost">, killRequested: boolean): JobStatus {
  if (killRequested) return "killed";
  return end.lost || end.code !== 0 ? "failed" : "completed";
}

/** The job once it has ended this way (an end is final: an ended job stays as it is). */
export function ended(job: JobState, end: JobEnd): JobState {
  if (isEnded(job.status)) return job;
  return {
    ...job,
    status: statusOf(end, job.killRequested),
    exitCode: end.code,
    signal: end.signal,
    completedMs: end.endedMs,
    lost: end.lost,
    usage: end.usage ?? job.usage,
    limitHit: end.limitHit ?? job.limitHit,
  };
}

/** How a job that has ended ended, from its state. */
export function endOf(job: JobState): JobEnd {
  return { code: job.exitCode, signal: job.signal, endedMs: job.completedMs ?? Date.now(), lost: job.lost };
}

/** The end of a job whose processes went without a word: no exit code, no signal, now. */
export const lostEnd = (): JobEnd => ({ code: null, signal: null, endedMs: Date.now(), lost: true });

/** What a job id (a UUID v4, as servers make them) and so a job folder's name look like. */
export const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A running job: what is given, the rest not known or not yet happened. */
export function runningJob(
  given: Pick<JobState, "id" | "command" | "cwd" | "startedMs" | "bootId"> & Partial<JobState>,
): JobState {
  return {
    name: null,
    pty: false,
    completedMs: null,
    exitCode: null,
    signal: null,
    timedOut: false,
    lost: false,
    killRequested: false,
    killDeadlineMs: null,
    owner: null,
    keep: false,
    deadlineMs: null,
    executor: "local",
    process: null,
    shepherd: null,
    cgroup: null,
    executorId: null,
    node: null,
    confinement: null,
    usage: null,
    limitHit: null,
    plan: null,
    restarts: 0,
    nextStartMs: null,
    lastExit: null,
    readyMs: null,
    notStarted: null,
    ...given,
    status: "running",
  };
}
