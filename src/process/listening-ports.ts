import { readdirSync, readFileSync, readlinkSync } from "node:fs";

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
 * The TCP ports each job's processes listen on, from /proc: each process's open sockets matched
 * against the listening sockets of its network namespace (read once per namespace for all jobs).
 * `processes` maps pid -> job id; every job of `jobIds` gets an entry, ascending, each port once.
 * Processes that are gone, or whose descriptors may not be read, add nothing.
 */
export function listeningPortsByJob(
  processes: ReadonlyMap<number, string>,
  jobIds: Iterable<string>,
): Map<string, number[]> {
  const byNamespace = new Map<string, Map<string, number>>();
  const found = new Map<string, Set<number>>();
  for (const id of jobIds) found.set(id, new Set());
  for (const [pid, jobId] of processes) {
    const inodes = socketInodes(pid);
    if (inodes.length === 0) continue;
    const ns = netNamespace(pid) ?? `pid ${pid}`;
    let sockets = byNamespace.get(ns);
    if (!sockets) {
      sockets = listeningSockets(pid);
      byNamespace.set(ns, sockets);
    }
    let ports = found.get(jobId);
    if (!ports) {
      ports = new Set();
      found.set(jobId, ports);
    }
    for (const inode of inodes) {
      const port = sockets.get(inode);
      if (port !== undefined) ports.add(port);
    }
  }
  return new Map([...found].map(([id, ports]) => [id, [...ports].sort((a, b) => a - b)]));
}
