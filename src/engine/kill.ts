import type { Executor } from "../executors/executor.js";
import type { JobStore } from "../store/job-store.js";
import type { Ownership } from "./ownership.js";
import type { TrackedJob } from "./tracked-job.js";

/** Result of a kill request, as in the seed server. */
/** What a kill answers. */
export const KILL_RESULTS = ["killed", "already_terminated", "not_found"] as const;
export type KillResult = (typeof KILL_RESULTS)[number];

/**
 * Ends these running jobs and everything they started as one batch, resolving once all of it is
 * gone and their ends are recorded (or wait for room to be). The kill is recorded first where there
 * is room, so whichever process sees a job's end records it as `killed` (`timed_out` too if set);
 * the kill escalates to SIGKILL at the grace's end, a time the record keeps too (whoever takes a job
 * over finishes a kill at that time).
 */
export async function killJobs(
  deps: { store: JobStore; executor: Executor; ownership: Ownership },
  jobs: readonly TrackedJob[],
  signal: NodeJS.Signals,
  graceMs: number,
  timedOut = false,
): Promise<void> {
  const live = jobs.filter((j) => j.running);
  const deadline = Date.now() + (signal === "SIGKILL" ? 0 : graceMs);
  for (const job of live) {
    // Written down first where there is room (whoever sees the end then records it `killed`), but a
    // kill never waits for room: with the disk full, the signals go out all the same and the kill is
    // written once it can be.
    deps.ownership.pending.write(job.id, "the kill", () => deps.store.requestKill(job.id, timedOut, deadline));
    const s = job.state;
    job.state = {
      ...s,
      killRequested: true,
      timedOut: s.timedOut || timedOut,
      killDeadlineMs: Math.min(s.killDeadlineMs ?? deadline, deadline),
    };
    deps.ownership.follow(job);
  }
  for (const job of live) deps.ownership.killing.add(job.id);
  try {
    await deps.executor.kill(
      live.map((j) => ({ job: j.state, exited: j.ended })),
      signal,
      graceMs,
    );
    await Promise.all(live.map((j) => j.ended));
  } finally {
    for (const job of live) deps.ownership.killing.delete(job.id);
  }
}

/**
 * Ends what an ended job left running (background children), signal first, SIGKILL after the
 * grace: its main process is gone, so its group and the rest are reached through its executor.
 */
export function killLeftovers(executor: Executor, job: TrackedJob, signal: NodeJS.Signals, graceMs: number) {
  return executor.kill([{ job: job.state, exited: Promise.resolve() }], signal, graceMs);
}
