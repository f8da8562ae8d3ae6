import { join } from "node:path";
import type { JobExit, JobProcess } from "../process/spawn-job.js";

/** Where a job is in its life. */
export type JobStatus = "running" | "completed" | "failed" | "killed";

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
}

/** One job: its record, its process while it runs, and where its output is kept. */
export class Job {
  status: JobStatus = "running";
  pid: number | null = null;
  readonly started = new Date();
  completed: Date | null = null;
  exitCode: number | null = null;
  signal: string | null = null;
  timedOut = false;
  /** Set before the server signals the job, so its end reads `killed` whatever its exit code. */
  killRequested = false;
  process: JobProcess | undefined;
  timer: NodeJS.Timeout | undefined;
  readonly ended: Promise<void>;
  private markEnded: () => void = () => {};

  constructor(
    readonly id: string,
    readonly command: string,
    readonly name: string | null,
    readonly cwd: string,
    readonly pty: boolean,
    /** Directory holding the ring files `stdout` and `stderr`. */
    readonly dir: string,
  ) {
    this.ended = new Promise((resolve) => (this.markEnded = resolve));
  }

  get stdoutPath(): string {
    return join(this.dir, "stdout");
  }

  get stderrPath(): string {
    return join(this.dir, "stderr");
  }

  get running(): boolean {
    return this.status === "running";
  }

  /** Records how the job ended and wakes everyone waiting for it. */
  finish(exit: JobExit): void {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.exitCode = exit.code;
    this.signal = exit.signal;
    this.completed = new Date();
    this.status = this.killRequested ? "killed" : exit.code === 0 ? "completed" : "failed";
    this.process = undefined;
    this.markEnded();
  }

  /** The record tools return. */
  record(): JobRecord {
    return {
      job_id: this.id,
      status: this.status,
      command: this.command,
      name: this.name,
      cwd: this.cwd,
      pid: this.pid,
      pty: this.pty,
      started: this.started.toISOString(),
      completed: this.completed?.toISOString() ?? null,
      exit_code: this.exitCode,
      signal: this.signal,
      timed_out: this.timedOut,
    };
  }
}
