import { readFileSync } from "node:fs";
import { join } from "node:path";
import { signalName } from "../process/signals.js";
import type { JobEnd, ProcessId } from "./job-store.js";

// A small file's text, or undefined if it is not there (or not readable).
function readSmall(path: string): string | undefined {
  try {
    return readFileSync(path, "latin1");
  } catch {
    return undefined;
  }
}

const whole = (s: string | undefined) => (s !== undefined && /^-?\d+$/.test(s) ? Number(s) : undefined);

/** A job's end as its shepherd wrote it to `dir/exit` ("CODE SIGNO ENDED_MS"), or undefined. */
export function readExitFile(dir: string): JobEnd | undefined {
  const [code, signo, ended] = (readSmall(join(dir, "exit")) ?? "").trim().split(" ").map(whole);
  if (code === undefined || signo === undefined || ended === undefined) return undefined;
  return { code: code >= 0 ? code : null, signal: signalName(signo) ?? null, endedMs: ended, lost: false };
}

/** A job's processes as its shepherd wrote them to `dir/pid` ("PID PID_START SHEPHERD_PID SHEPHERD_START"). */
export function readPidFile(dir: string): { job: ProcessId; shepherd: ProcessId } | undefined {
  const [pid, pidStart, shepherd, shepherdStart] = (readSmall(join(dir, "pid")) ?? "").trim().split(" ").map(whole);
  if (!pid || !pidStart || !shepherd || !shepherdStart) return undefined;
  return { job: { pid, start: pidStart }, shepherd: { pid: shepherd, start: shepherdStart } };
}
