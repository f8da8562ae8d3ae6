import { statSync } from "node:fs";
import { isEnded, type JobState } from "../domain/job-state.js";
import { type JobRecord, recordOf, type SupervisionView, supervisionOf } from "../domain/record.js";
import type { JobStore } from "../store/job-store.js";
import type { TrackedJob } from "./tracked-job.js";

/** A job as the web page's list shows it: its record, the pid of its server, what a queued one waits for. */
export type BoardJob = JobRecord & { owner_pid: number | null; waiting?: string };

// When any of these files was last written (ms), or null if none can be looked at.
function lastWriteMs(paths: string[]): number | null {
  let last: number | null = null;
  for (const path of paths) {
    const t = statSync(path, { throwIfNoEntry: false })?.mtimeMs;
    if (t !== undefined && (last === null || t > last)) last = Math.floor(t);
  }
  return last;
}

// The jobs a queued job comes after that have not yet done what it waits for.
function openAfter(store: JobStore, j: JobState): string[] {
  const plan = j.plan;
  const condition = plan?.afterCondition ?? "completed";
  return (plan?.after ?? []).filter((id) => {
    const dep = store.get(id);
    return !dep || !(condition === "ready" ? dep.readyMs !== null : isEnded(dep.status));
  });
}

// Whether a queued job waits for a slot (not for its restart's time or for the jobs it comes after).
const waitsForSlot = (store: JobStore, j: JobState) => j.nextStartMs === null && openAfter(store, j).length === 0;

/** A queued job's place among the jobs that wait for a slot (1: next); null if it waits for something else. */
export function placeInQueue(store: JobStore, j: JobState): number | null {
  if (j.status !== "queued" || !waitsForSlot(store, j)) return null;
  let place = 0;
  for (const q of store.queue.queued()) {
    if (waitsForSlot(store, q)) place++;
    if (q.id === j.id) return place;
  }
  return null;
}

/** What supervises a job: its place in the queue, order, restarts, readiness, last output. */
export function supervision(store: JobStore, job: TrackedJob): SupervisionView {
  return supervisionOf(job.state, placeInQueue(store, job.state), lastWriteMs(job.streams.map((st) => st.path)));
}

/** What a queued job waits for, in words: its restart's time, the jobs it comes after, or a slot. */
export function waitsFor(store: JobStore, j: JobState): string {
  if (j.nextStartMs !== null)
    return `restart ${j.restarts}${j.plan ? ` of ${j.plan.maxRestarts}` : ""} at ${new Date(j.nextStartMs).toISOString()}`;
  const open = openAfter(store, j);
  if (open.length > 0) {
    const names = open.map((id) => store.get(id)?.name ?? id.slice(0, 8));
    return `after ${names.join(", ")} (${j.plan?.afterCondition ?? "completed"})`;
  }
  return `place ${placeInQueue(store, j) ?? "?"} in the queue`;
}

/** A job as the web page's list shows it. */
export function boardJob(store: JobStore, j: JobState): BoardJob {
  return {
    ...recordOf(j),
    owner_pid: j.owner?.pid ?? null,
    ...(j.status === "queued" ? { waiting: waitsFor(store, j) } : {}),
  };
}

/** Jobs queued or running that `up` started from this Procfile (as every view shows them), oldest first. */
export function groupOf(store: JobStore, shown: (s: JobState) => JobState, procfile: string): JobRecord[] {
  return store.queue
    .live()
    .filter((s) => s.plan?.group === procfile)
    .map((s) => recordOf(shown(s)))
    .filter((r) => r.status === "queued" || r.status === "running");
}
