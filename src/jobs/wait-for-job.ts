import { cutText, MAX_LINE_CHARS } from "../output/cut.js";
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
      match: matched ? cutText(matched.text, MAX_LINE_CHARS) : null,
      stream: matched?.stream ?? null,
      timed_out: timedOut,
      exit_code: job.exitCode,
      cursor: formatCursor(cursor),
    };
  };
  // Looks at new lines of both streams, at most SCAN_BUDGET bytes each per call; `final` once the
  // job has ended and its output is complete.
  const scan = (final: boolean): ScanHit | undefined => {
    if (!scanners || !opts.until) return undefined;
    const re = opts.until;
    for (const stream of ["stdout", "stderr"] as const) {
      let hit: string | undefined;
      scanners[stream].scan(
        (line) => {
          if (!re.test(line.text)) return false;
          hit = line.text;
          return true;
        },
        final,
        { maxBytes: SCAN_BUDGET },
      );
      if (hit !== undefined) return { stream, text: hit };
    }
    // A prompt waits on a line without a newline: it counts too (once the scan has caught up).
    for (const stream of ["stdout", "stderr"] as const) {
      const line = scanners[stream].behind ? undefined : scanners[stream].pending;
      if (line && re.test(line.text)) {
        scanners[stream].offset = line.end;
        return { stream, text: line.text };
      }
    }
    return undefined;
  };
  const behind = () => scanners !== undefined && (scanners.stdout.behind || scanners.stderr.behind);

  return new Promise((resolve, reject) => {
    let stopWatching = () => {};
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    let ended = !job.running;
    let queued = false;
    const finish = (value: WaitResult) => {
      if (done) return;
      done = true;
      // What a wait holds must not outlive it: the end hook below stays until the job ends.
      scanners?.stdout.release();
      scanners?.stderr.release();
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
    // One scan step; output left to read is read in later steps, so that other requests are served
    // meanwhile (a job printing faster than it can be scanned must not hold the server).
    const step = guard(() => {
      queued = false;
      const final = ended;
      const hit = scan(final);
      if (hit) return finish(result(hit, false));
      if (behind()) {
        queued = true;
        setImmediate(step);
        return;
      }
      if (final) finish(result(undefined, false));
    });
    const onAbort = guard(() => finish(result(undefined, false)));
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener("abort", onAbort);
    step();
    if (done || ended) return;
    if (scanners) stopWatching = watchWrites(job.dir, () => queued || step());
    job.ended.then(() => {
      ended = true;
      if (!queued) step();
    });
    timer = setTimeout(
      guard(() => finish(result(scan(false), true))),
      opts.timeoutMs,
    );
  });
}

/** Bytes of each stream one scan step reads at most. */
const SCAN_BUDGET = 1024 * 1024;

interface ScanHit {
  stream: "stdout" | "stderr";
  text: string;
}
