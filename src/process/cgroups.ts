import { accessSync, constants, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { ensureDir } from "../store/ensure-dir.js";

/** The folder, inside this process's own cgroup, that jobs' cgroups are made in. */
const JOBS_FOLDER = "mcp-bg-jobs";

// Where the cgroup v2 hierarchy is mounted (the unified one, also in a hybrid v1/v2 set-up).
function cgroup2Mount(): string | undefined {
  try {
    for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
      // ... MOUNTPOINT ... - FSTYPE SOURCE OPTIONS
      const [before, after] = line.split(" - ");
      if (after?.startsWith("cgroup2 ")) return before?.split(" ")[4];
    }
  } catch {}
  return undefined;
}

/**
 * A cgroup v2 folder in which this process may create a cgroup per job, created if need be, or
 * undefined where there is none (no cgroup v2, or one this user may not write: not root, and no
 * delegated subtree). Jobs' processes are then found by ancestry and their MCP_BG_JOB_ID alone.
 */
export function jobCgroupsFolder(): string | undefined {
  const mount = cgroup2Mount();
  if (!mount) return undefined;
  let own: string | undefined;
  try {
    own = /^0::(.*)$/m.exec(readFileSync("/proc/self/cgroup", "utf8"))?.[1];
  } catch {}
  if (own === undefined) return undefined;
  // A server running as a job of another server lives in that job's cgroup: its own jobs' cgroups
  // go inside it, so that ending the outer job ends them too.
  const folder = join(mount, own, JOBS_FOLDER);
  try {
    ensureDir(folder, 0o755);
    accessSync(join(folder, "cgroup.procs"), constants.W_OK);
    return folder;
  } catch {
    return undefined;
  }
}

/**
 * A job's cgroup as its shepherd wrote it down (JOBDIR/cgroup), if it is believable: a cgroup
 * folder named by the job's id in a folder of jobs' cgroups (a garbled or forged file must never
 * make a kill reach other processes). Undefined otherwise.
 */
export function jobCgroup(jobDir: string, jobId: string): string | undefined {
  let path: string;
  try {
    path = readFileSync(join(jobDir, "cgroup"), "utf8").trim();
  } catch {
    return undefined;
  }
  if (!path.startsWith("/") || basename(path) !== jobId || basename(join(path, "..")) !== JOBS_FOLDER) return undefined;
  try {
    if (!statSync(join(path, "cgroup.procs")).isFile()) return undefined;
  } catch {
    return undefined;
  }
  return path;
}

/** Pids of the processes in a cgroup (all of them: leaving it takes privileges a job does not use); undefined if it cannot be read. */
export function cgroupProcesses(cgroup: string): number[] | undefined {
  try {
    return readFileSync(join(cgroup, "cgroup.procs"), "latin1").split("\n").filter(Boolean).map(Number);
  } catch {
    return undefined;
  }
}

/** SIGKILLs every process in a cgroup at once (cgroup.kill, Linux 5.14+); false if that cannot be done. */
export function killCgroup(cgroup: string): boolean {
  try {
    writeFileSync(join(cgroup, "cgroup.kill"), "1");
    return true;
  } catch {
    return false;
  }
}
