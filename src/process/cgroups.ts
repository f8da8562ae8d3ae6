import {
  accessSync,
  constants,
  type Dirent,
  existsSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  statfsSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, join } from "node:path";
import { ensureDir } from "../files/ensure-dir.js";
import { readSmallFile } from "../files/regular-file.js";
import { OS } from "./platform.js";

/** The folder, inside this process's own cgroup, that jobs' cgroups are made in. */
export const JOBS_FOLDER = "mcp-bg-jobs";

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
 * undefined where there is none (not Linux, portable mode, no cgroup v2, or one this user may not
 * write: not root, and no delegated subtree). Jobs' processes are then found by ancestry and their MCP_BG_JOB_ID alone.
 */
export function jobCgroupsFolder(): string | undefined {
  if (!OS.cgroups) return undefined; // macOS, portable mode
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
  return makeCgroupFolder(folder) ? folder : undefined;
}

/** Makes a folder of jobs' cgroups (in a v2 or v1 hierarchy) if need be: whether this user may make cgroups in it. */
export function makeCgroupFolder(folder: string): boolean {
  try {
    ensureDir(folder, 0o755);
    accessSync(join(folder, "cgroup.procs"), constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** What statfs says of a cgroup v2 file system. */
const CGROUP2_SUPER_MAGIC = 0x63677270;

/**
 * A job's cgroup as its shepherd wrote it down (JOBDIR/cgroup): for a job whose start was never
 * recorded (its server died at that moment). Believed only if it is a cgroup v2 folder named by the
 * job's id in a folder of jobs' cgroups: a job can write into its own folder, and making a cgroup
 * there takes the privileges that would let it reach those processes anyway. Undefined otherwise.
 */
export function jobCgroup(jobDir: string, jobId: string): string | undefined {
  let path: string;
  try {
    // A regular file only: the job can write into its folder (a FIFO there must not block).
    path = (readSmallFile(join(jobDir, "cgroup"), 4200) ?? "").trim();
  } catch {
    return undefined;
  }
  if (!path) return undefined;
  if (!path.startsWith("/") || path !== join(path) || basename(path) !== jobId) return undefined;
  if (basename(join(path, "..")) !== JOBS_FOLDER) return undefined;
  try {
    if (!statSync(path).isDirectory() || statfsSync(path).type !== CGROUP2_SUPER_MAGIC) return undefined;
  } catch {
    return undefined;
  }
  return path;
}

/**
 * Pids of the processes in a cgroup and in the cgroups below it (a process of the job may make one
 * and move into it, where it may write: leaving the job's cgroup altogether takes privileges a job
 * does not use); none if the cgroup is gone (its shepherd removes it once the last of its processes
 * is gone, and its tree with it: nothing to look for elsewhere); undefined if it cannot be read.
 */
export function cgroupProcesses(cgroup: string): number[] | undefined {
  let text: string;
  try {
    text = readFileSync(join(cgroup, "cgroup.procs"), "latin1");
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT" && !existsSync(cgroup) ? [] : undefined;
  }
  const pids = text.split("\n").filter(Boolean).map(Number);
  let entries: Dirent[] = [];
  try {
    entries = readdirSync(cgroup, { withFileTypes: true });
  } catch {}
  for (const e of entries) {
    if (e.isDirectory()) pids.push(...(cgroupProcesses(join(cgroup, e.name)) ?? []));
  }
  return pids;
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

/** Removes a cgroup and those below it, deepest first; false if any of them still has processes. */
export function removeCgroup(cgroup: string): boolean {
  let entries: Dirent[] = [];
  try {
    entries = readdirSync(cgroup, { withFileTypes: true });
  } catch {
    return true; // gone already
  }
  let ok = true;
  for (const e of entries) if (e.isDirectory()) ok = removeCgroup(join(cgroup, e.name)) && ok;
  try {
    rmdirSync(cgroup);
  } catch {
    return false;
  }
  return ok;
}

/**
 * Removes the cgroups in `folder` (see jobCgroupsFolder) of jobs that no longer run and left nothing
 * running (their shepherd, which removes them, was killed): `running(id)` says which still run.
 */
export function removeStaleCgroups(folder: string, running: (id: string) => boolean): void {
  let names: string[];
  try {
    names = readdirSync(folder, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return;
  }
  for (const id of names) {
    const path = join(folder, id);
    if (!running(id) && (cgroupProcesses(path) ?? []).length === 0) removeCgroup(path);
  }
}
