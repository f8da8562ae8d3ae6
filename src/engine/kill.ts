import { lostEnd } from "../domain/job-state.js";
import type { Executor } from "../executors/executor.js";
import { bestEffort, log } from "../log.js";
import type { JobStore } from "../store/job-store.js";
import type { Ownership } from "./ownership.js";
import type { TrackedJob } from "./tracked-job.js";

/** What a kill answers, as in the seed server. */
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
  /** Also have what runs the jobs carry the kill through by itself (a server's stop: see orderStop). */
  handOver = false,
): Promise<void> {
  const live = jobs.filter((j) => j.running);
  const deadline = Date.now() + (signal === "SIGKILL" ? 0 : graceMs);
  for (const job of live) {
    // Written down first where there is room (whoever sees the end then records it `killed`), but a
    // kill never waits for room: with the disk full, the signals go out all the same and the kill is
    // written once it can be.
    deps.ownership.pending.write(job.id, "the kill", () => deps.store.requestKill(job.id, timedOut, deadline));
    job.killing(timedOut, deadline);
    deps.ownership.follow(job);
  }
  for (const job of live) deps.ownership.killing.add(job.id);
  // Recorded first: whoever sees the ends then records them `killed`.
  if (handOver) deps.executor.orderStop(live.map((j) => j.state));
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

/** How long a kill waits for a job another server is starting to have its processes recorded. */
const START_WAIT_MS = 10_000;

/**
 * Waits until a job another process is starting has its processes recorded (or its start failed,
 * or it ended), looking at its record every 10 ms, for at most START_WAIT_MS: what to kill is known
 * then (before, the record names the process that starts jobs, not the job's).
 */
export async function untilPlaced(store: JobStore, job: TrackedJob): Promise<void> {
  const until = Date.now() + START_WAIT_MS;
  while (Date.now() < until) {
    const state = store.get(job.id);
    if (!state) return job.end(lostEnd());
    job.update(state);
    if (state.status !== "running" || state.process) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The last resort when a server exits without having stopped (a library's process.exit, a stop that
 * overran its deadline): synchronous, as an exit handler must be. The running jobs it owns (but
 * keep-jobs ones) are recorded as being killed, where the database takes it, and sent SIGKILL;
 * whoever looks next records their ends (`killed`) and ends what they left.
 */
export function abandonJobs(
  deps: { store: JobStore; executor: Executor; ownership: Ownership },
  known: Iterable<TrackedJob>,
): void {
  const ending = [...known].filter((j) => j.running && deps.ownership.isOwn(j.state) && !j.state.keep);
  if (ending.length === 0) return;
  log("warn", `exiting without a stop: ${ending.length} running job(s) killed`);
  for (const job of ending)
    bestEffort("recording a kill on the way out", () => deps.store.requestKill(job.id, false, Date.now()));
  deps.executor.killNow(ending.map((j) => j.state));
}

/**
 * A kill asked for (kill_job, the page, the command line): a running job and everything it started
 * are ended; an ended job's leftovers too (`already_terminated`). A job another server is starting
 * this very moment is killed once it is known what to kill (its processes recorded, milliseconds on).
 */
export async function killOne(
  deps: { store: JobStore; executor: Executor; ownership: Ownership },
  job: TrackedJob,
  signal: NodeJS.Signals,
  graceMs: number,
): Promise<KillResult> {
  if (!job.running) {
    await killLeftovers(deps.executor, job, signal, graceMs);
    return "already_terminated";
  }
  if (!job.firstHand && deps.executor.observe(job.state, false).state === "starting")
    await untilPlaced(deps.store, job);
  if (job.running) await killJobs(deps, [job], signal, graceMs);
  return "killed";
}
