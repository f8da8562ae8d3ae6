import { cleanTerminalText } from "./clean.js";
import { readRing } from "./ring-file.js";
import { decodeUtf8, leadingContinuationBytes } from "./utf8.js";

const STEP = 64 * 1024;

// Counts newline bytes in a buffer.
function countNewlines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) n++;
  return n;
}

/**
 * The last `lines` lines of a stream's ring file, cleaned, joined with `\n`. Reads backwards from
 * the end only as far as needed (and never more than `maxBytes`), so the cost follows the answer,
 * not the size of the log. `cut` says that `maxBytes` ran out before the lines were complete.
 */
export function tailText(
  path: string,
  lines: number,
  maxBytes: number,
): { text: string; cut: boolean; unstored: number } {
  let chunks: Buffer[] = [];
  let total = 0;
  let newlines = 0;
  let to: number | undefined;
  let complete = false;
  let unstored = 0;
  for (;;) {
    const want = Math.min(STEP, maxBytes - total);
    if (want <= 0) break;
    const slice = readRing(path, { to, maxBytes: want, fromEnd: true });
    unstored = slice.unstored;
    if (slice.bytes.length === 0) {
      complete = true;
      break;
    }
    chunks = [slice.bytes, ...chunks];
    total += slice.bytes.length;
    newlines += countNewlines(slice.bytes);
    to = slice.start;
    // One newline more than lines asked for: the text may end with a newline.
    if (newlines > lines || slice.start <= slice.retainedFrom) {
      complete = true;
      break;
    }
  }
  let bytes = Buffer.concat(chunks, total);
  bytes = bytes.subarray(leadingContinuationBytes(bytes));
  const text = cleanTerminalText(decodeUtf8(bytes));
  const all = text.split("\n");
  if (all.at(-1) === "") all.pop();
  return { text: all.slice(-lines).join("\n"), cut: !complete, unstored };
}

/** The last `lines` lines of a stream's ring file (see tailText). */
export function tailLines(path: string, lines: number, maxBytes: number): string {
  return tailText(path, lines, maxBytes).text;
}
