import { MAX_TIMEOUT_SECONDS, SHUTDOWN_GRACE_MS } from "../domain/defaults.js";
import type { TrackedJob } from "./tracked-job.js";

/** How a deadline ends a job: the kill it asks for. */
export type DeadlineKill = (
  job: TrackedJob,
  how: { signal?: NodeJS.Signals; graceMs?: number; timedOut: boolean },
) => void;

/**
 * A job's time limit as recorded: the deadline `timeoutSeconds` from its start (the tool's
 * `timeout_seconds`, else the server's MCP_BG_JOB_TIMEOUT), or none.
 */
export const deadlineOf = (startedMs: number, timeoutSeconds: number | undefined): number | null =>
  timeoutSeconds === undefined ? null : startedMs + timeoutSeconds * 1000;

/**
 * The one owner of the times at which this server ends jobs: a job's timeout (armed when the job is
 * started or taken over here, fired as a kill with timed_out) and the SIGKILL of a kill whose killer
 * died (carried through at the time the record keeps). Built with the kill it fires; a timer goes
 * with its job's end.
 */
export class Deadlines {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly kill: DeadlineKill) {}

  /** Arms a running job's timeout, if it has one: killed at its deadline, `timed_out`. */
  arm(job: TrackedJob): void {
    const deadline = job.state.deadlineMs;
    if (deadline === null || !job.running || this.timers.has(job.id)) return;
    // A timer holds at most MAX_TIMEOUT_SECONDS; a job's timeout is bounded by it where it is asked for.
    const delay = Math.min(Math.max(0, deadline - Date.now()), MAX_TIMEOUT_SECONDS * 1000);
    this.timers.set(
      job.id,
      setTimeout(() => {
        this.timers.delete(job.id);
        this.kill(job, { timedOut: true });
      }, delay),
    );
    void job.ended.then(() => this.disarm(job.id));
  }

  /** Carries a kill that was asked for through: SIGKILL now if its grace has run out, else SIGTERM with what is left. */
  carryThrough(job: TrackedJob): void {
    // Without a recorded time (a version before schema 3), the kill gets the short grace of a stop.
    const deadline = job.state.killDeadlineMs ?? Date.now() + SHUTDOWN_GRACE_MS;
    const left = deadline - Date.now();
    const timedOut = job.state.timedOut;
    this.kill(job, left <= 0 ? { signal: "SIGKILL", graceMs: 0, timedOut } : { graceMs: left, timedOut });
  }

  /** Lets go of a job's timeout (its run ended; a restart arms the next one's). */
  disarm(id: string): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
  }

  /** Disarms every timer (the engine closes). */
  stop(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
