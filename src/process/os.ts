// The seam between the server and the operating system's process facilities: everything above
// src/process/ asks about processes through here (test/shape/architecture.test.ts holds it to that:
// nothing else reads /proc or names an OS). Two implementations: procfs.ts reads Linux's /proc in
// this process; helper-os.ts asks the capture binary (native/procs.c), which answers from sysctl and
// libproc on macOS and from /proc on Linux in portable mode. platform.ts chooses.

/** What the operating system tells of one process. */
export interface ProcStat {
  /** Its state as Linux writes it: R, S, D, T (stopped), Z (a zombie), ... */
  state: string;
  ppid: number;
  /** When it started (Linux: clock ticks since boot; macOS: microseconds since the epoch): with its pid, it names one process for good. */
  start: number;
}

/** One look at the processes. */
export interface ProcessScan {
  /** Every process (when asked for): pid -> its facts. */
  table: Map<number, ProcStat> | undefined;
  /** The processes carrying an MCP_BG_JOB_ID asked about: pid -> job id. */
  carriers: Map<number, string>;
}

/** The questions the server asks about processes. The synchronous ones are asked on the server's thread. */
export interface ProcessOs {
  /**
   * "procfs" (Linux: /proc read here), "helper" (macOS, and portable mode: the capture binary answers),
   * or "none" (a system where jobs cannot run: every process is unknown).
   */
  readonly kind: "procfs" | "helper" | "none";
  /** Whether jobs may have cgroups here (Linux, not in portable mode). */
  readonly cgroups: boolean;
  /**
   * Whether a job's orphans stay its shepherd's descendants (Linux: the shepherd is a child subreaper).
   * Where they do not (macOS, portable mode), a process whose parent dies goes to init and is found
   * only by its MCP_BG_JOB_ID, or by having been seen before: a kill looks before it signals.
   */
  readonly adoptsOrphans: boolean;
  /**
   * A process's state, parent and start time; undefined if there is no such process. Throws
   * LookFailed where the question could not be answered (the helper did not answer in time): a
   * look that failed must never read as "gone" (a live job recorded lost, a live server taken over).
   */
  stat(pid: number): ProcStat | undefined;
  /** This boot's id: pids and start times name a process only within one boot. Null if unknown. */
  bootId(): string | null;
  /** The arguments a process was started with. */
  commandLine(pid: number): string[] | undefined;
  /** A process's working directory. */
  workingDir(pid: number): string | undefined;
  /**
   * One look at every process: (with `table`) each one's facts, and the processes whose environment
   * carries MCP_BG_JOB_ID equal to one of `jobIds` (the environments of `skip` are not read).
   */
  scan(jobIds: ReadonlySet<string>, skip: ReadonlySet<number>, table: boolean): Promise<ProcessScan>;
  /** The TCP ports each of these processes listens on (pids without any left out). */
  listeningPorts(pids: readonly number[]): Promise<Map<number, number[]>>;
}

/** A question about processes that could not be answered (see ProcessOs.stat). */
export class LookFailed extends Error {}
