import { join } from "node:path";
import { ended, type JobEnd, type JobState, type JobStatus } from "../domain/job-state.js";
import { exitCode, type JobRecord, recordOf } from "../domain/record.js";
import { SharedWrites } from "./job-writes.js";

/**
 * A job as this process follows it: its state (the shared truth, refreshed from the state
 * database), where its files are, and what this process holds for it while it runs (its end as its
 * executor reports it, its timeout, what watches for its end).
 */
export class TrackedJob {
  /** Its end as its executor reports it first hand: set for jobs this process started. */
  firstHand: Promise<JobEnd> | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Stops watching for the end of a job this process did not start. */
  stopWatching: (() => void) | undefined;
  /** Settles once it has ended, whoever saw the end. */
  readonly ended: Promise<void>;
  /** Writes to its folder, watched once for all in this process who follow it. */
  readonly writes = new SharedWrites(this);
  private markEnded: () => void = () => {};

  constructor(
    public state: JobState,
    /** Its folder: ring files `stdout` and `stderr`, the `stdin` FIFO, the `pid`, `exit` and `cgroup` files. */
    readonly dir: string,
  ) {
    this.ended = new Promise((resolve) => (this.markEnded = resolve));
    this.update(state);
  }

  get id(): string {
    return this.state.id;
  }
  get status(): JobStatus {
    return this.state.status;
  }
  get running(): boolean {
    return this.state.status === "running";
  }
  get pty(): boolean {
    return this.state.pty;
  }
  get exitCode(): number | null {
    return exitCode(this.state.exitCode);
  }
  get stdoutPath(): string {
    return join(this.dir, "stdout");
  }
  get stderrPath(): string {
    return join(this.dir, "stderr");
  }
  /** Both output streams: their names and ring files. */
  get streams(): { name: "stdout" | "stderr"; path: string }[] {
    return [
      { name: "stdout", path: this.stdoutPath },
      { name: "stderr", path: this.stderrPath },
    ];
  }

  /**
   * Takes a fresher state; once it says the job has ended, wakes everyone waiting for the end. An
   * end is final: a state that still says `running` (its end could not be written, say on a full
   * disk) does not bring an ended job back.
   */
  update(next: JobState): void {
    if (next.status === "running" && this.state.status !== "running") return;
    this.state = next;
    if (next.status !== "running") {
      clearTimeout(this.timer);
      this.stopWatching?.();
      this.stopWatching = undefined;
      this.firstHand = undefined;
      this.markEnded();
    }
  }

  /** Records here that it has ended this way (the database may say so later). */
  end(end: JobEnd): void {
    this.update(ended(this.state, end));
  }

  /** The record tools return. */
  record(): JobRecord {
    return recordOf(this.state);
  }
}
