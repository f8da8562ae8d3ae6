import { describeEnd } from "../domain/ending.js";
import type { JobRecord } from "../domain/record.js";
import { cutText } from "../text/cut.js";

/** Said whenever a result shows a job still running, so that agents wait instead of polling. */
export const RUNNING_HINT =
  "Still running: wait_for_job waits for the end or for a line matching until=<regex>, no polling needed.";

/** Longest command a job's record shows (a command may be 128 KB; the agent wrote it anyway). */
export const RECORD_COMMAND_CHARS = 2000;

/** `outcome` in words once a job has ended, `hint` while it runs: one of the two. */
export function progressWords(record: JobRecord, waiting?: string): { outcome?: string; hint?: string } {
  if (record.status === "queued")
    return {
      hint: `Queued, not started yet${waiting ? `: ${waiting}` : ""}. wait_for_job waits through the queue; kill_job takes it out.`,
    };
  if (record.status !== "running") return { outcome: describeEnd(record) };
  return waiting
    ? { hint: `Queued in Slurm, not started yet: ${waiting}. ${RUNNING_HINT.replace("Still running: ", "")}` }
    : { hint: RUNNING_HINT };
}

/** A job's record as get_job_status and the `job://ID` resource return it: bounded, with words. */
export function recordView(record: JobRecord, waiting?: string): JobRecord & { outcome?: string; hint?: string } {
  return { ...record, command: cutText(record.command, RECORD_COMMAND_CHARS), ...progressWords(record, waiting) };
}
