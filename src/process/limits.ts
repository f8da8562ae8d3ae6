import { existsSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LimitHit, Limits, Usage } from "../domain/job-state.js";
import { ensureDir } from "../files/ensure-dir.js";
import { readSmallFile } from "../files/regular-file.js";
import { JOBS_FOLDER, makeCgroupFolder } from "./cgroups.js";
import { OS } from "./platform.js";

type Controller = "memory" | "pids" | "cpu";

/** Where a controller can be had for a job: a folder to make the job's cgroup in. */
interface Home {
  version: 1 | 2;
  folder: string;
}

// A cgroup file, or one in a job's folder (which the job can write into: never a FIFO, never followed
// to something that is no regular file).
const readText = (path: string): string | undefined => readSmallFile(path, 65536);

// What this process's /proc says of itself (any length).
const readProc = (path: string): string => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
};

// cgroup v1 hierarchies: for each controller, where it is mounted and the root it shows.
function v1Mounts(): Map<string, { mount: string; root: string }> {
  const mounts = new Map<string, { mount: string; root: string }>();
  for (const line of readProc("/proc/self/mountinfo").split("\n")) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE SUPEROPTIONS
    const [before, after] = line.split(" - ");
    if (!after?.startsWith("cgroup ")) continue;
    const fields = before?.split(" ") ?? [];
    const supers = after.split(" ")[2]?.split(",") ?? [];
    for (const c of supers) mounts.set(c, { mount: fields[4] ?? "", root: fields[3] ?? "/" });
  }
  return mounts;
}

// This process's own cgroup in the v1 hierarchy of a controller ("4:memory:/user.slice").
function ownV1Path(controller: string): string | undefined {
  for (const line of readProc("/proc/self/cgroup").split("\n")) {
    const [, list, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (list?.split(",").includes(controller)) return path;
  }
  return undefined;
}

/**
 * Where each controller can limit a job: cgroup v2 where the jobs' v2 folder (`v2Folder`, see
 * jobCgroupsFolder) has it or can be given it, else its v1 hierarchy where that is mounted and
 * this user may make cgroups there. Looked up once per process.
 */
let homes: Map<Controller, Home> | undefined;
function homesOf(v2Folder: string | undefined): Map<Controller, Home> {
  if (homes) return homes;
  homes = new Map();
  if (!OS.cgroups) return homes;
  const v1 = v1Mounts();
  for (const c of ["memory", "pids", "cpu"] as const) {
    if (v2Folder && (readText(join(v2Folder, "cgroup.controllers")) ?? "").split(/\s+/).includes(c)) {
      try {
        writeFileSync(join(v2Folder, "cgroup.subtree_control"), `+${c}`);
        homes.set(c, { version: 2, folder: v2Folder });
        continue;
      } catch {}
    }
    const folder = v1Folder(v1, c);
    if (folder && makeCgroupFolder(folder)) homes.set(c, { version: 1, folder });
  }
  return homes;
}

// Where jobs' cgroups of a controller's v1 hierarchy go (not made here).
function v1Folder(v1: ReturnType<typeof v1Mounts>, c: Controller): string | undefined {
  const mount = v1.get(c);
  const own = ownV1Path(c);
  if (!mount || own === undefined) return undefined;
  const relative = mount.root === "/" ? own : own.startsWith(mount.root) ? own.slice(mount.root.length) : undefined;
  return relative === undefined ? undefined : join(mount.mount, relative, JOBS_FOLDER);
}

const CONTROLLER_OF: Record<keyof Limits, Controller> = { memory_bytes: "memory", cpu: "cpu", processes: "pids" };

/** Which limits can be enforced here, and how ("cgroup v1 memory"); for the doctor and the README. */
export function limitSupport(v2Folder: string | undefined): Record<keyof Limits, string | undefined> {
  const h = homesOf(v2Folder);
  const how = (c: Controller) => {
    const home = h.get(c);
    return home ? `cgroup v${home.version} ${c}` : undefined;
  };
  return { memory_bytes: how("memory"), cpu: how("cpu"), processes: how("pids") };
}

/** Why limits cannot be had here, for the error a start that asks for them gets. */
function noLimitsWhy(): string {
  if (!OS.cgroups) return "resource limits need Linux cgroups, which this platform (or MCP_BG_PORTABLE=1) does not use";
  return "no cgroup with that controller may be made by this server (cgroup v2 without the controller delegated, and no writable v1 hierarchy): run it as root, or in a cgroup with the controller delegated to its user";
}

export interface LimitCgroups {
  /** The cgroups made, each holding one or more of the limits. */
  cgroups: string[];
  /** Of these, the cgroup v2 one (the job's own cgroup, which it is born in), if any. */
  v2: string | undefined;
  /** How each limit is enforced, in words. */
  via: string[];
}

/** A limit that could not be applied: the words of the error a start gets. */
export class LimitError extends Error {}

/**
 * Makes the cgroups that hold a job's limits (`JOBS_FOLDER/JOB_ID` in each hierarchy needed) and
 * writes the limits into them; the job joins them before its exec. Throws LimitError, having
 * removed what it made, if a limit cannot be applied.
 */
export function makeLimitCgroups(jobId: string, limits: Limits, v2Folder: string | undefined): LimitCgroups {
  const made: string[] = [];
  const via: string[] = [];
  const h = homesOf(v2Folder);
  try {
    for (const key of ["memory_bytes", "cpu", "processes"] as const) {
      const value = limits[key];
      if (value === null) continue;
      const controller = CONTROLLER_OF[key];
      const home = h.get(controller);
      const name = { memory_bytes: "memory_limit", cpu: "cpu_limit", processes: "process_limit" }[key];
      if (!home) throw new LimitError(`${name} cannot be enforced here: ${noLimitsWhy()}`);
      const dir = join(home.folder, jobId);
      if (!made.includes(dir)) {
        ensureDir(dir, 0o755);
        made.push(dir);
      }
      const put = (file: string, text: string) => {
        try {
          writeFileSync(join(dir, file), text);
        } catch (err) {
          throw new LimitError(
            `${name} cannot be enforced: writing ${join(dir, file)} failed (${(err as Error).message})`,
          );
        }
      };
      if (key === "memory_bytes" && home.version === 1) {
        put("memory.limit_in_bytes", String(value));
        // With swap, the limit covers it too (the file is there only where swap accounting is on).
        if (existsSync(join(dir, "memory.memsw.limit_in_bytes"))) put("memory.memsw.limit_in_bytes", String(value));
      } else if (key === "memory_bytes") {
        put("memory.max", String(value));
        if (existsSync(join(dir, "memory.swap.max"))) put("memory.swap.max", "0");
      } else if (key === "processes") {
        put("pids.max", String(value));
      } else if (home.version === 1) {
        put("cpu.cfs_period_us", "100000");
        put("cpu.cfs_quota_us", String(Math.max(1000, Math.round(value * 100000))));
      } else {
        put("cpu.max", `${Math.max(1000, Math.round(value * 100000))} 100000`);
      }
      via.push(`cgroup v${home.version} ${controller}`);
    }
  } catch (err) {
    removeLimitCgroups(made);
    throw err;
  }
  return { cgroups: made, via, v2: made.find((d) => v2Folder !== undefined && d.startsWith(`${v2Folder}/`)) };
}

/** Removes a job's limit cgroups (those that still hold processes stay, for a later sweep). */
export function removeLimitCgroups(cgroups: readonly string[]): void {
  for (const dir of cgroups) {
    try {
      rmdirSync(dir);
    } catch {}
  }
}

/**
 * Removes the limit cgroups of jobs that no longer run and left nothing running (their server,
 * which removes them, died): `running(id)` says which still run.
 */
let sweptFolders: string[] | undefined;
export function sweepLimitCgroups(running: (id: string) => boolean): void {
  if (!OS.cgroups) return;
  // Those a dead server made too, whether or not this one has made any (looked up once, not made).
  if (!sweptFolders) {
    const v1 = v1Mounts();
    const found = (["memory", "pids", "cpu"] as const).map((c) => v1Folder(v1, c));
    sweptFolders = [...new Set(found.filter((f): f is string => f !== undefined))];
  }
  for (const home of sweptFolders.filter((f) => existsSync(f))) {
    let names: string[] = [];
    try {
      names = readdirSync(home);
    } catch {}
    for (const id of names) {
      const dir = join(home, id);
      if (!/^[0-9a-f-]{36}$/.test(id) || running(id)) continue;
      if ((readText(join(dir, "cgroup.procs")) ?? "x").trim() === "") removeLimitCgroups([dir]);
    }
  }
}

// A number from a file of one number, or from a "key value" line of a flat-keyed file; only files
// the folder has are read (a failed read costs an exception).
function figure(dir: { path: string; files: Set<string> }, file: string, key?: string): number | undefined {
  if (!dir.files.has(file)) return undefined;
  const text = readText(join(dir.path, file));
  if (text === undefined) return undefined;
  if (key === undefined) {
    const n = Number(text.trim());
    return Number.isFinite(n) ? n : undefined;
  }
  const m = new RegExp(`^${key} (\\d+)$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}

/**
 * What a job has used so far, from its cgroups (its own v2 cgroup and its limit cgroups), and the
 * limit it ran into; undefined if it has no cgroup to read. `kept`: the folder its shepherd copied
 * its own cgroup's cpu.stat into before removing it (in the job's folder, which the job can write:
 * believed for its CPU time only, never for a limit).
 */
export function readUsage(
  cgroups: readonly string[],
  kept?: string,
): { usage: Usage; limitHit: LimitHit | null } | undefined {
  const dirs: { path: string; files: Set<string> }[] = [];
  for (const path of cgroups) {
    try {
      dirs.push({ path, files: new Set(readdirSync(path)) });
    } catch {}
  }
  const keptCpu = () =>
    kept ? figure({ path: kept, files: new Set(["cpu.stat"]) }, "cpu.stat", "usage_usec") : undefined;
  if (dirs.length === 0) {
    const usec = keptCpu();
    if (usec === undefined) return undefined;
    const usage = {
      cpu_seconds: usec / 1e6,
      memory_bytes: null,
      peak_memory_bytes: null,
      processes: null,
      peak_processes: null,
    };
    return { usage, limitHit: null };
  }
  const first = (read: (dir: { path: string; files: Set<string> }) => number | undefined) => {
    for (const dir of dirs) {
      const v = read(dir);
      if (v !== undefined) return v;
    }
    return null;
  };
  const cpuUsec = first((d) => figure(d, "cpu.stat", "usage_usec")) ?? keptCpu() ?? null;
  const cpuNs = cpuUsec === null ? first((d) => figure(d, "cpuacct.usage")) : null;
  const usage: Usage = {
    cpu_seconds: cpuUsec !== null ? cpuUsec / 1e6 : cpuNs !== null ? cpuNs / 1e9 : null,
    memory_bytes: first((d) => figure(d, "memory.current") ?? figure(d, "memory.usage_in_bytes")),
    peak_memory_bytes: first((d) => figure(d, "memory.peak") ?? figure(d, "memory.max_usage_in_bytes")),
    processes: first((d) => figure(d, "pids.current")),
    peak_processes: first((d) => figure(d, "pids.peak")),
  };
  if (Object.values(usage).every((v) => v === null)) return undefined;
  const ooms = first((d) => figure(d, "memory.events", "oom_kill") ?? figure(d, "memory.oom_control", "oom_kill"));
  const refusedForks = first((d) => figure(d, "pids.events", "max"));
  const limitHit: LimitHit | null = (ooms ?? 0) > 0 ? "memory" : (refusedForks ?? 0) > 0 ? "processes" : null;
  return { usage, limitHit };
}
