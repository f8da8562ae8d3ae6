import type { JobStatus } from "../domain/job-state.js";
import { cutText, MAX_LINE_CHARS } from "../text/cut.js";
import type { ScanSession, TextWorkers } from "../workers/workers.js";
import { type Cursor, currentCursor, formatCursor } from "./job-output.js";
import { type Readiness, untilReady } from "./readiness.js";
import type { TrackedJob as Job } from "./tracked-job.js";

/** What a wait is for, and how long it may take. */
export interface WaitOptions {
  /** Return when a line of output (stdout or stderr) matches this pattern; without it, wait for the end. */
  until?: string;
  /** Return also when a port accepts connections or a URL answers (see untilReady). */
  ready?: Readiness;
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
  /** The matching line (or what made the job ready: `port 5173 accepts connections`), or null. */
  match: string | null;
  /** Which stream the matching line came from, or null. */
  stream: "stdout" | "stderr" | null;
  /** The wait ran out before the job ended or a line matched. */
  timed_out: boolean;
  exit_code: number | null;
  /** Where output was looked at up to: just past the matching line, or the end of both streams. */
  cursor: string;
}

/** Bytes of each stream one scan step reads at most. */
const SCAN_BUDGET = 1024 * 1024;

/**
 * Waits until the job ends, a line of its output matches `until` (lines printed before the call
 * count, from `since` on), the timeout passes, or the signal aborts. Driven by write events on the
 * job's output files and by its end, never by polling. The pattern is matched in a text worker
 * (see TextWorkers), a step at a time, so that neither a fast printer nor a costly pattern holds
 * the server; a pattern whose matching is cut off ends the wait with an error.
 */
export function waitForJob(job: Job, text: TextWorkers, opts: WaitOptions): Promise<WaitResult> {
  const from = opts.since ?? { stdout: 0, stderr: 0 };
  let session: ScanSession | undefined;
  const result = (hit: { stream: "stdout" | "stderr" | null; text: string } | null, timedOut: boolean): WaitResult => {
    const end = currentCursor(job);
    const [stdout, stderr] = session?.cursor ?? [];
    const cursor: Cursor = opts.until
      ? { stdout: stdout ?? from.stdout, stderr: stderr ?? from.stderr }
      : { stdout: Math.max(end.stdout, from.stdout), stderr: Math.max(end.stderr, from.stderr) };
    return {
      status: job.status,
      matched: hit !== null,
      match: hit ? cutText(hit.text, MAX_LINE_CHARS) : null,
      stream: hit?.stream ?? null,
      timed_out: timedOut,
      exit_code: job.exitCode,
      cursor: formatCursor(cursor),
    };
  };
  return new Promise((resolve, reject) => {
    let done = false;
    let stepping = false;
    let again = false;
    let ended = job.over;
    let stopWatching = () => {};
    const probing = new AbortController();
    // The wait's time runs from the call, whatever getting the pattern ready takes.
    const timer = setTimeout(() => finish(result(null, true)), opts.timeoutMs);
    const settle = () => {
      done = true;
      session?.close();
      stopWatching();
      probing.abort();
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
    };
    const finish = (value: WaitResult) => {
      if (done) return;
      settle();
      resolve(value);
    };
    const fail = (err: unknown) => {
      if (done) return;
      settle();
      reject(err);
    };
    // Steps one at a time; an event during a step asks for one more after it.
    const step = async () => {
      if (done) return;
      if (stepping) {
        again = true;
        return;
      }
      stepping = true;
      try {
        do {
          again = false;
          const final = ended;
          if (!session) {
            if (final && !opts.until) finish(result(null, false));
            break;
          }
          const s = await session.step(final, SCAN_BUDGET);
          if (done) break;
          if (s.hit) finish(result(s.hit, false));
          else if (s.behind) again = true;
          else if (final) finish(result(null, false));
        } while (again && !done);
      } catch (err) {
        fail(err);
      } finally {
        stepping = false;
      }
    };
    const onAbort = () => finish(result(null, false));
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener("abort", onAbort);
    job.ended.then(() => {
      ended = true;
      void step();
    });
    if (opts.ready && (opts.ready.port !== undefined || opts.ready.http !== undefined))
      untilReady(opts.ready, probing.signal).then((text) => finish(result({ stream: null, text }, false)), fail);
    if (!opts.until) {
      void step();
      return;
    }
    text
      .openScan(opts.until, [
        { name: "stdout", path: job.stdoutPath, from: from.stdout },
        { name: "stderr", path: job.stderrPath, from: from.stderr },
      ])
      .then((opened) => {
        if (done) return opened.close();
        session = opened;
        stopWatching = job.writes.subscribe(() => void step());
        void step();
      }, fail);
  });
}
