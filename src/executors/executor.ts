// The executor boundary: everything the engine needs from wherever a job's processes run. The engine
// records, owns, times out and reports jobs; an executor starts them, tells how they are, signals
// them and feeds them input. Output is the same for every executor: ring files in the job's folder
// (see executors/job-folder.ts), read by the engine.
import type {
  ConfineAsk,
  Confinement,
  ExecutorName,
  JobEnd,
  JobState,
  LimitHit,
  ProcessRef,
  Usage,
} from "../domain/job-state.js";
import type { TreeRoot } from "../process/process-tree.js";

export type { ConfineAsk } from "../domain/job-state.js";

/** Nothing at all: a job as jobs were before sandboxes and limits. */
export const UNCONFINED: ConfineAsk = {
  sandbox: "off",
  network: true,
  writable: [],
  limits: { memory_bytes: null, cpu: null, processes: null },
};

/** Whether a request asks for anything to confine the job. */
export const asksConfinement = (ask: ConfineAsk) =>
  ask.sandbox !== "off" || !ask.network || Object.values(ask.limits).some((v) => v !== null);

/** For an executor that confines nothing: a ConfineError if the job asks for a sandbox or limits. */
export function confinesNothing(spec: JobSpec, why: string): void {
  if (asksConfinement(spec.confine))
    throw new ConfineError(`a sandbox, network: false and limits apply to local jobs: ${why}`);
}

/** What to run, and where its files go. */
export interface JobSpec {
  command: string;
  /** The shell that runs `-c COMMAND`. */
  shell: string;
  cwd: string;
  /** Variables the job gets besides the server's own environment. */
  env: Record<string, string>;
  /** Run under a pseudo-terminal of this size. */
  pty?: { cols: number; rows: number };
  /** Bytes of output kept per stream. */
  capBytes: number;
  /** What is to confine it: sandbox, network, limits (see executors/local/confine.ts). */
  confine: ConfineAsk;
  /**
   * A run after a restart: its output goes on in the same rings, after this line (where the last
   * run's ends); undefined for a first run (the rings start empty).
   */
  banner?: string;
}

/** Where a started job runs, as its record keeps it. */
export type Placement = Pick<JobState, "process" | "shepherd" | "cgroup" | "executorId" | "node">;

/** A job that has started. */
export interface Started {
  placement: Placement;
  /** Its end as its executor sees it first hand (`lost` when that view was lost before the end). */
  ended: Promise<JobEnd>;
  /**
   * Where it runs, once that is known after the start (a queued Slurm job: its node and processes
   * once it runs); never settles if it ends first.
   */
  placed?: Promise<Placement>;
}

/** A start under way: who starts it (recorded with the job before it is given the job), then the start. */
export interface Starting {
  /** The process that starts it: while it lives, a job whose processes are not known yet is starting. */
  starter: ProcessRef | null;
  /** What will confine it, as enforced; null for nothing. */
  confinement: Confinement | null;
  /** Gives it the job; resolves once the job runs (or is queued), rejects with StartError. */
  run(): Promise<Started>;
  /** It will not be given the job after all. */
  abandon(): void;
}

/** Why a job could not start (the command is fine: it could not be run). */
export class StartError extends Error {}

/** A sandbox, network ban or limit asked for that cannot be had here: nothing was started. */
export class ConfineError extends StartError {}

/** What can be told of a recorded running job without having started it. */
export type Observation =
  /** It has ended: as its capture process wrote down, or lost (gone without a word). */
  | { state: "ended"; end: JobEnd }
  /** It runs, and its output is captured. */
  | { state: "running" }
  /** Its main process lives on but nothing captures its output or feeds its input any more. */
  | { state: "uncaptured" }
  /** Its processes are not known yet (a start under way, or one cut short moments ago). */
  | { state: "starting" };

/** A job to kill, and what settles when its main process has ended. */
export interface KillOrder {
  job: JobState;
  exited: Promise<unknown>;
}

export interface Executor {
  readonly name: ExecutorName;
  /** Why no job can run here (one line saying what to do), or undefined. */
  unavailable(): string | undefined;
  /** Chooses who starts a job (see Starting). Throws StartError if none can. */
  prepare(job: JobState, spec: JobSpec): Starting;
  /**
   * How a recorded running job is, seen from outside. `ownerGone`: no server is starting it any more,
   * so a start that never showed its processes is lost.
   */
  observe(job: JobState, ownerGone: boolean): Observation;
  /**
   * Where a running job runs, found from the job's side (its capture process writes it down), for a
   * job whose record lacks it (its server died before recording it); undefined if not known yet.
   */
  placementOf(job: JobState): Placement | undefined;
  /**
   * The end a running job's capture process wrote down, if there is one to believe (cheap: every
   * view of a job that its record still shows running asks it).
   */
  writtenEnd(job: JobState): JobEnd | undefined;
  /** Calls `onChange` when the job may have ended (its end written down). Returns what stops it. */
  watchEnd(job: JobState, onChange: () => void): () => void;
  /**
   * Ends these jobs and every process they started: `signal`, then after `graceMs` SIGKILL to what
   * is left. Resolves once all of it is gone (and each main process has exited).
   */
  kill(orders: readonly KillOrder[], signal: NodeJS.Signals, graceMs: number): Promise<void>;
  /** Ends, with SIGKILL, whatever these jobs left running (their main processes have ended or are lost). */
  reapLeftovers(jobs: readonly JobState[]): Promise<void>;
  /**
   * SIGKILL, at once and without waiting for anything, to what of these jobs can be reached so: the
   * last thing a server does when it exits without having stopped (an exit handler cannot wait).
   */
  killNow(jobs: readonly JobState[]): void;
  /**
   * Has these jobs end themselves, without this process: what runs them signals them, waits the stop
   * grace and kills all of them, even if this process is killed meanwhile (hosts send SIGKILL a moment
   * after SIGTERM). A server's stop gives this order first, then kills as ever.
   */
  orderStop(jobs: readonly JobState[]): void;
  /**
   * Where a running job's processes can be found on this machine (see findTreeProcesses); undefined
   * where they run elsewhere (on a cluster's node).
   */
  processRoot(job: JobState): TreeRoot | undefined;
  /** Writes to a running job's stdin; rejects with code EPIPE once it is closed, ENOBUFS when the job does not read. */
  writeInput(job: JobState, data: string): Promise<void>;
  /** Closes a running job's stdin once what was written before has reached it. */
  endInput(job: JobState): Promise<void>;
  /** Lets go of what it holds for a job (an input writer, its limits' cgroups): it has ended. */
  release(job: JobState): void;
  /** What a job has used so far and the limit it ran into, where that can be read; undefined elsewhere. */
  usage(job: JobState): { usage: Usage; limitHit: LimitHit | null } | undefined;
  /**
   * A job folder that has no record (its record was lost, say with a state database moved away):
   * the job, rebuilt from its folder, if it still runs there (with `ended`, also if it ran and has
   * ended); undefined otherwise.
   */
  recoverFolder(id: string, opts?: { ended?: boolean }): JobState | undefined;
  /** Removes what jobs that ended left of the executor's (their cgroups, say); `running` says which still run. */
  sweep(running: (id: string) => boolean): void;
  /**
   * Keeps what this executor runs for this process going: a server calls it every 2 s (its state
   * watch). A local job can stop its shepherd and then the spawner that would continue it (both are
   * named in /proc); a start or a capture would then wait for ever.
   */
  tend(): void;
  /** Starts no more jobs: lets go of what it keeps ready. */
  close(): void;
  /** Lets go of all it holds (it watches no job any more): the program is done with jobs. */
  dispose(): void;
  /**
   * Where a running job that has not started yet waits, in words (a Slurm job in its queue:
   * `PENDING (Priority)`); undefined once it runs, or where jobs never wait.
   */
  waiting?(job: JobState): string | undefined;
}

/**
 * The executors a program has, as one: each call goes to the executor the job's record names, so the
 * engine does not care where a job runs; and the one a new job starts on, chosen once.
 */
export interface Executors extends Executor {
  /** The executor a new job asked to run on `name` starts on, or why it cannot (one line). */
  forStart(name: ExecutorName): Executor | string;
}
