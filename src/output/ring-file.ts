import { closeSync, openSync, readSync } from "node:fs";

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
}

interface RingHeader {
  capacity: number;
  written: number;
}

const EMPTY: RingSlice = { start: 0, end: 0, bytes: Buffer.alloc(0), written: 0, retainedFrom: 0 };

// Reads the header: capacity and the count of bytes written so far.
function readHeader(fd: number): RingHeader | undefined {
  const h = Buffer.alloc(24);
  if (readSync(fd, h, 0, 24, 0) < 24 || h.toString("latin1", 0, 8) !== "BGRING01") return undefined;
  return { capacity: Number(h.readBigUInt64LE(8)), written: Number(h.readBigUInt64LE(16)) };
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
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return EMPTY;
  }
  try {
    const header = readHeader(fd);
    if (!header) return EMPTY;
    const { capacity, written } = header;
    const retainedFrom = Math.max(0, written - capacity);
    let end = Math.min(range.to ?? written, written);
    let start = Math.max(range.from ?? retainedFrom, retainedFrom);
    if (start > end) start = end;
    const max = range.maxBytes ?? Number.POSITIVE_INFINITY;
    if (end - start > max) {
      if (range.fromEnd) start = end - max;
      else end = start + max;
    }
    let bytes = readData(fd, capacity, start, end - start);
    end = start + bytes.length;
    // The writer may have lapped us while we read: drop whatever it overwrote.
    const after = readHeader(fd);
    const safeFrom = after ? Math.max(0, after.written - capacity) : retainedFrom;
    if (safeFrom > start) {
      const cut = Math.min(safeFrom - start, bytes.length);
      bytes = bytes.subarray(cut);
      start += cut;
    }
    return { start, end, bytes, written, retainedFrom: Math.max(retainedFrom, Math.min(safeFrom, written)) };
  } finally {
    closeSync(fd);
  }
}

/** Bytes written so far to a ring file (0 when it does not exist yet). */
export function ringWritten(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return 0;
  }
  try {
    return readHeader(fd)?.written ?? 0;
  } finally {
    closeSync(fd);
  }
}
