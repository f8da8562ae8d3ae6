import { cleanTerminalText } from "./clean.js";
import { readRing } from "./ring-file.js";

const CHUNK = 1024 * 1024;
const NEWLINE = 10;

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
  private partial: Buffer[] = [];
  private partialBytes = 0;

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
        this.partial = [];
        this.partialBytes = 0;
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
    this.partial = [];
    this.partialBytes = 0;
  }

  /** The line being written (no newline yet), cleaned: a prompt such as `>>> ` or `Password:`. */
  get pending(): ScannedLine | undefined {
    if (this.partialBytes === 0) return undefined;
    return {
      text: cleanTerminalText(Buffer.concat(this.partial, this.partialBytes).toString("utf8")),
      end: this.readPos,
    };
  }

  // The assembled line: what was kept from earlier chunks plus buf[from, to), cleaned.
  private take(buf: Buffer, from: number, to: number): string {
    let bytes = buf.subarray(from, Math.min(to, from + this.maxLineBytes));
    if (this.partialBytes > 0) {
      this.keep(buf, from, to);
      bytes = Buffer.concat(this.partial, this.partialBytes);
      this.partial = [];
      this.partialBytes = 0;
    }
    return cleanTerminalText(bytes.toString("utf8"));
  }

  // Keeps the start of an unfinished line (up to maxLineBytes) for the next chunk.
  private keep(buf: Buffer, from: number, to: number): void {
    const room = this.maxLineBytes - this.partialBytes;
    if (room <= 0 || to <= from) return;
    const part = Buffer.from(buf.subarray(from, Math.min(to, from + room)));
    this.partial.push(part);
    this.partialBytes += part.length;
  }
}
