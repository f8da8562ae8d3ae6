import { join } from "node:path";
import type { JobProcess } from "../executors/local/spawn-job.js";
import { jobCgroup } from "../process/cgroups.js";
import { BOOT_ID } from "../process/proc.js";
import type { TreeRoot } from "../process/process-tree.js";
import type { JobRow } from "../store/job-store.js";

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
  /** Its end could not be observed (its processes were gone when it was looked for): exit_code is null. */
  lost: boolean;
}

// A stored time as ISO 8601, or null; a value no date can hold (a garbled record) reads as null.
const iso = (ms: number | null) => {
  const d = ms === null ? undefined : new Date(ms);
  return d && Number.isFinite(d.getTime()) ? d.toISOString() : null;
};

// An exit code as reported: a whole number from 0 to 255, else null.
const exitCode = (n: number | null) => (n !== null && Number.isInteger(n) && n >= 0 && n <= 255 ? n : null);

/** The record tools return, from a job's row. */
export function recordOf(row: JobRow): JobRecord {
  return {
    job_id: row.job_id,
    status: row.status,
    command: row.command,
    name: row.name,
    cwd: row.cwd,
    pid: row.pid,
    pty: row.pty === 1,
    started: iso(row.started_ms) ?? new Date(0).toISOString(),
    completed: iso(row.completed_ms),
    exit_code: exitCode(row.exit_code),
    signal: row.signal,
    timed_out: row.timed_out === 1,
    lost: row.lost === 1,
  };
}

/**
 * One job as this server sees it: its row (the shared truth, refreshed from the state database),
 * where its output is kept, and, for a job this server runs, its process and timer.
 */
export class Job {
  /** The process this server started it as; undefined for jobs of other servers or earlier runs. */
  process: JobProcess | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Stops watching for the end of a job this server did not start. */
  stopWatching: (() => void) | undefined;
  readonly ended: Promise<void>;
  private markEnded: () => void = () => {};

  constructor(
    public row: JobRow,
    /** Directory holding the ring files `stdout` and `stderr`, the `stdin` FIFO and the `pid` and `exit` files. */
    readonly dir: string,
  ) {
    this.ended = new Promise((resolve) => (this.markEnded = resolve));
    this.update(row);
  }

  get id(): string {
    return this.row.job_id;
  }
  get status(): JobStatus {
    return this.row.status;
  }
  get pid(): number | null {
    return this.row.pid;
  }
  get pty(): boolean {
    return this.row.pty === 1;
  }
  get exitCode(): number | null {
    return exitCode(this.row.exit_code);
  }
  get running(): boolean {
    return this.row.status === "running";
  }
  get stdoutPath(): string {
    return join(this.dir, "stdout");
  }
  get stderrPath(): string {
    return join(this.dir, "stderr");
  }
  get stdinPath(): string {
    return join(this.dir, "stdin");
  }

  /**
   * Takes a fresher row; once it says the job has ended, wakes everyone waiting for the end. An end
   * is final: a row that still says `running` (its end could not be written, say on a full disk) does
   * not bring an ended job back.
   */
  update(row: JobRow): void {
    if (row.status === "running" && this.row.status !== "running") return;
    this.row = row;
    if (row.status !== "running") {
      clearTimeout(this.timer);
      this.stopWatching?.();
      this.stopWatching = undefined;
      this.process = undefined;
      this.markEnded();
    }
  }

  /** Where its processes are to be found: its cgroup, its shepherd's descendants, its id. */
  treeRoot(): TreeRoot {
    const { shepherd_pid: pid, shepherd_start: start, boot_id } = this.row;
    // A pid and start time of another boot may name another process.
    const sameBoot = boot_id === null || boot_id === BOOT_ID;
    return {
      jobId: this.id,
      shepherd: pid && start && sameBoot ? { pid, start } : undefined,
      // As recorded from its shepherd's report; for a job whose start was never recorded (its
      // server died at that moment), the file its shepherd wrote, if it names a real job cgroup.
      cgroup: this.row.cgroup ?? jobCgroup(this.dir, this.id),
    };
  }

  /** The record tools return. */
  record(): JobRecord {
    return recordOf(this.row);
  }
}
