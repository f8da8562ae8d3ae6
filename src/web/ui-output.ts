import type { ServerResponse } from "node:http";
import { describeEnd } from "../domain/ending.js";
import type { JobEngine } from "../engine/job-engine.js";
import type { TrackedJob } from "../engine/tracked-job.js";
import { readRing, ringWritten } from "../text/ring-file.js";
import { MAX_BEHIND, sse } from "./ui-feed.js";

/** Bytes of a stream the page loads at first (the newest); the rest is a download away. */
const FIRST_BYTES = 2 * 1024 * 1024;

/**
 * Streams one of a job's output streams to its page as text chunks (escape sequences and all: the
 * page renders them as a terminal would): the newest FIRST_BYTES, then what the job prints until
 * it has ended (`end`, with the job's record: the page needs no other stream) or the page goes away.
 * `skipped` says how many earlier bytes were left out.
 */
export function streamOutput(jobs: JobEngine, job: TrackedJob, stream: "stdout" | "stderr", res: ServerResponse) {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", "x-accel-buffering": "no" });
  const stop = new AbortController();
  res.on("close", () => stop.abort());
  const path = stream === "stdout" ? job.stdoutPath : job.stderrPath;
  sse(res, "skipped", Math.max(0, ringWritten(path) - FIRST_BYTES));
  const decoder = new TextDecoder("utf-8");
  const sink = (bytes: Buffer) => {
    if (stop.signal.aborted) return;
    if (res.writableLength > MAX_BEHIND) {
      sse(res, "behind", null);
      res.end();
      stop.abort();
      return;
    }
    const text = decoder.decode(bytes, { stream: true });
    if (text.length > 0) sse(res, "data", text);
  };
  const sinks = { [stream]: sink };
  jobs
    .logs(job, sinks, { lastBytes: FIRST_BYTES, follow: true, signal: stop.signal })
    .then(() => {
      if (stop.signal.aborted) return;
      const rest = decoder.decode();
      if (rest.length > 0) sse(res, "data", rest);
      const record = job.record();
      sse(res, "end", { ...record, outcome: describeEnd(record) });
      res.end();
    })
    .catch(() => res.end());
}

// Resolves once the response can take more, or has gone away.
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}

/** Bytes a download reads at a time. */
const DOWNLOAD_CHUNK = 1024 * 1024;

/**
 * All a job's stream holds (its retained bytes, escape sequences and all), as a file to save: what
 * the page leaves out of its terminal is here. Read a chunk at a time, each once the last has gone
 * out: a slow client holds one chunk here, whatever the stream keeps.
 */
export async function download(job: TrackedJob, stream: "stdout" | "stderr", res: ServerResponse): Promise<void> {
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
    if (!res.write(slice.bytes)) await drained(res);
  }
  res.end();
}
