import { join } from "node:path";
import type { JobEnd, ProcessRef } from "../domain/job-state.js";
import { readSmallFile } from "../files/regular-file.js";
import { signalName } from "../process/signals.js";

/**
 * A job's folder (`STATE_DIR/jobs/<id>/`), written by the process that captures the job (its
 * shepherd, on whichever machine it runs) and read by every server and command line:
 *  - `stdout`, `stderr`: ring files of the job's output (see text/ring-file.ts);
 *  - `stdin`: a FIFO feeding the job's stdin;
 *  - `shepherd`: "PID START" of the shepherd, written first thing (a start under way);
 *  - `pid`: "PID PID_START SHEPHERD_PID SHEPHERD_START" once the job runs;
 *  - `cgroup`: the job's own cgroup, if it has one;
 *  - `exit`: "CODE SIGNO ENDED_MS" once it has ended.
 * A job can write into its own folder: what is read here is checked, and never trusted beyond
 * what the job could do itself.
 */
export const jobFile = (dir: string, name: "stdout" | "stderr" | "stdin" | "exit") => join(dir, name);

/** Latest time an exit file may name (year 2100): anything beyond is garbage, not a time. */
const MAX_TIME_MS = 4_102_444_800_000;

const readSmall = (path: string) => readSmallFile(path);

// Whole numbers of the fields of a one-line file, each within its bounds; undefined if any is not.
function fields(text: string | undefined, bounds: [number, number][]): number[] | undefined {
  const parts = (text ?? "").trim().split(" ");
  if (parts.length !== bounds.length) return undefined;
  const out: number[] = [];
  for (const [i, part] of parts.entries()) {
    const [min, max] = bounds[i] as [number, number];
    if (!/^-?\d{1,16}$/.test(part)) return undefined;
    const n = Number(part);
    if (n < min || n > max) return undefined;
    out.push(n);
  }
  return out;
}

/** A job's end as its shepherd wrote it to `dir/exit` ("CODE SIGNO ENDED_MS"); undefined if absent or garbled. */
export function readExitFile(dir: string): JobEnd | undefined {
  const f = fields(readSmall(join(dir, "exit")), [
    [-1, 255],
    [0, 64],
    [1, MAX_TIME_MS],
  ]);
  if (!f) return undefined;
  const [code, signo, ended] = f as [number, number, number];
  return { code: code >= 0 ? code : null, signal: signalName(signo) ?? null, endedMs: ended, lost: false };
}

/** A job's processes as its shepherd wrote them to `dir/pid` ("PID PID_START SHEPHERD_PID SHEPHERD_START"). */
export function readPidFile(dir: string): { job: ProcessRef; shepherd: ProcessRef } | undefined {
  const max = Number.MAX_SAFE_INTEGER;
  const f = fields(readSmall(join(dir, "pid")), [
    [2, 2 ** 22],
    [1, max],
    [2, 2 ** 22],
    [1, max],
  ]);
  if (!f) return undefined;
  const [pid, pidStart, shepherd, shepherdStart] = f as [number, number, number, number];
  return { job: { pid, start: pidStart }, shepherd: { pid: shepherd, start: shepherdStart } };
}

/** The shepherd that is starting a job, as it wrote itself down (`dir/shepherd`: "PID START"). */
export function readShepherdFile(dir: string): ProcessRef | undefined {
  const f = fields(readSmall(join(dir, "shepherd")), [
    [2, 2 ** 22],
    [1, Number.MAX_SAFE_INTEGER],
  ]);
  return f ? { pid: f[0] as number, start: f[1] as number } : undefined;
}
