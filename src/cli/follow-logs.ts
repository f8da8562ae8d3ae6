import type { TrackedJob as Job } from "../engine/tracked-job.js";
import { readRing, ringWritten } from "../text/ring-file.js";
import { watchWrites } from "../text/watch-writes.js";

/** What `logs` writes each stream to. */
export interface LogSinks {
  stdout: (bytes: Buffer) => void;
  stderr: (bytes: Buffer) => void;
}

const STEP = 64 * 1024;
const CHUNK = 1024 * 1024;

/**
 * Stream offset where the last `lines` lines of a ring file begin (a final newline ends the last
 * line, it does not start another). Reads backwards only as far as needed.
 */
export function lastLinesStart(path: string, lines: number): number {
  if (lines <= 0) return ringWritten(path);
  let to: number | undefined;
  let seen = 0;
  let first = true;
  for (;;) {
    const slice = readRing(path, { to, maxBytes: STEP, fromEnd: true });
    if (slice.bytes.length === 0) return slice.start;
    let i = slice.bytes.length - 1;
    if (first && slice.bytes[i] === 10) i--;
    first = false;
    for (; i >= 0; i--) {
      if (slice.bytes[i] === 10 && ++seen === lines) return slice.start + i + 1;
    }
    if (slice.start <= slice.retainedFrom) return slice.start;
    to = slice.start;
  }
}

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
export async function writeLogs(job: Job, sinks: LogSinks, opts: { tail?: number; follow?: boolean }): Promise<void> {
  const streams = [
    { path: job.stdoutPath, sink: sinks.stdout, at: 0 },
    { path: job.stderrPath, sink: sinks.stderr, at: 0 },
  ];
  for (const s of streams) {
    const from = opts.tail !== undefined ? lastLinesStart(s.path, opts.tail) : 0;
    s.at = copy(s.path, from, s.sink);
  }
  if (!opts.follow || !job.running) return;
  const pump = () => {
    for (const s of streams) s.at = copy(s.path, s.at, s.sink);
  };
  const stopWatching = watchWrites(job.dir, pump);
  // A write event may be missed between reads: look again now and then.
  const timer = setInterval(pump, 250);
  try {
    await job.ended;
  } finally {
    stopWatching();
    clearInterval(timer);
  }
  pump();
}
