import { readRing, ringWritten } from "../text/ring-file.js";
import { lastLinesStart } from "../text/tail.js";
import type { TrackedJob as Job } from "./tracked-job.js";

/** Where `logs` puts one of a job's streams, at the reader's pace. */
export interface LogSink {
  /** Takes bytes; a promise holds the next read back until the reader has taken these. */
  write(bytes: Buffer): void | Promise<void>;
  /**
   * `bytes` of the stream were overwritten in its ring (it keeps the newest `capacity`) before they
   * could be read: what comes next does not follow on from what came before.
   */
  dropped(bytes: number, capacity: number): void | Promise<void>;
}

/** What `logs` writes each stream to; a stream without a sink is not read. */
export interface LogSinks {
  stdout?: LogSink;
  stderr?: LogSink;
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
  /** Bytes read at a time (and so held at most for a reader that does not read): 1 MiB unless said. */
  chunkBytes?: number;
}

const CHUNK = 1024 * 1024;
/** A follower looks again this often even without a write event (they can be late on some filesystems). */
const SAFETY_LOOK_MS = 1000;

/** Wakes followers of one job when it writes, ends, or the caller gives up. */
class Wakeups {
  private readonly waiting = new Set<() => void>();
  private readonly pending = new Set<number>();
  private readonly stops: (() => void)[] = [];

  constructor(job: Job, signal: AbortSignal | undefined, count: number) {
    const wake = () => {
      for (let i = 0; i < count; i++) this.pending.add(i);
      for (const w of [...this.waiting]) w();
    };
    this.stops.push(job.writes.subscribe(wake));
    // Not unref'd: a follower (`logs -f`) keeps its process alive until the job has ended.
    const timer = setInterval(wake, SAFETY_LOOK_MS);
    this.stops.push(() => clearInterval(timer));
    void job.ended.then(wake);
    signal?.addEventListener("abort", wake);
    this.stops.push(() => signal?.removeEventListener("abort", wake));
  }

  /** Resolves at follower `i`'s next wake-up (at once if one came since it last asked). */
  next(i: number): Promise<void> {
    if (this.pending.delete(i)) return Promise.resolve();
    return new Promise((resolve) => {
      const w = () => {
        this.waiting.delete(w);
        this.pending.delete(i);
        resolve();
      };
      this.waiting.add(w);
    });
  }

  stop(): void {
    for (const stop of this.stops) stop();
    for (const w of [...this.waiting]) w();
  }
}

// Copies one stream from `from` on to its sink, a chunk at a time, each once the sink has taken the
// last; with `follow`, until the job has ended and all it wrote is copied.
async function copyStream(
  job: Job,
  path: string,
  sink: LogSink,
  from: number,
  opts: LogOptions,
  wakeup: (() => Promise<void>) | undefined,
): Promise<void> {
  let at = from;
  for (;;) {
    // Read before it is known to have ended: what it wrote before its end is read after this.
    const ended = job.over;
    const slice = readRing(path, { from: at, maxBytes: opts.chunkBytes ?? CHUNK });
    if (slice.start > at) await sink.dropped(slice.start - at, slice.capacity);
    at = Math.max(at, slice.start);
    if (opts.signal?.aborted) return;
    if (slice.bytes.length > 0) {
      at = slice.end;
      await sink.write(slice.bytes);
      continue;
    }
    if (!wakeup || ended) return;
    await wakeup();
  }
}

/**
 * Writes a job's retained output as its bytes (escape sequences and all: a terminal shows them as
 * the job meant), each stream to its sink, at the pace each sink takes it: what waits for a slow
 * reader is one chunk, never the stream. The last `tail` lines (or `lastBytes`) of each if given.
 * With `follow`, goes on until the job has ended; bytes the ring overwrote before a slow reader got
 * to them are told to its sink (`dropped`), and the copy goes on from the oldest byte kept.
 */
export async function writeLogs(job: Job, sinks: LogSinks, opts: LogOptions): Promise<void> {
  const streams = [
    { path: job.stdoutPath, sink: sinks.stdout },
    { path: job.stderrPath, sink: sinks.stderr },
  ].flatMap((s) => (s.sink ? [{ path: s.path, sink: s.sink }] : []));
  const follow = opts.follow === true && !job.over && !opts.signal?.aborted;
  const wakeups = follow ? new Wakeups(job, opts.signal, streams.length) : undefined;
  try {
    await Promise.all(
      streams.map((s, i) => {
        let from = opts.tail !== undefined ? lastLinesStart(s.path, opts.tail).start : 0;
        if (opts.lastBytes !== undefined) from = Math.max(from, ringWritten(s.path) - opts.lastBytes);
        return copyStream(job, s.path, s.sink, from, opts, wakeups && (() => wakeups.next(i)));
      }),
    );
  } finally {
    wakeups?.stop();
  }
}
