import { closeSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";
import { sendSignal } from "./signals.js";

const MARK = Buffer.from("MCP_BG_JOB_ID=");

// The value of MCP_BG_JOB_ID in a NUL-separated environment block, if present.
function jobIdIn(environ: Buffer): string | undefined {
  let i = environ.indexOf(MARK);
  while (i !== -1) {
    if (i === 0 || environ[i - 1] === 0) {
      const from = i + MARK.length;
      const to = environ.indexOf(0, from);
      return environ.toString("utf8", from, to === -1 ? environ.length : to);
    }
    i = environ.indexOf(MARK, i + 1);
  }
  return undefined;
}

const scratch = Buffer.allocUnsafe(128 * 1024);

// A process's environment block: one read into a reused buffer (a scan reads thousands of them).
function readEnviron(pid: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/environ`, "r");
  } catch {
    return undefined;
  }
  try {
    const n = readSync(fd, scratch, 0, scratch.length, null);
    return n < scratch.length ? scratch.subarray(0, n) : readFileSync(`/proc/${pid}/environ`);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** The MCP_BG_JOB_ID a process carries, if any (and if its environment may be read). */
export function environJobId(pid: number): string | undefined {
  const environ = readEnviron(String(pid));
  return environ ? jobIdIn(environ) : undefined;
}

/**
 * Pids of live processes whose environment carries `MCP_BG_JOB_ID` equal to one of `jobIds`,
 * found by scanning /proc: this finds processes that left the job's process group (setsid).
 * `skip` names pids known not to carry any of those ids (other jobs' shepherds and main processes):
 * their environments are not read, which is most of the cost when many jobs run.
 */
export function findJobProcesses(
  jobIds: ReadonlySet<string>,
  skip: ReadonlySet<number> = new Set(),
): Map<number, string> {
  const found = new Map<number, string>();
  if (jobIds.size === 0) return found;
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return found;
  }
  for (const entry of entries) {
    const code = entry.charCodeAt(0);
    if (code < 48 || code > 57 || skip.has(Number(entry))) continue;
    const environ = readEnviron(entry);
    if (!environ) continue; // gone meanwhile, or not ours to read
    const id = jobIdIn(environ);
    if (id !== undefined && jobIds.has(id)) found.set(Number(entry), id);
  }
  return found;
}

/** State letter, parent and start time of a process, from /proc/PID/stat; undefined if there is none. */
export function readStat(pid: number): { state: string; ppid: number; start: number } | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch {
    return undefined;
  }
  // The name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const start = Number(fields[19]);
  return Number.isFinite(start) ? { state: fields[0] ?? "", ppid: Number(fields[1]), start } : undefined;
}

/**
 * When a process started (field 22 of /proc/PID/stat, clock ticks since boot), or undefined if
 * there is no such process. With its pid, it names one process for good: a pid alone may be reused.
 */
export function processStartTime(pid: number): number | undefined {
  return readStat(pid)?.start;
}

/** Whether the process `pid` that started at `start` is still there (a zombie counts as gone). */
export function isSameProcessAlive(pid: number | null, start: number | null): boolean {
  if (!pid || !start) return false;
  const stat = readStat(pid);
  return stat !== undefined && stat.start === start && stat.state !== "Z";
}

/** This boot's id: pids and start times name a process only within one boot. */
export const BOOT_ID: string | null = (() => {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "latin1").trim() || null;
  } catch {
    return null;
  }
})();

/**
 * Continues the process `pid` that started at `start` if it is stopped (SIGSTOP, or a tty stop):
 * a job can stop its own shepherd (`kill -STOP $PPID`), which would then neither capture its output
 * nor report its end. One read of /proc/PID/stat; true if it was stopped.
 */
export function resumeIfStopped(ref: { pid: number; start: number } | null | undefined): boolean {
  if (!ref) return false;
  const stat = readStat(ref.pid);
  if (!stat || stat.start !== ref.start || (stat.state !== "T" && stat.state !== "t")) return false;
  sendSignal(ref.pid, "SIGCONT");
  return true;
}

/**
 * Whether a record of this boot's processes may name live ones: pids and start times name a process
 * only within one boot (a record without a boot id, from an older version, is taken as this boot's).
 */
export const sameBoot = (bootId: string | null): boolean => bootId === null || bootId === BOOT_ID;

/** This process, named for good: pid, start time and boot. */
export const SELF: { pid: number; start: number; bootId: string | null } = {
  pid: process.pid,
  start: processStartTime(process.pid) ?? 0,
  bootId: BOOT_ID,
};

/** Whether the process a record names (pid and start time, of the boot it names) still lives. */
export function recordedAlive(p: { pid: number; start: number } | null, bootId: string | null): boolean {
  return p !== null && sameBoot(bootId) && isSameProcessAlive(p.pid, p.start);
}
