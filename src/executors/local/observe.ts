import type { JobEnd, JobState, ProcessRef } from "../../domain/job-state.js";
import { lostEnd } from "../../domain/job-state.js";
import { isSameProcessAlive, sameBoot } from "../../process/proc.js";
import type { Observation } from "../executor.js";
import { readExitFile, readPidFile, readShepherdFile } from "../job-folder.js";

/** A start whose processes are not known yet, recorded by a version that named no starter, is not judged lost before this long. */
export const START_GRACE_MS = 10_000;

const lost = (): Observation => ({ state: "ended", end: lostEnd() });

/** A job's processes: from its record, else from the `pid` file its shepherd wrote. */
export function jobProcesses(job: JobState, dir: string): { job: ProcessRef; shepherd: ProcessRef } | undefined {
  if (job.process && job.shepherd) return { job: job.process, shepherd: job.shepherd };
  return readPidFile(dir);
}

/**
 * The end a job's shepherd wrote down (JOBDIR/exit), if it is to be believed: a job can write into
 * its own folder, so an exit file is believed only once the job's main process (by pid and start
 * time) is gone. A job that lies about its end does not escape its timeout or its kill that way.
 */
export function believedEnd(job: JobState, dir: string): JobEnd | undefined {
  const end = readExitFile(dir);
  if (!end) return undefined;
  const main = job.process ?? readPidFile(dir)?.job;
  return main && isSameProcessAlive(main.pid, main.start) ? undefined : end;
}

/**
 * How a running local job is, told from its files and its processes, each process checked by pid and start
 * time, never pid alone. `ownerGone`: no server is starting it any more.
 */
export function observeLocal(job: JobState, dir: string, ownerGone: boolean, now = Date.now()): Observation {
  const exit = believedEnd(job, dir);
  if (exit) return { state: "ended", end: exit };
  // After a reboot, its pids and start times may name other processes: none of its own is left.
  if (!sameBoot(job.bootId)) return lost();
  const procs = jobProcesses(job, dir);
  if (!procs) return observeStart(job, dir, ownerGone, now);
  if (isSameProcessAlive(procs.shepherd.pid, procs.shepherd.start)) return { state: "running" };
  if (isSameProcessAlive(procs.job.pid, procs.job.start)) return { state: "uncaptured" };
  // The shepherd may have written the end just before it went.
  const late = believedEnd(job, dir);
  return late ? { state: "ended", end: late } : lost();
}

// A job whose processes are not known yet. Its record names who starts it (the spawner, or an
// older version's shepherd): while that lives, the start may still complete; once it is gone, the
// shepherd it forked, if it got that far, wrote itself down first thing. Nothing of either: lost.
function observeStart(job: JobState, dir: string, ownerGone: boolean, now: number): Observation {
  if (job.shepherd) {
    if (isSameProcessAlive(job.shepherd.pid, job.shepherd.start)) return { state: "starting" };
    const forked = readShepherdFile(dir);
    if (forked && isSameProcessAlive(forked.pid, forked.start)) return { state: "starting" };
    const end = believedEnd(job, dir);
    return end ? { state: "ended", end } : lost();
  }
  // A record from a version that did not name its starter: given a grace to show its processes.
  return ownerGone && now - job.startedMs > START_GRACE_MS ? lost() : { state: "starting" };
}
