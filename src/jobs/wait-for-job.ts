import { LineScanner } from "../output/line-scanner.js";
import { watchWrites } from "../output/watch-writes.js";
import type { Job, JobStatus } from "./job.js";
import { type Cursor, currentCursor, formatCursor } from "./job-output.js";

/** What a wait is for, and how long it may take. */
export interface WaitOptions {
  /** Return when a line of output (stdout or stderr) matches; without it, wait for the end. */
  until?: RegExp;
  /** Look only at output after this cursor; without it, at all retained output. */
  since?: Cursor;
  timeoutMs: number;
  /** Aborts the wait (the request was cancelled). */
  signal?: AbortSignal;
}

/** How a wait ended. */
export interface WaitResult {
  status: JobStatus;
  matched: boolean;
  /** The matching line, or null. */
  match: string | null;
  /** Which stream the matching line came from, or null. */
  stream: "stdout" | "stderr" | null;
  /** The wait ran out before the job ended or a line matched. */
  timed_out: boolean;
  exit_code: number | null;
  /** Where output was looked at up to: just past the matching line, or the end of both streams. */
  cursor: string;
}

/**
 * Waits until the job ends, a line of its output matches `until` (lines printed before the call
 * count, from `since` on), the timeout passes, or the signal aborts. Driven by write events on the
 * job's output files and by its end, never by polling; per-line work happens only while it waits.
 */
export function waitForJob(job: Job, opts: WaitOptions): Promise<WaitResult> {
  const from = opts.since ?? { stdout: 0, stderr: 0 };
  const scanners = opts.until
    ? {
        stdout: new LineScanner(job.stdoutPath, from.stdout),
        stderr: new LineScanner(job.stderrPath, from.stderr),
      }
    : undefined;
  const result = (matched: ScanHit | undefined, timedOut: boolean): WaitResult => {
    const end = currentCursor(job);
    const cursor: Cursor = scanners
      ? { stdout: scanners.stdout.offset, stderr: scanners.stderr.offset }
      : { stdout: Math.max(end.stdout, from.stdout), stderr: Math.max(end.stderr, from.stderr) };
    return {
      status: job.status,
      matched: matched !== undefined,
      match: matched ? shortLine(matched.text) : null,
      stream: matched?.stream ?? null,
      timed_out: timedOut,
      exit_code: job.exitCode,
      cursor: formatCursor(cursor),
    };
  };
  // Looks at new lines of both streams; `final` once the job has ended and its output is complete.
  const scan = (final: boolean): ScanHit | undefined => {
    if (!scanners || !opts.until) return undefined;
    const re = opts.until;
    for (const stream of ["stdout", "stderr"] as const) {
      let hit: string | undefined;
      scanners[stream].scan((line) => {
        if (!re.test(line.text)) return false;
        hit = line.text;
        return true;
      }, final);
      if (hit !== undefined) return { stream, text: hit };
    }
    // A prompt waits on a line without a newline: it counts too.
    for (const stream of ["stdout", "stderr"] as const) {
      const line = scanners[stream].pending;
      if (line && re.test(line.text)) {
        scanners[stream].offset = line.end;
        return { stream, text: line.text };
      }
    }
    return undefined;
  };

  return new Promise((resolve, reject) => {
    const first = scan(!job.running);
    if (first || !job.running) {
      resolve(result(first, false));
      return;
    }
    let stopWatching = () => {};
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (value: WaitResult) => {
      if (done) return;
      done = true;
      stopWatching();
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      resolve(value);
    };
    // Whatever happens in an event callback ends this wait, never the server.
    const guard = (fn: () => void) => () => {
      if (done) return;
      try {
        fn();
      } catch (err) {
        done = true;
        stopWatching();
        clearTimeout(timer);
        reject(err);
      }
    };
    const onAbort = guard(() => finish(result(undefined, false)));
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener("abort", onAbort);
    if (scanners) {
      stopWatching = watchWrites(
        job.dir,
        guard(() => {
          const hit = scan(false);
          if (hit) finish(result(hit, false));
        }),
      );
    }
    job.ended.then(guard(() => finish(result(scan(true), false))));
    timer = setTimeout(
      guard(() => finish(result(scan(false), true))),
      opts.timeoutMs,
    );
  });
}

const MAX_MATCH_CHARS = 1000;

// A matching line as returned: a very long one is cut, saying so.
const shortLine = (text: string) =>
  text.length > MAX_MATCH_CHARS
    ? `${text.slice(0, MAX_MATCH_CHARS)}… [${text.length - MAX_MATCH_CHARS} more chars]`
    : text;

interface ScanHit {
  stream: "stdout" | "stderr";
  text: string;
}
