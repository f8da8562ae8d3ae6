import { cleanTerminalText } from "./clean.js";
import { readRing } from "./ring-file.js";
import { decodeUtf8, leadingContinuationBytes } from "./utf8.js";

const STEP = 64 * 1024;

/** Where the last lines of a ring file begin, as found by {@link lastLinesStart}. */
export interface LinesStart {
  /** Stream offset of the first byte of the first of those lines. */
  start: number;
  /** The bytes from `start` to the end, when asked for. */
  bytes: Buffer;
  /** `maxBytes` ran out before the lines were complete: `start` is where it ran out. */
  cut: boolean;
  /** Bytes the capture process could not store (see ring-file). */
  unstored: number;
}

/**
 * Stream offset where the last `lines` lines of a ring file begin (a final newline ends the last
 * line, it does not start another). Reads backwards from the end only as far as needed and never
 * more than `maxBytes`, so the cost follows the answer, not the size of the log. With `keep`, the
 * bytes read from there to the end come with it. The one place that counts lines from the end of a
 * stream: `tail_job_output`, `logs --tail`.
 */
export function lastLinesStart(
  path: string,
  lines: number,
  maxBytes = Number.POSITIVE_INFINITY,
  keep = false,
): LinesStart {
  const chunks: Buffer[] = [];
  let total = 0;
  let to: number | undefined;
  let seen = 0;
  let first = true;
  let unstored = 0;
  let start: number | undefined;
  let cut = false;
  while (start === undefined) {
    const want = Math.min(STEP, maxBytes - total);
    if (want <= 0) {
      cut = true;
      start = to ?? 0;
      break;
    }
    const slice = readRing(path, { to, maxBytes: want, fromEnd: true });
    unstored = slice.unstored;
    if (slice.bytes.length === 0 || lines <= 0) {
      start = lines <= 0 ? slice.end : slice.start;
      break;
    }
    let i = slice.bytes.length - 1;
    if (first && slice.bytes[i] === 10) i--;
    first = false;
    for (; i >= 0; i--) {
      if (slice.bytes[i] === 10 && ++seen === lines) {
        start = slice.start + i + 1;
        break;
      }
    }
    const from = start === undefined ? 0 : start - slice.start;
    if (keep) chunks.unshift(slice.bytes.subarray(from));
    total += slice.bytes.length;
    if (start === undefined && slice.start <= slice.retainedFrom) start = slice.start;
    to = slice.start;
  }
  return { start, bytes: Buffer.concat(chunks), cut, unstored };
}

/**
 * The last `lines` lines of a text; a final newline ends the last line and is kept only with
 * `endNewline`. The one place that does this for text already read (`logs --json --tail`, a PTY's tail).
 */
export function lastLinesOf(text: string, lines: number, endNewline = false): string {
  const all = text.split("\n");
  const ended = all.at(-1) === "";
  if (ended) all.pop();
  const kept = lines <= 0 ? [] : all.slice(-lines);
  return kept.length > 0 && ended && endNewline ? `${kept.join("\n")}\n` : kept.join("\n");
}

/**
 * The last `lines` lines of a stream's ring file, cleaned, joined with `\n`, reading at most
 * `maxBytes` (see lastLinesStart). `cut` says that `maxBytes` ran out before the lines were complete.
 */
export function tailText(
  path: string,
  lines: number,
  maxBytes: number,
): { text: string; cut: boolean; unstored: number } {
  const found = lastLinesStart(path, lines, maxBytes, true);
  const bytes = found.bytes.subarray(leadingContinuationBytes(found.bytes));
  return { text: lastLinesOf(cleanTerminalText(decodeUtf8(bytes)), lines), cut: found.cut, unstored: found.unstored };
}

/** The last `lines` lines of a stream's ring file (see tailText). */
export function tailLines(path: string, lines: number, maxBytes: number): string {
  return tailText(path, lines, maxBytes).text;
}
