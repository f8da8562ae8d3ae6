import { LookFailed, type ProcStat } from "./os.js";
import { OS } from "./platform.js";
import { sendSignal } from "./signals.js";

/**
 * State letter, parent and start time of a process; undefined if there is none, "unknown" if the
 * question could not be answered (see ProcessOs.stat).
 */
export function readStat(pid: number): ProcStat | undefined | "unknown" {
  try {
    return OS.stat(pid);
  } catch (err) {
    if (err instanceof LookFailed) return "unknown";
    throw err;
  }
}

/**
 * When a process started (see ProcStat), or undefined if there is no such process. With its pid, it
 * names one process for good: a pid alone may be reused.
 */
export function processStartTime(pid: number): number | undefined {
  const stat = readStat(pid);
  return stat === "unknown" ? undefined : stat?.start;
}

/**
 * Whether the process `pid` that started at `start` is still there (a zombie counts as gone). One
 * whose look failed counts as there: nothing is recorded dead, lost or taken over on a failed look.
 */
export function isSameProcessAlive(pid: number | null, start: number | null): boolean {
  if (!pid || !start) return false;
  const stat = readStat(pid);
  if (stat === "unknown") return true;
  return stat !== undefined && stat.start === start && stat.state !== "Z";
}

let boot: { id: string | null } | undefined;

/** This boot's id: pids and start times name a process only within one boot (asked once). */
export function bootId(): string | null {
  boot ??= { id: OS.bootId() };
  return boot.id;
}

/**
 * Continues the process `pid` that started at `start` if it is stopped (SIGSTOP, or a tty stop):
 * a job can stop its own shepherd (`kill -STOP $PPID`), which would then neither capture its output
 * nor report its end. One look at the process; true if it was stopped.
 */
export function resumeIfStopped(ref: { pid: number; start: number } | null | undefined): boolean {
  if (!ref) return false;
  const stat = readStat(ref.pid);
  // Not known: continued all the same (a SIGCONT to a process that runs changes nothing).
  if (stat !== "unknown" && (!stat || stat.start !== ref.start || (stat.state !== "T" && stat.state !== "t")))
    return false;
  sendSignal(ref.pid, "SIGCONT");
  return true;
}

/**
 * Whether a record of this boot's processes may name live ones: pids and start times name a process
 * only within one boot (a record without a boot id, from an older version, is taken as this boot's).
 */
export const sameBoot = (id: string | null): boolean => id === null || id === bootId();

let self: { pid: number; start: number; bootId: string | null } | undefined;

/** This process, named for good: pid, start time and boot (asked once, when first needed). */
export function selfRef(): { pid: number; start: number; bootId: string | null } {
  self ??= { pid: process.pid, start: processStartTime(process.pid) ?? 0, bootId: bootId() };
  return self;
}

/** Whether the process a record names (pid and start time, of the boot it names) still lives. */
export function recordedAlive(p: { pid: number; start: number } | null, id: string | null): boolean {
  return p !== null && sameBoot(id) && isSameProcessAlive(p.pid, p.start);
}

/** The arguments a process was started with; undefined if it is gone or may not be read. */
export const commandLine = (pid: number): string[] | undefined => OS.commandLine(pid);

/** A process's working directory; undefined if it is gone or may not be read. */
export const workingDir = (pid: number): string | undefined => OS.workingDir(pid);

/**
 * Pids of live processes whose environment carries `MCP_BG_JOB_ID` equal to one of `jobIds`: this
 * finds processes that left the job's process group (setsid). `skip` names pids known not to carry
 * any of those ids (other jobs' shepherds and main processes): their environments are not read,
 * which is most of the cost when many jobs run.
 */
export async function findJobProcesses(
  jobIds: ReadonlySet<string>,
  skip: ReadonlySet<number> = new Set(),
): Promise<Map<number, string>> {
  if (jobIds.size === 0) return new Map();
  return (await OS.scan(jobIds, skip, false)).carriers;
}
