import { cleanTerminalText } from "./clean.js";
import { readRing } from "./ring-file.js";
import { leadingContinuationBytes } from "./utf8.js";

const CHUNK = 1024 * 1024;
const NEWLINE = 10;
/** How much of the end of an unfinished line a prompt check looks at. */
export const PENDING_TAIL_BYTES = 4096;

/** A line handed to a scanner's callback: cleaned text, and where it ends in the stream. */
export interface ScannedLine {
  text: string;
  /** Stream offset just past the line (past its newline). */
  end: number;
}

/**
 * Reads a stream's ring file line by line from an offset, picking up where it stopped on the next
 * call: the basis of waiting for a line and of searching. A line longer than `maxLineBytes` is cut
 * to that length for matching. If the writer laps the scanner, it skips ahead to the oldest kept
 * byte. What it holds between calls is small, whatever the line: where the unfinished line starts
 * (its bytes are read again from the ring once it is complete) and its last few KiB (for prompts).
 */
export class LineScanner {
  /** Offset just past the last complete line handed out: where the unfinished line starts. */
  offset: number;
  /** The last scan stopped at its byte budget with more output to read: call scan again. */
  behind = false;
  private readPos: number;
  /** The end of the unfinished line (its last PENDING_TAIL_BYTES), for prompt checks. */
  private tail: Buffer = Buffer.alloc(0);
  /** How long the unfinished line was when newPending last looked at it. */
  private pendingSeen = 0;

  constructor(
    private readonly path: string,
    from: number,
    private readonly maxLineBytes = 1024 * 1024,
  ) {
    this.offset = from;
    this.readPos = from;
  }

  /**
   * Hands each new complete line to `onLine` until it returns true (then returns true). With
   * `final`, a last line without a newline is handed out too. Reads at most `limits.maxBytes` per
   * call (then `behind` is set: a writer faster than the reader must not hold the caller for good),
   * and never past stream offset `limits.upTo`.
   */
  scan(
    onLine: (line: ScannedLine) => boolean | undefined,
    final = false,
    limits: { maxBytes?: number; upTo?: number } = {},
  ): boolean {
    const budget = limits.maxBytes ?? Number.POSITIVE_INFINITY;
    let read = 0;
    this.behind = false;
    for (;;) {
      const slice = readRing(this.path, { from: this.readPos, to: limits.upTo, maxBytes: CHUNK });
      if (slice.start > this.readPos) {
        // Lapped: what was between is gone, and so is the start of the line being assembled.
        this.forgetLine();
        this.offset = slice.start;
      }
      this.readPos = slice.end;
      const buf = slice.bytes;
      let lineStart = 0;
      for (let nl = buf.indexOf(NEWLINE); nl !== -1; nl = buf.indexOf(NEWLINE, lineStart)) {
        const text = this.lineUpTo(slice.start, buf, lineStart, nl);
        lineStart = nl + 1;
        this.offset = slice.start + lineStart;
        this.forgetLine();
        if (onLine({ text, end: this.offset })) {
          this.readPos = this.offset;
          return true;
        }
      }
      this.keepTail(buf.subarray(lineStart));
      if (buf.length < CHUNK) break;
      read += buf.length;
      if (read >= budget) {
        this.behind = true;
        return false;
      }
    }
    if (final && this.readPos > this.offset) {
      const text = this.lineUpTo(this.readPos, Buffer.alloc(0), 0, 0);
      this.offset = this.readPos;
      this.forgetLine();
      return onLine({ text, end: this.offset }) === true;
    }
    return false;
  }

  /** Lets go of what it holds of an unfinished line: the scanner is done. */
  release(): void {
    this.forgetLine();
  }

  /**
   * The line being written (no newline yet), if it has grown since last asked: a prompt such as
   * `>>> ` or `Password:`. Only its last PENDING_TAIL_BYTES are cleaned and handed out, so that a
   * long line redrawn again and again (a progress bar) costs little each time, not its whole length.
   */
  newPending(): ScannedLine | undefined {
    const length = this.readPos - this.offset;
    if (length === 0 || length === this.pendingSeen) return undefined;
    this.pendingSeen = length;
    let text = this.tail;
    if (length > text.length) text = text.subarray(leadingContinuationBytes(text));
    return { text: cleanTerminalText(text.toString("utf8")), end: this.readPos };
  }

  // The complete line that ends at buf[nl] (buf holds stream bytes from `bufStart`), cleaned: its
  // first maxLineBytes. A line that began in an earlier chunk is read again from the ring.
  private lineUpTo(bufStart: number, buf: Buffer, from: number, nl: number): string {
    let bytes: Buffer;
    if (this.offset >= bufStart) bytes = buf.subarray(from, Math.min(nl, from + this.maxLineBytes));
    else {
      const end = bufStart + nl;
      const slice = readRing(this.path, { from: this.offset, to: Math.min(end, this.offset + this.maxLineBytes) });
      bytes = slice.bytes;
      // Its start was overwritten meanwhile: the rest of it, from the first whole character.
      if (slice.start > this.offset) bytes = bytes.subarray(leadingContinuationBytes(bytes));
    }
    return cleanTerminalText(bytes.toString("utf8"));
  }

  // Keeps the end of the unfinished line, adding what this chunk holds of it.
  private keepTail(seg: Buffer): void {
    if (seg.length === 0) return;
    const room = PENDING_TAIL_BYTES - Math.min(seg.length, PENDING_TAIL_BYTES);
    const old = this.tail.subarray(Math.max(0, this.tail.length - room));
    this.tail = Buffer.concat([old, seg.subarray(Math.max(0, seg.length - PENDING_TAIL_BYTES))]);
  }

  private forgetLine(): void {
    this.tail = Buffer.alloc(0);
    this.pendingSeen = 0;
  }
}
