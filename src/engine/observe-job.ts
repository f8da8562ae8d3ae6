import { readExitFile, readPidFile } from "../executors/job-folder.js";
import { BOOT_ID, isSameProcessAlive } from "../process/proc.js";
import type { JobEnd, JobRow, ProcessId } from "../store/job-store.js";

/** A start whose processes are not known yet is not judged lost before this long. */
export const START_GRACE_MS = 10_000;

/** What can be told of a running job from outside: from its files and /proc. */
export type Observation =
  /** It has ended: as its shepherd wrote down, or lost (its processes are gone without a word). */
  | { state: "ended"; end: JobEnd }
  /** Its shepherd is there: it runs, and its output is captured. */
  | { state: "running" }
  /** Its main process lives on but its shepherd is gone: nothing captures its output or feeds its input. */
  | { state: "uncaptured"; job: ProcessId }
  /** Its processes are not known yet (a start under way, or a start cut short moments ago). */
  | { state: "starting" };

/** The end of a job whose processes went without a word: no exit code, no signal, now. */
export const lostEnd = (): JobEnd => ({ code: null, signal: null, endedMs: Date.now(), lost: true });

const lost = (): Observation => ({ state: "ended", end: lostEnd() });

/** A job's processes: from its row, else from the `pid` file its shepherd wrote. */
export function jobProcesses(row: JobRow, dir: string): { job: ProcessId; shepherd: ProcessId } | undefined {
  if (row.pid && row.pid_start && row.shepherd_pid && row.shepherd_start) {
    return {
      job: { pid: row.pid, start: row.pid_start },
      shepherd: { pid: row.shepherd_pid, start: row.shepherd_start },
    };
  }
  return readPidFile(dir);
}

/**
 * The end a job's shepherd wrote down (JOBDIR/exit), if it is to be believed: a job can write into
 * its own folder, so an exit file is believed only once the job's main process (by pid and start
 * time) is gone. A job that lies about its end does not escape its timeout or its kill that way.
 */
export function believedEnd(row: JobRow, dir: string): JobEnd | undefined {
  const end = readExitFile(dir);
  if (!end) return undefined;
  const main = row.pid && row.pid_start ? { pid: row.pid, start: row.pid_start } : readPidFile(dir)?.job;
  return main && isSameProcessAlive(main.pid, main.start) ? undefined : end;
}

/**
 * What can be told of a running job without being its shepherd's parent, each process checked by
 * pid and start time, never pid alone. `ownerGone`: no server is starting it any more, so a job
 * whose processes never became known (after START_GRACE_MS) is lost.
 */
export function observeJob(row: JobRow, dir: string, ownerGone: boolean, now = Date.now()): Observation {
  const exit = believedEnd(row, dir);
  if (exit) return { state: "ended", end: exit };
  // After a reboot, its pids and start times may name other processes: none of its own is left.
  if (row.boot_id !== null && row.boot_id !== BOOT_ID) return lost();
  const procs = jobProcesses(row, dir);
  if (!procs) {
    // The shepherd that starts it is recorded with it: while it lives the start may still complete;
    // once it is gone, nothing will (unless it wrote the end on its way out).
    if (row.shepherd_pid !== null) {
      if (isSameProcessAlive(row.shepherd_pid, row.shepherd_start)) return { state: "starting" };
      const end = believedEnd(row, dir);
      return end ? { state: "ended", end } : lost();
    }
    // A record from a version that did not name the shepherd: given a grace to show its processes.
    return ownerGone && now - row.started_ms > START_GRACE_MS ? lost() : { state: "starting" };
  }
  if (isSameProcessAlive(procs.shepherd.pid, procs.shepherd.start)) return { state: "running" };
  if (isSameProcessAlive(procs.job.pid, procs.job.start)) return { state: "uncaptured", job: procs.job };
  // The shepherd may have written the end just before it went.
  const late = believedEnd(row, dir);
  return late ? { state: "ended", end: late } : lost();
}
