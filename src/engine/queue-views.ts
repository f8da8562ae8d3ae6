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

/** What supervises a job: its place in the queue, order, restarts, readiness, last output. */
export function supervision(store: JobStore, job: TrackedJob): SupervisionView {
  const s = job.state;
  const place = s.status === "queued" && s.nextStartMs === null ? store.queue.placeInQueue(s.id) : null;
  return supervisionOf(s, place, lastWriteMs(job.streams.map((st) => st.path)));
}

/** What a queued job waits for, in words: its restart's time, the jobs it comes after, or a slot. */
export function waitsFor(store: JobStore, j: JobState): string {
  if (j.nextStartMs !== null)
    return `restart ${j.restarts}${j.plan ? ` of ${j.plan.maxRestarts}` : ""} at ${new Date(j.nextStartMs).toISOString()}`;
  const plan = j.plan;
  const condition = plan?.afterCondition ?? "completed";
  const open = (plan?.after ?? []).filter((id) => {
    const dep = store.get(id);
    return !dep || !(condition === "ready" ? dep.readyMs !== null : isEnded(dep.status));
  });
  if (open.length > 0) {
    const names = open.map((id) => store.get(id)?.name ?? id.slice(0, 8));
    return `after ${names.join(", ")} (${condition})`;
  }
  return `place ${store.queue.placeInQueue(j.id)} in the queue`;
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
