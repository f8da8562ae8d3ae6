import { readRing } from "../text/ring-file.js";
import { lastLinesStart } from "../text/tail.js";
import { watchWrites } from "../text/watch-writes.js";
import type { TrackedJob as Job } from "./tracked-job.js";

/** What `logs` writes each stream to. */
export interface LogSinks {
  stdout: (bytes: Buffer) => void;
  stderr: (bytes: Buffer) => void;
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
export async function writeLogs(job: Job, sinks: LogSinks, opts: { tail?: number; follow?: boolean }): Promise<void> {
  const streams = [
    { path: job.stdoutPath, sink: sinks.stdout, at: 0 },
    { path: job.stderrPath, sink: sinks.stderr, at: 0 },
  ];
  for (const s of streams) {
    const from = opts.tail !== undefined ? lastLinesStart(s.path, opts.tail).start : 0;
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
