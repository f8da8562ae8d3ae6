import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from "node:fs";
import type { ProcessOs, ProcessScan, ProcStat } from "./os.js";

// Linux's /proc, read in this process (see os.ts for the other way).

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

// A /proc file of a process: one read into a reused buffer. (readFileSync allocates 64 KB for each
// file whose size it cannot know, as /proc's: a scan reads thousands, an idle server a few every 2 s.)
function readProcFile(pid: number | string, name: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/${name}`, "r");
  } catch {
    return undefined;
  }
  try {
    const n = readSync(fd, scratch, 0, scratch.length, null);
    return n < scratch.length ? scratch.subarray(0, n) : readFileSync(`/proc/${pid}/${name}`);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** State letter, parent and start time of a process, from /proc/PID/stat; undefined if there is none. */
function readStat(pid: number | string): ProcStat | undefined {
  const stat = readProcFile(pid, "stat")?.toString("latin1");
  if (stat === undefined) return undefined;
  // The name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const start = Number(fields[19]);
  return Number.isFinite(start) ? { state: fields[0] ?? "", ppid: Number(fields[1]), start } : undefined;
}

// One pass over /proc: each process's stat (with `table`) and, unless skipped, its MCP_BG_JOB_ID.
function scanProc(jobIds: ReadonlySet<string>, skip: ReadonlySet<number>, table: boolean): ProcessScan {
  const found: ProcessScan = { table: table ? new Map() : undefined, carriers: new Map() };
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return found;
  }
  for (const entry of entries) {
    const code = entry.charCodeAt(0);
    if (code < 48 || code > 57) continue;
    const pid = Number(entry);
    if (found.table) {
      const stat = readStat(entry);
      if (stat) found.table.set(pid, stat);
    }
    if (jobIds.size === 0 || skip.has(pid)) continue;
    const environ = readProcFile(entry, "environ");
    if (!environ) continue; // gone meanwhile, or not ours to read
    const id = jobIdIn(environ);
    if (id !== undefined && jobIds.has(id)) found.carriers.set(pid, id);
  }
  return found;
}

// TCP states in /proc/net/tcp: 0A is LISTEN.
const LISTEN = "0A";

// socket inode -> port, for the listening sockets of one network namespace (as `pid` sees it).
function listeningSockets(pid: number): Map<string, number> {
  const sockets = new Map<string, number>();
  for (const file of ["tcp", "tcp6"]) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${file}`, "latin1");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== LISTEN) continue;
      const port = Number.parseInt(f[1]?.split(":")[1] ?? "", 16);
      if (Number.isInteger(port) && port > 0) sockets.set(f[9] as string, port);
    }
  }
  return sockets;
}

// The inodes of the sockets a process has open.
function socketInodes(pid: number): string[] {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  const inodes: string[] = [];
  for (const fd of fds) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (target.startsWith("socket:[")) inodes.push(target.slice(8, -1));
  }
  return inodes;
}

// The network namespace a process is in (processes of a job may have entered others).
function netNamespace(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

/**
 * Each process's open sockets matched against the listening sockets of its network namespace (read
 * once per namespace). Processes that are gone, or whose descriptors may not be read, add nothing.
 */
function listeningPorts(pids: readonly number[]): Map<number, number[]> {
  const byNamespace = new Map<string, Map<string, number>>();
  const found = new Map<number, number[]>();
  for (const pid of pids) {
    const inodes = socketInodes(pid);
    if (inodes.length === 0) continue;
    const ns = netNamespace(pid) ?? `pid ${pid}`;
    let sockets = byNamespace.get(ns);
    if (!sockets) {
      sockets = listeningSockets(pid);
      byNamespace.set(ns, sockets);
    }
    const ports = new Set<number>();
    for (const inode of inodes) {
      const port = sockets.get(inode);
      if (port !== undefined) ports.add(port);
    }
    if (ports.size > 0) found.set(pid, [...ports]);
  }
  return found;
}

export const procfsOs: ProcessOs = {
  kind: "procfs",
  cgroups: true,
  adoptsOrphans: true,
  stat: (pid) => (Number.isInteger(pid) && pid > 0 ? readStat(pid) : undefined),
  bootId() {
    try {
      return readFileSync("/proc/sys/kernel/random/boot_id", "latin1").trim() || null;
    } catch {
      return null;
    }
  },
  commandLine(pid) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (args.at(-1) === "") args.pop();
      return args;
    } catch {
      return undefined;
    }
  },
  workingDir(pid) {
    try {
      return readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      return undefined;
    }
  },
  scan: async (jobIds, skip, table) => scanProc(jobIds, skip, table),
  listeningPorts: async (pids) => listeningPorts(pids),
};
