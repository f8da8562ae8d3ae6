import { closeSync, fstatSync, readSync } from "node:fs";
import { openRegularFile } from "../files/regular-file.js";

/** Size of the header in front of a ring file's data (see native/shepherd.c). */
export const RING_HEADER_BYTES = 64;

/** Bytes of one stream as far as they are still retained, with their place in the stream. */
export interface RingSlice {
  /** Stream offset of the first byte of `bytes`. */
  start: number;
  /** Stream offset just past the last byte of `bytes`. */
  end: number;
  bytes: Buffer;
  /** Total bytes the job has written to the stream so far. */
  written: number;
  /** Offset of the oldest byte still retained (bytes before it were dropped). */
  retainedFrom: number;
  /** Bytes the job wrote that could not be stored (the disk was full): not part of the stream. */
  unstored: number;
  /** Bytes the ring keeps at most (0 for a stream that has no ring yet). */
  capacity: number;
}

interface RingHeader {
  capacity: number;
  written: number;
  /** How far a write under way reaches (never below `written`): its oldest bytes are being overwritten. */
  writing: number;
  unstored: number;
}

const EMPTY: RingSlice = {
  start: 0,
  end: 0,
  bytes: Buffer.alloc(0),
  written: 0,
  retainedFrom: 0,
  unstored: 0,
  capacity: 0,
};

/** Largest capacity a ring may claim (1 TiB): a header claiming more is garbage. */
const MAX_CAPACITY = 2 ** 40;

/**
 * Reads the header: capacity and the count of bytes written so far. A header that cannot be true
 * (garbage, or counts beyond what the file holds, as when a disk filled up) is clamped to what the
 * file holds, or refused (undefined): a reader then sees less, never a loop or a crash.
 */
function readHeader(fd: number): RingHeader | undefined {
  const h = Buffer.alloc(40);
  if (readSync(fd, h, 0, 40, 0) < 40 || h.toString("latin1", 0, 8) !== "BGRING01") return undefined;
  const capacity = Number(h.readBigUInt64LE(8));
  let written = Number(h.readBigUInt64LE(16));
  let writing = Math.max(written, Number(h.readBigUInt64LE(24)));
  if (capacity < 1 || capacity > MAX_CAPACITY || writing > Number.MAX_SAFE_INTEGER) return undefined;
  // The file holds at least the bytes written, up to its capacity: if not (a full disk, a garbled
  // header), only what it holds is believed.
  const held = fstatSync(fd).size - RING_HEADER_BYTES;
  if (held < Math.min(written, capacity)) {
    written = Math.max(0, held);
    writing = written;
  }
  const unstored = Number(h.readBigUInt64LE(32));
  return { capacity, written, writing, unstored: Number.isSafeInteger(unstored) ? unstored : 0 };
}

// Reads `length` stream bytes starting at stream offset `from` (which must be retained).
function readData(fd: number, capacity: number, from: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const pos = (from + done) % capacity;
    const n = Math.min(length - done, capacity - pos);
    const got = readSync(fd, out, done, n, RING_HEADER_BYTES + pos);
    if (got <= 0) return out.subarray(0, done);
    done += got;
  }
  return out;
}

/**
 * Reads the retained bytes of a ring file between stream offsets `from` and `to` (clamped to what is
 * retained), at most `maxBytes` of them, taken from the end of the range when `fromEnd` is set.
 * Bytes the writer overwrote while they were being read are cut off the front.
 */
export function readRing(
  path: string,
  range: { from?: number; to?: number; maxBytes?: number; fromEnd?: boolean } = {},
): RingSlice {
  const fd = openRegularFile(path);
  if (fd === undefined) return EMPTY;
  try {
    let from = range.from;
    let slice: RingSlice = EMPTY;
    // A writer that laps this read spoils its oldest bytes: read again from the oldest safe byte.
    for (let attempt = 0; attempt < 3; attempt++) {
      const header = readHeader(fd);
      if (!header) return EMPTY;
      const { capacity, written } = header;
      const retainedFrom = Math.max(0, header.writing - capacity);
      let end = Math.min(range.to ?? written, written);
      let start = Math.max(from ?? retainedFrom, retainedFrom);
      if (start > end) start = end;
      const max = range.maxBytes ?? Number.POSITIVE_INFINITY;
      if (end - start > max) {
        if (range.fromEnd) start = end - max;
        else end = start + max;
      }
      const bytes = readData(fd, capacity, start, end - start);
      end = start + bytes.length;
      const after = readHeader(fd);
      const safeFrom = after ? Math.max(0, after.writing - capacity) : retainedFrom;
      slice = { start, end, bytes, written, retainedFrom, unstored: header.unstored, capacity };
      if (safeFrom <= start || bytes.length === 0) return slice;
      if (range.fromEnd) {
        // The newest part moved on: take it again.
        continue;
      }
      from = safeFrom;
    }
    // Still lapped: answer with what is safe, even if that is nothing.
    return { ...slice, start: slice.end, retainedFrom: slice.end, bytes: slice.bytes.subarray(slice.bytes.length) };
  } finally {
    closeSync(fd);
  }
}

/** Bytes written so far to a ring file (0 when it does not exist yet). */
export function ringWritten(path: string): number {
  const fd = openRegularFile(path);
  if (fd === undefined) return 0;
  try {
    return readHeader(fd)?.written ?? 0;
  } finally {
    closeSync(fd);
  }
}
