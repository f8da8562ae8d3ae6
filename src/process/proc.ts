import { closeSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";

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
