import { PTY_SIZE } from "../domain/defaults.js";
import { ringWritten } from "../text/ring-file.js";
import { readStreamText, type StreamText } from "../text/stream-text.js";
import { lastLinesOf, tailText } from "../text/tail.js";
import type { TextWorkers } from "../workers/workers.js";
import { JobError } from "./errors.js";
import type { TrackedJob as Job } from "./tracked-job.js";

/** Byte offsets into both streams of a job: what a cursor stands for. */
export interface Cursor {
  stdout: number;
  stderr: number;
}

/** Output of both streams, ready for a tool result. */
export interface JobOutput {
  stdout: string;
  stderr: string;
  cursor: string;
  truncated: boolean;
}

/** Size of the terminal PTY jobs run in (and are rendered in). */

/** Formats a cursor as the opaque string tools hand out: `<stdout offset>:<stderr offset>`. */
export function formatCursor(c: Cursor): string {
  return `${c.stdout}:${c.stderr}`;
}

/** Parses a cursor string; a malformed one is an `invalid_input` error. */
export function parseCursor(text: string): Cursor {
  const m = /^(\d{1,15}):(\d{1,15})$/.exec(text.trim());
  if (!m) throw new JobError("invalid_input", `Invalid cursor "${text}": pass a cursor returned by an earlier call`);
  return { stdout: Number(m[1]), stderr: Number(m[2]) };
}

/** The current end of both streams. */
export function currentCursor(job: Job): Cursor {
  return { stdout: ringWritten(job.stdoutPath), stderr: ringWritten(job.stderrPath) };
}

const n = (x: number) => x.toLocaleString("en-US");

/** The note that stands where a stream's oldest bytes were dropped from its ring (it keeps the newest `capacity`). */
export const droppedNote = (bytes: number, capacity: number) =>
  `[mcp-bg-jobs: ${n(bytes)} bytes dropped here: the log keeps the newest ${n(capacity)} bytes per stream]`;

const unstoredNote = (bytes: number) =>
  `[mcp-bg-jobs: ${n(bytes)} bytes of this stream could not be stored (the disk was full) and are missing]`;

// Puts into the text where and how much was left out, and how to read it.
function annotate(s: StreamText, text: string, cursor: string, limit: number): string {
  let out = text;
  if (s.omittedBefore > 0) {
    out = `[mcp-bg-jobs: ${n(s.omittedBefore)} earlier bytes not shown (limit ${n(limit)} per result); get_job_output with since="0:0" reads from the oldest kept byte]\n${out}`;
  }
  if (s.dropped > 0) {
    out = `${droppedNote(s.dropped, s.capacity)}\n${out}`;
  }
  if (s.unstored > 0) out = `${unstoredNote(s.unstored)}\n${out}`;
  if (s.omittedAfter > 0) {
    out = `${out}\n[mcp-bg-jobs: ${n(s.omittedAfter)} more bytes follow (limit ${n(limit)} per result); call get_job_output with since="${cursor}"]`;
  }
  return out;
}

// The text a reader sees: a PTY job's output rendered as its terminal shows it (in a text worker),
// at most `limit` characters of it (a few bytes can ask a terminal to repeat a character thousands
// of times): the newest part, saying so.
async function visibleText(job: Job, s: StreamText, limit: number, text: TextWorkers): Promise<string> {
  if (!job.pty) return s.text;
  const shown = await text.render(s.text, PTY_SIZE.cols, PTY_SIZE.rows);
  if (shown.length <= limit) return shown;
  return `[mcp-bg-jobs: the rendered terminal holds ${n(shown.length)} characters; the newest ${n(limit)} are shown]\n${shown.slice(shown.length - limit)}`;
}

/**
 * Reads a job's output: with `since`, what came after that cursor (the oldest part first, up to
 * `limit` characters a stream); without it, all retained output, or its newest `limit` characters.
 */
export async function readJobOutput(
  job: Job,
  since: Cursor | undefined,
  limit: number,
  text: TextWorkers,
): Promise<JobOutput> {
  const final = job.over;
  const raw = job.pty;
  const out = readStreamText(job.stdoutPath, { from: since?.stdout, maxBytes: limit, final, raw });
  const err = readStreamText(job.stderrPath, { from: since?.stderr, maxBytes: limit, final, raw });
  const cursor = formatCursor({ stdout: out.end, stderr: err.end });
  const cut = (s: StreamText) => s.dropped > 0 || s.omittedBefore > 0 || s.omittedAfter > 0;
  return {
    stdout: annotate(out, await visibleText(job, out, limit, text), cursor, limit),
    stderr: annotate(err, await visibleText(job, err, limit, text), cursor, limit),
    cursor,
    truncated: cut(out) || cut(err),
  };
}

/** The last `lines` lines of each stream, at most `limit` characters each. */
export async function tailJobOutput(
  job: Job,
  lines: number,
  limit: number,
  text: TextWorkers,
): Promise<{ stdout: string; stderr: string }> {
  if (!job.pty) {
    const tail = (path: string) => {
      const { text, cut, unstored } = tailText(path, lines, limit);
      let out = cut
        ? `[mcp-bg-jobs: these lines hold more than ${n(limit)} bytes; only their last ${n(limit)} fit in one result. search_job_output finds lines; get_job_output with since reads all]\n${text}`
        : text;
      if (unstored > 0) out = `${unstoredNote(unstored)}\n${out}`;
      return out;
    };
    return { stdout: tail(job.stdoutPath), stderr: tail(job.stderrPath) };
  }
  const final = job.over;
  const out = readStreamText(job.stdoutPath, { maxBytes: limit, final, raw: true });
  return { stdout: lastLinesOf(await visibleText(job, out, limit, text), lines), stderr: "" };
}
