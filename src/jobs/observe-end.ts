import { isSameProcessAlive } from "../process/proc.js";
import { readExitFile, readPidFile } from "../store/job-files.js";
import type { JobEnd, JobRow } from "../store/job-store.js";

const lostNow = (): JobEnd => ({ code: null, signal: null, endedMs: Date.now(), lost: true });

/**
 * What can be told of a running job's end without being its shepherd's parent: the end its
 * shepherd wrote down; or, when neither its shepherd nor its main process lives on (each checked by
 * pid and start time, never pid alone), that it is lost. Undefined while it may still be running.
 * `ownerGone`: nobody is starting it any more, so a job that never recorded its processes is lost.
 */
export function observeEnd(row: JobRow, dir: string, ownerGone: boolean): JobEnd | undefined {
  const exit = readExitFile(dir);
  if (exit) return exit;
  const files = readPidFile(dir);
  const job = row.pid && row.pid_start ? { pid: row.pid, start: row.pid_start } : files?.job;
  const shepherd =
    row.shepherd_pid && row.shepherd_start ? { pid: row.shepherd_pid, start: row.shepherd_start } : files?.shepherd;
  if (!job || !shepherd) return ownerGone ? lostNow() : undefined;
  if (isSameProcessAlive(shepherd.pid, shepherd.start) || isSameProcessAlive(job.pid, job.start)) return undefined;
  // The shepherd may have written the end just before it went.
  return readExitFile(dir) ?? lostNow();
}
