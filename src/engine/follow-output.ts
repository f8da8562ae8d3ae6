import { readRing, ringWritten } from "../text/ring-file.js";
import { lastLinesStart } from "../text/tail.js";
import { watchWrites } from "../text/watch-writes.js";
import type { TrackedJob as Job } from "./tracked-job.js";

/** What `logs` writes each stream to; a stream without a sink is not read. */
export interface LogSinks {
  stdout?: (bytes: Buffer) => void;
  stderr?: (bytes: Buffer) => void;
}

/** What part of the output `logs` writes, and for how long. */
export interface LogOptions {
  /** Only the last this many lines of each stream. */
  tail?: number;
  /** Only the last this many bytes of each stream (at most). */
  lastBytes?: number;
  /** Go on writing what the job prints until it has ended (or the signal aborts). */
  follow?: boolean;
  signal?: AbortSignal;
}

const CHUNK = 1024 * 1024;

// Copies a stream's bytes from `from` on to a sink, in chunks; returns the offset reached.
function copy(path: string, from: number, sink: (bytes: Buffer) => void): number {
  let at = from;
  for (;;) {
    const slice = readRing(path, { from: at, maxBytes: CHUNK });
    if (slice.bytes.length > 0) sink(slice.bytes);
    if (slice.end <= at) return Math.max(at, slice.start);
    at = slice.end;
  }
}

/**
 * Writes a job's retained output as its bytes (escape sequences and all: a terminal shows them as
 * the job meant), each stream to its sink; the last `tail` lines of each if given. With `follow`,
 * goes on writing what the job prints until it has ended.
 */
export async function writeLogs(job: Job, sinks: LogSinks, opts: LogOptions): Promise<void> {
  const streams = [
    { path: job.stdoutPath, sink: sinks.stdout, at: 0 },
    { path: job.stderrPath, sink: sinks.stderr, at: 0 },
  ].flatMap((s) => (s.sink ? [{ ...s, sink: s.sink }] : []));
  for (const s of streams) {
    let from = opts.tail !== undefined ? lastLinesStart(s.path, opts.tail).start : 0;
    if (opts.lastBytes !== undefined) from = Math.max(from, ringWritten(s.path) - opts.lastBytes);
    s.at = copy(s.path, from, s.sink);
  }
  if (!opts.follow || !job.running || opts.signal?.aborted) return;
  const pump = () => {
    for (const s of streams) s.at = copy(s.path, s.at, s.sink);
  };
  const stopWatching = watchWrites(job.dir, pump);
  // A write event may be missed between reads: look again now and then.
  const timer = setInterval(pump, 250);
  let onAbort = () => {};
  const aborted = new Promise<void>((resolve) => {
    onAbort = resolve;
    opts.signal?.addEventListener("abort", onAbort);
  });
  try {
    await Promise.race([job.ended, aborted]);
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    stopWatching();
    clearInterval(timer);
  }
  pump();
}
