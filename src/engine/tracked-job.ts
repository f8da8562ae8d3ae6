import { join } from "node:path";
import { ended, isEnded, type JobEnd, type JobState, type JobStatus } from "../domain/job-state.js";
import { exitCode, type JobRecord, recordOf } from "../domain/record.js";
import { SharedWrites } from "./job-writes.js";

/**
 * A job as this process follows it: its state (the shared truth, refreshed from the state
 * database), where its files are, and what this process holds for it while it runs (its end as its
 * executor reports it, its timeout, what watches for its end).
 */
export class TrackedJob {
  private current: JobState;
  private fromExecutor: Promise<JobEnd> | undefined;
  private unwatch: (() => void) | undefined;
  /** Settles once it has ended, whoever saw the end. */
  readonly ended: Promise<void>;
  /** Writes to its folder, watched once for all in this process who follow it. */
  readonly writes = new SharedWrites(this);
  private markEnded: () => void = () => {};

  constructor(
    state: JobState,
    /** Its folder: ring files `stdout` and `stderr`, the `stdin` FIFO, the `pid`, `exit` and `cgroup` files. */
    readonly dir: string,
  ) {
    this.current = state;
    this.ended = new Promise((resolve) => (this.markEnded = resolve));
    this.update(state);
  }

  /** Its state as last seen (the shared truth, refreshed from the state database). */
  get state(): JobState {
    return this.current;
  }

  /** Its end as its executor reports it first hand: set for jobs this process started (see started). */
  get firstHand(): Promise<JobEnd> | undefined {
    return this.fromExecutor;
  }

  /** Whether this process watches for its end (see watchedWith). */
  get watched(): boolean {
    return this.unwatch !== undefined;
  }

  /** This process started it: its executor tells its end first hand. */
  started(end: Promise<JobEnd>): void {
    this.fromExecutor = end;
  }

  /** This process watches for its end, until it has ended or `stop` is called through unwatched(). */
  watchedWith(stop: () => void): void {
    this.unwatch = stop;
  }

  /** Stops watching for its end. */
  unwatched(): void {
    this.unwatch?.();
    this.unwatch = undefined;
  }

  /** A kill was asked for (recorded too, where there is room): its end is then `killed`. */
  killing(timedOut: boolean, deadlineMs: number): void {
    const s = this.current;
    this.current = {
      ...s,
      killRequested: true,
      timedOut: s.timedOut || timedOut,
      killDeadlineMs: Math.min(s.killDeadlineMs ?? deadlineMs, deadlineMs),
    };
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
  /** It has ended for good (a queued job has not: it is still to run). */
  get over(): boolean {
    return isEnded(this.state.status);
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
   * end is final: a state that still says `running` or `queued` (its end could not be written, say
   * on a full disk) does not bring an ended job back. A run that ended with the job queued again (a
   * restart) is told first hand no more: its next run is.
   */
  update(next: JobState): void {
    if (!isEnded(next.status) && isEnded(this.current.status)) return;
    // A state read before the run this process knows of was started again (an older record).
    if (next.restarts < this.current.restarts) return;
    this.current = next;
    if (next.status === "queued") this.fromExecutor = undefined;
    if (isEnded(next.status)) {
      this.unwatched();
      this.fromExecutor = undefined;
      this.markEnded();
    }
  }

  /** Records here that it has ended this way (the database may say so later). */
  end(end: JobEnd): void {
    this.update(ended(this.current, end));
  }

  /** The record tools return. */
  record(): JobRecord {
    return recordOf(this.state);
  }
}
