import { readFileSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { JOB_ID, type JobState, runningJob } from "../../domain/job-state.js";
import { BOOT_ID, isSameProcessAlive } from "../../process/proc.js";
import { readExitFile, readPidFile } from "../job-folder.js";

// What a process was started as: the command of `sh -c COMMAND`, else its whole command line.
function commandOf(pid: number): string | undefined {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    if (args.at(-1) === "") args.pop();
    return args[1] === "-c" && args[2] !== undefined ? args[2] : args.join(" ") || undefined;
  } catch {
    return undefined;
  }
}

/**
 * A record for a job folder that has none but whose job still runs (its record was lost, for
 * instance with a state database moved away): rebuilt from the folder and /proc, so that the job
 * is seen and can be killed. It has no owner (a server takes it over) and is kept at shutdown, as
 * nobody knows whether it was started to be kept. Undefined if the folder holds no live job.
 */
export function recoveredJob(jobsDir: string, id: string): JobState | undefined {
  if (!JOB_ID.test(id)) return undefined;
  const dir = join(jobsDir, id);
  const procs = readPidFile(dir);
  // An ended job's shepherd may stay for what the job left running: the job itself is over.
  if (!procs || readExitFile(dir)) return undefined;
  const alive = isSameProcessAlive(procs.job.pid, procs.job.start);
  if (!alive && !isSameProcessAlive(procs.shepherd.pid, procs.shepherd.start)) return undefined;
  let cwd = "/";
  try {
    cwd = readlinkSync(`/proc/${procs.job.pid}/cwd`);
  } catch {}
  const started = statSync(join(dir, "pid"), { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
  return runningJob({
    id,
    command: (alive && commandOf(procs.job.pid)) || "(unknown: recovered from its folder)",
    name: "recovered",
    cwd,
    startedMs: Math.floor(started),
    process: procs.job,
    shepherd: procs.shepherd,
    keep: true,
    bootId: BOOT_ID,
  });
}
