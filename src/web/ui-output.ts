import type { ServerResponse } from "node:http";
import { describeEnd } from "../domain/ending.js";
import type { JobsForPage, LogSink, TrackedJob } from "../engine/index.js";
import { readRing, ringWritten } from "../text/ring-file.js";
import type { ByteRate } from "./connections.js";
import { sse } from "./ui-feed.js";

/** Bytes of a stream the page loads at first (the newest); the rest is a download away. */
const FIRST_BYTES = 2 * 1024 * 1024;
/**
 * Bytes of a stream read at a time for a page, each once the page has taken the last: what waits here
 * for a page that does not read (as text in an event: at most ~6x, for bytes that are all escapes).
 */
const PAGE_CHUNK = 16 * 1024;
/** A page that takes nothing of what waits for it for this long is let go (its connection closed). */
export const STALL_MS = 60_000;

/**
 * Resolves true once the response can take more, false once it has gone away or stalled for
 * `stallMs` (it is then destroyed: a stalled reader holds nothing here).
 */
export function drained(res: ServerResponse, stallMs = STALL_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      res.off("drain", onDrain);
      res.off("close", onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    const timer = setTimeout(() => {
      res.destroy();
      done(false);
    }, stallMs);
    res.on("drain", onDrain);
    res.on("close", onClose);
  });
}

/**
 * Streams one of a job's output streams to its page as text chunks (escape sequences and all: the
 * page renders them as a terminal would): the newest FIRST_BYTES, then what the job prints until it
 * has ended (`end`, with the job's record: the page needs no other stream) or the page goes away.
 * `skipped` says how many earlier bytes were left out. Read at the page's pace: one chunk waits
 * for a slow page, never the stream; what the ring overwrote before a slow page got to it is told
 * (`dropped`), and the stream goes on from the oldest byte kept.
 */
export function streamOutput(
  jobs: JobsForPage,
  job: TrackedJob,
  stream: "stdout" | "stderr",
  res: ServerResponse,
  rate: ByteRate,
) {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", "x-accel-buffering": "no" });
  const stop = new AbortController();
  res.on("close", () => stop.abort());
  const path = stream === "stdout" ? job.stdoutPath : job.stderrPath;
  sse(res, "skipped", Math.max(0, ringWritten(path) - FIRST_BYTES));
  const decoder = new TextDecoder("utf-8");
  const send = async (event: string, data: unknown) => {
    if (res.destroyed || sse(res, event, data)) return;
    if (!(await drained(res))) stop.abort();
  };
  const sink: LogSink = {
    async write(bytes) {
      await rate.take(bytes.length);
      const text = decoder.decode(bytes, { stream: true });
      if (text.length > 0) await send("data", text);
    },
    dropped: (bytes) => send("dropped", bytes),
  };
  jobs
    .logs(
      job,
      { [stream]: sink },
      { lastBytes: FIRST_BYTES, follow: true, signal: stop.signal, chunkBytes: PAGE_CHUNK },
    )
    .then(() => {
      if (stop.signal.aborted) return;
      const rest = decoder.decode();
      if (rest.length > 0) sse(res, "data", rest);
      const record = job.record();
      sse(res, "end", { ...record, outcome: describeEnd(record) });
      res.end();
    })
    .catch(() => res.destroy());
}

/** Bytes a download reads at a time. */
const DOWNLOAD_CHUNK = 1024 * 1024;

/**
 * All a job's stream holds (its retained bytes, escape sequences and all), as a file to save: what
 * the page leaves out of its terminal is here. Read a chunk at a time, each once the last has gone
 * out: a slow client holds one chunk here, whatever the stream keeps.
 */
export async function download(
  job: TrackedJob,
  stream: "stdout" | "stderr",
  res: ServerResponse,
  rate: ByteRate,
): Promise<void> {
  res.writeHead(200, {
    "content-type": "text/plain; charset=utf-8",
    "content-disposition": `attachment; filename="job-${job.id.replace(/[^A-Za-z0-9-]/g, "_")}-${stream}.log"`,
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
  });
  const path = stream === "stdout" ? job.stdoutPath : job.stderrPath;
  let at = 0;
  while (!res.destroyed) {
    const slice = readRing(path, { from: at, maxBytes: DOWNLOAD_CHUNK });
    if (slice.end <= at || slice.bytes.length === 0) break;
    at = slice.end;
    await rate.take(slice.bytes.length);
    if (!res.write(slice.bytes) && !(await drained(res))) return;
  }
  res.end();
}
