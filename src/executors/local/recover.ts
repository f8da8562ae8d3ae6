import { statSync } from "node:fs";
import { join } from "node:path";
import { ended, JOB_ID, type JobState, runningJob } from "../../domain/job-state.js";
import { bootId, commandLine, isSameProcessAlive, workingDir } from "../../process/proc.js";
import { readExitFile, readPidFile } from "../job-folder.js";

// What a process was started as: the command of `sh -c COMMAND`, else its whole command line.
function commandOf(pid: number): string | undefined {
  const args = commandLine(pid);
  if (!args) return undefined;
  return args[1] === "-c" && args[2] !== undefined ? args[2] : args.join(" ") || undefined;
}

/**
 * A record for a job folder that has none (its record was lost: a state database moved away, a WAL
 * damaged or deleted after a crash), rebuilt from the folder and its processes: a job that still runs, so
 * that it is seen and can be killed (it has no owner, a server takes it over, and is kept at
 * shutdown, as nobody knows whether it was started to be kept); with `ended`, also a job that has
 * ended, from its exit file, so that its output stays readable (its command is unknown then).
 * Undefined if the folder holds no job that ran (a start that never got that far).
 */
export function recoveredJob(jobsDir: string, id: string, opts: { ended?: boolean } = {}): JobState | undefined {
  if (!JOB_ID.test(id)) return undefined;
  const dir = join(jobsDir, id);
  const procs = readPidFile(dir);
  if (!procs) return undefined;
  // An ended job's shepherd may stay for what the job left running: the job itself is over.
  const exit = readExitFile(dir);
  if (exit) {
    if (!opts.ended) return undefined;
    const started = statSync(join(dir, "pid"), { throwIfNoEntry: false })?.mtimeMs ?? exit.endedMs;
    const job = runningJob({
      id,
      command: "(unknown: recovered from its folder)",
      name: "recovered",
      cwd: "/",
      startedMs: Math.floor(started),
      process: procs.job,
      shepherd: procs.shepherd,
      keep: true,
      bootId: bootId(),
    });
    return ended(job, exit);
  }
  const alive = isSameProcessAlive(procs.job.pid, procs.job.start);
  if (!alive && !isSameProcessAlive(procs.shepherd.pid, procs.shepherd.start)) return undefined;
  const cwd = workingDir(procs.job.pid) ?? "/";
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
    bootId: bootId(),
  });
}
