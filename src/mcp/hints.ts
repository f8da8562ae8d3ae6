import { describeEnd } from "../jobs/exit-description.js";
import type { JobRecord } from "../jobs/job.js";

/** Said whenever a result shows a job still running, so that agents wait instead of polling. */
export const RUNNING_HINT =
  "Still running: wait_for_job waits for the end or for a line matching until=<regex>, no polling needed.";

/** `outcome` in words once a job has ended, `hint` while it runs: one of the two. */
export function progressWords(record: JobRecord): { outcome?: string; hint?: string } {
  return record.status === "running" ? { hint: RUNNING_HINT } : { outcome: describeEnd(record) };
}
