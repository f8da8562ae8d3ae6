import { cleanTerminalText } from "./clean.js";
import { readRing } from "./ring-file.js";
import { completeUtf8Length, decodeUtf8, leadingContinuationBytes } from "./utf8.js";

/** Cleaned text of one stream between two byte offsets, and what was left out around it. */
export interface StreamText {
  text: string;
  /** Byte offset where the text starts. */
  start: number;
  /** Byte offset just past the text: pass it back as the cursor to read on from there. */
  end: number;
  /** Bytes the log had already dropped (past its size cap) that this read would have included. */
  dropped: number;
  /** Retained bytes before `start` that this read left out to stay under `maxBytes`. */
  omittedBefore: number;
  /** Retained bytes after `end` that this read left out to stay under `maxBytes`. */
  omittedAfter: number;
  /** Total bytes written to the stream so far. */
  written: number;
  /** Bytes the job wrote that could not be stored (the disk was full). */
  unstored: number;
  /** Bytes the stream's log keeps at most. */
  capacity: number;
}

/** How to read a stream: from a cursor forward, or (no `from`) the newest part. */
export interface StreamRead {
  /** Byte offset to start at; without it the newest `maxBytes` of the retained output are read. */
  from?: number;
  /** Upper bound on bytes read, so on characters returned. */
  maxBytes: number;
  /** The job has ended: a trailing partial character will never be completed. */
  final: boolean;
  /** Return the decoded text as written (escape sequences and all), for a terminal renderer. */
  raw?: boolean;
}

/**
 * Reads one stream's ring file as text. Bytes are decoded only here, at read time: a character
 * split across writes comes out whole, and a character not complete yet is left for the next read.
 */
export function readStreamText(path: string, read: StreamRead): StreamText {
  const forward = read.from !== undefined;
  const slice = readRing(path, { from: read.from, maxBytes: read.maxBytes, fromEnd: !forward });
  let { start, end, bytes } = slice;
  const requestedFrom = read.from ?? 0;
  const dropped = Math.max(0, slice.retainedFrom - requestedFrom);
  const omittedBefore = forward ? 0 : start - slice.retainedFrom;
  // Starting after a dropped or cut-off part can land inside a character: skip its tail.
  if (start > requestedFrom || (!forward && start > 0)) {
    const skip = leadingContinuationBytes(bytes);
    bytes = bytes.subarray(skip);
    start += skip;
  }
  // A character cut at the end is held back for the next read, unless the stream has truly ended.
  const atEnd = end === slice.written;
  let heldAtEnd = 0;
  if (!read.final || !atEnd) {
    const keep = completeUtf8Length(bytes);
    if (atEnd) heldAtEnd = bytes.length - keep;
    end -= bytes.length - keep;
    bytes = bytes.subarray(0, keep);
  }
  return {
    text: read.raw ? decodeUtf8(bytes) : cleanTerminalText(decodeUtf8(bytes)),
    start,
    end,
    dropped,
    omittedBefore,
    omittedAfter: forward ? Math.max(0, slice.written - end - heldAtEnd) : 0,
    written: slice.written,
    unstored: slice.unstored,
    capacity: slice.capacity,
  };
}
