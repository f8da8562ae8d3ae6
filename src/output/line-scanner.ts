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
 * to that length for matching. If the writer laps the scanner, it skips ahead to the oldest kept byte.
 */
export class LineScanner {
  /** Offset just past the last complete line handed out. */
  offset: number;
  /** The last scan stopped at its byte budget with more output to read: call scan again. */
  behind = false;
  private readPos: number;
  /** The start of the unfinished line (up to maxLineBytes), for matching once it is complete. */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** The end of the unfinished line (its last PENDING_TAIL_BYTES), for prompt checks. */
  private tail: Buffer = Buffer.alloc(0);
  /** Bytes of the unfinished line so far, and how many there were when newPending last looked. */
  private lineBytes = 0;
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
        const text = this.take(buf, lineStart, nl);
        lineStart = nl + 1;
        this.offset = slice.start + lineStart;
        if (onLine({ text, end: this.offset })) {
          this.readPos = this.offset;
          return true;
        }
      }
      this.keep(buf, lineStart, buf.length);
      if (buf.length < CHUNK) break;
      read += buf.length;
      if (read >= budget) {
        this.behind = true;
        return false;
      }
    }
    if (final && this.partialBytes > 0) {
      const text = this.take(Buffer.alloc(0), 0, 0);
      this.offset = this.readPos;
      return onLine({ text, end: this.offset }) === true;
    }
    return false;
  }

  /** Drops the start of a line kept for the next scan (up to maxLineBytes): the scanner is done. */
  release(): void {
    this.forgetLine();
  }

  /**
   * The line being written (no newline yet), if it has grown since last asked: a prompt such as
   * `>>> ` or `Password:`. Only its last PENDING_TAIL_BYTES are cleaned and handed out, so that a
   * long line redrawn again and again (a progress bar) costs little each time, not its whole length.
   */
  newPending(): ScannedLine | undefined {
    if (this.lineBytes === 0 || this.lineBytes === this.pendingSeen) return undefined;
    this.pendingSeen = this.lineBytes;
    let text = this.tail;
    if (this.lineBytes > text.length) text = text.subarray(leadingContinuationBytes(text));
    return { text: cleanTerminalText(text.toString("utf8")), end: this.readPos };
  }

  // The assembled line: what was kept from earlier chunks plus buf[from, to), cleaned.
  private take(buf: Buffer, from: number, to: number): string {
    let bytes = buf.subarray(from, Math.min(to, from + this.maxLineBytes));
    if (this.partialBytes > 0) {
      this.keep(buf, from, to);
      bytes = Buffer.concat(this.partial, this.partialBytes);
    }
    this.forgetLine();
    return cleanTerminalText(bytes.toString("utf8"));
  }

  // Keeps the start of an unfinished line (up to maxLineBytes) and its end, for the next chunk.
  private keep(buf: Buffer, from: number, to: number): void {
    if (to <= from) return;
    this.lineBytes += to - from;
    const seg = buf.subarray(Math.max(from, to - PENDING_TAIL_BYTES), to);
    const old = this.tail.subarray(Math.max(0, this.tail.length - (PENDING_TAIL_BYTES - seg.length)));
    this.tail = Buffer.concat([old, seg]);
    const room = this.maxLineBytes - this.partialBytes;
    if (room <= 0) return;
    const part = Buffer.from(buf.subarray(from, Math.min(to, from + room)));
    this.partial.push(part);
    this.partialBytes += part.length;
  }

  private forgetLine(): void {
    this.partial = [];
    this.partialBytes = 0;
    this.tail = Buffer.alloc(0);
    this.lineBytes = 0;
    this.pendingSeen = 0;
  }
}
