import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RING_HEADER_BYTES, readRing, ringWritten } from "../../src/text/ring-file.js";
import { tempDir, writeRing } from "../support/helpers.js";

const text = (b: Buffer) => b.toString("latin1");

let dir: { path: string; remove: () => void };
let ring: string;

beforeEach(() => {
  dir = tempDir();
  ring = join(dir.path, "stdout");
});

afterEach(() => {
  dir.remove();
});

describe("the test's ring writer", () => {
  it("lays a wrapped stream out at 64 + offset % capacity, newest bytes over the oldest", () => {
    // 25 bytes into a 10-byte ring: offsets 15..24 ("PQRSTUVWXY") are kept; 20..24 wrapped to the front.
    writeRing(ring, 10, "ABCDEFGHIJKLMNOPQRSTUVWXY");
    const raw = readFileSync(ring);
    expect(raw.length).toBe(RING_HEADER_BYTES + 10);
    expect(text(raw.subarray(0, 8))).toBe("BGRING01");
    expect(raw.readBigUInt64LE(8)).toBe(10n);
    expect(raw.readBigUInt64LE(16)).toBe(25n);
    // In file order the data is not in stream order: a reader that ignores the wrap would get this.
    expect(text(raw.subarray(RING_HEADER_BYTES))).toBe("UVWXYPQRST");
  });
});

describe("readRing on a ring that has not wrapped", () => {
  beforeEach(() => writeRing(ring, 16, "hello world"));

  it("reads everything written, with its place in the stream", () => {
    const s = readRing(ring);
    expect(text(s.bytes)).toBe("hello world");
    expect(s).toMatchObject({ start: 0, end: 11, written: 11, retainedFrom: 0 });
  });

  it("reads between from and to", () => {
    expect(text(readRing(ring, { from: 6 }).bytes)).toBe("world");
    expect(text(readRing(ring, { to: 5 }).bytes)).toBe("hello");
    const mid = readRing(ring, { from: 2, to: 4 });
    expect(text(mid.bytes)).toBe("ll");
    expect(mid).toMatchObject({ start: 2, end: 4 });
  });

  it("clamps `to` past the end to what was written", () => {
    const s = readRing(ring, { from: 6, to: 1000 });
    expect(text(s.bytes)).toBe("world");
    expect(s).toMatchObject({ start: 6, end: 11 });
  });

  it("returns nothing, at the end, for `from` past what was written", () => {
    const s = readRing(ring, { from: 50 });
    expect(s.bytes.length).toBe(0);
    expect(s).toMatchObject({ start: 11, end: 11, written: 11 });
  });

  it("returns nothing for from > to", () => {
    const s = readRing(ring, { from: 8, to: 3 });
    expect(s.bytes.length).toBe(0);
    expect(s.end - s.start).toBe(0);
  });

  it("with maxBytes takes the front of the range, or its end with fromEnd", () => {
    const front = readRing(ring, { maxBytes: 5 });
    expect(text(front.bytes)).toBe("hello");
    expect(front).toMatchObject({ start: 0, end: 5, written: 11 });

    const back = readRing(ring, { maxBytes: 5, fromEnd: true });
    expect(text(back.bytes)).toBe("world");
    expect(back).toMatchObject({ start: 6, end: 11, written: 11 });

    const inner = readRing(ring, { from: 1, to: 9, maxBytes: 3, fromEnd: true });
    expect(text(inner.bytes)).toBe("wor");
    expect(inner).toMatchObject({ start: 6, end: 9 });
  });

  it("ignores maxBytes larger than the range", () => {
    expect(text(readRing(ring, { maxBytes: 1000, fromEnd: true }).bytes)).toBe("hello world");
    expect(text(readRing(ring, { maxBytes: 1000 }).bytes)).toBe("hello world");
  });

  it("reads a freshly created ring (header only, nothing written) as empty", () => {
    writeRing(ring, 16, "");
    const s = readRing(ring);
    expect(s.bytes.length).toBe(0);
    expect(s).toMatchObject({ start: 0, end: 0, written: 0, retainedFrom: 0 });
    expect(ringWritten(ring)).toBe(0);
  });
});

describe("readRing on a wrapped ring", () => {
  // 25 bytes through a 10-byte ring: "PQRSTUVWXY" (offsets 15..24) retained, 15 bytes dropped.
  beforeEach(() => writeRing(ring, 10, "ABCDEFGHIJKLMNOPQRSTUVWXY"));

  it("reads the retained bytes in stream order across the wrap", () => {
    const s = readRing(ring);
    expect(text(s.bytes)).toBe("PQRSTUVWXY");
    expect(s).toMatchObject({ start: 15, end: 25, written: 25, retainedFrom: 15 });
  });

  it("clamps `from` before retainedFrom to the oldest retained byte", () => {
    const s = readRing(ring, { from: 0 });
    expect(text(s.bytes)).toBe("PQRSTUVWXY");
    expect(s.start).toBe(15);
    expect(s.retainedFrom).toBe(15);
  });

  it("reads a range that crosses the end of the data area", () => {
    // 17 is at file position 7, 20 wraps to position 0.
    const s = readRing(ring, { from: 17, to: 22 });
    expect(text(s.bytes)).toBe("RSTUV");
    expect(s).toMatchObject({ start: 17, end: 22 });
  });

  it("reads a range entirely after the wrap point", () => {
    expect(text(readRing(ring, { from: 21, to: 24 }).bytes)).toBe("VWX");
  });

  it("applies maxBytes from the oldest retained byte or from the end", () => {
    const front = readRing(ring, { from: 0, maxBytes: 4 });
    expect(text(front.bytes)).toBe("PQRS");
    expect(front).toMatchObject({ start: 15, end: 19 });

    const back = readRing(ring, { maxBytes: 4, fromEnd: true });
    expect(text(back.bytes)).toBe("VWXY");
    expect(back).toMatchObject({ start: 21, end: 25, retainedFrom: 15 });

    // fromEnd that crosses the wrap point: 18..24.
    expect(text(readRing(ring, { maxBytes: 7, fromEnd: true }).bytes)).toBe("STUVWXY");
  });

  it("returns nothing for a range that lies entirely in the dropped part", () => {
    const s = readRing(ring, { from: 2, to: 10 });
    expect(s.bytes.length).toBe(0);
    expect(s.end - s.start).toBe(0);
    expect(s.retainedFrom).toBe(15);
  });

  it("handles written an exact multiple of the capacity", () => {
    writeRing(ring, 10, "ABCDEFGHIJKLMNOPQRST");
    const s = readRing(ring);
    expect(text(s.bytes)).toBe("KLMNOPQRST");
    expect(s).toMatchObject({ start: 10, end: 20, retainedFrom: 10, written: 20 });
  });

  it("handles written equal to the capacity (full, nothing dropped)", () => {
    writeRing(ring, 10, "ABCDEFGHIJ");
    const s = readRing(ring);
    expect(text(s.bytes)).toBe("ABCDEFGHIJ");
    expect(s).toMatchObject({ start: 0, end: 10, retainedFrom: 0 });
  });

  it("handles a large written count far past the capacity", () => {
    // 30,000,000 bytes through an 8-byte ring: only the last 8 given.
    writeRing(ring, 8, "abcdefgh", 30_000_000);
    const s = readRing(ring, { from: 0 });
    expect(text(s.bytes)).toBe("abcdefgh");
    expect(s).toMatchObject({ start: 29_999_992, end: 30_000_000, retainedFrom: 29_999_992, written: 30_000_000 });
    expect(ringWritten(ring)).toBe(30_000_000);
  });
});

describe("ringWritten", () => {
  it("reports the written count of the header", () => {
    writeRing(ring, 10, "ABCDEFGHIJKLMNOPQRSTUVWXY");
    expect(ringWritten(ring)).toBe(25);
    writeRing(ring, 64, "abc");
    expect(ringWritten(ring)).toBe(3);
  });
});

describe("files that are not (yet) rings", () => {
  it("a missing file reads as empty and as 0 written", () => {
    const missing = join(dir.path, "nope");
    const s = readRing(missing);
    expect(s.bytes.length).toBe(0);
    expect(s).toMatchObject({ start: 0, end: 0, written: 0, retainedFrom: 0 });
    expect(ringWritten(missing)).toBe(0);
  });

  it("a file with the wrong magic reads as empty", () => {
    writeRing(ring, 16, "hello world");
    expect(text(readRing(ring).bytes)).toBe("hello world"); // control: valid before the magic is spoiled
    const raw = readFileSync(ring);
    raw.write("BGRING02", 0, "latin1");
    writeFileSync(ring, raw);
    const s = readRing(ring);
    expect(s.bytes.length).toBe(0);
    expect(s).toMatchObject({ start: 0, end: 0, written: 0 });
    expect(ringWritten(ring)).toBe(0);
  });

  it("a file shorter than the header reads as empty", () => {
    writeFileSync(ring, Buffer.from("BGRING01\x10\0\0\0", "latin1"));
    expect(readRing(ring).bytes.length).toBe(0);
    expect(ringWritten(ring)).toBe(0);
  });

  it("an empty file reads as empty", () => {
    writeFileSync(ring, "");
    expect(readRing(ring).bytes.length).toBe(0);
    expect(ringWritten(ring)).toBe(0);
  });

  it("a header claiming more than the file holds (a full disk) reads as what is there, never past it", () => {
    writeRing(ring, 1 << 20, "0123456789");
    const raw = readFileSync(ring);
    raw.writeBigUInt64LE(5_000_000n, 16);
    raw.writeBigUInt64LE(5_000_000n, 24);
    // The file ends after the 10 bytes really written.
    writeFileSync(ring, raw.subarray(0, 64 + 10));
    const s = readRing(ring);
    expect(text(s.bytes)).toBe("0123456789");
    expect(s).toMatchObject({ start: 0, end: 10, written: 10 });
    expect(ringWritten(ring)).toBe(10);
    // Reading on from the end finds nothing more, so a pager stops.
    expect(readRing(ring, { from: 10 }).bytes.length).toBe(0);
  });

  it("a header with an impossible capacity or count reads as empty", () => {
    for (const [capacity, written] of [
      [0n, 0n],
      [2n ** 62n, 10n],
      [16n, 2n ** 60n],
    ] as const) {
      writeRing(ring, 16, "hello");
      const raw = readFileSync(ring);
      raw.writeBigUInt64LE(capacity, 8);
      raw.writeBigUInt64LE(written, 16);
      raw.writeBigUInt64LE(written, 24);
      writeFileSync(ring, raw);
      expect(readRing(ring).bytes.length).toBe(0);
      expect(ringWritten(ring)).toBe(0);
    }
  });

  it("reports the bytes the shepherd could not store", () => {
    writeRing(ring, 64, "kept");
    const raw = readFileSync(ring);
    raw.writeBigUInt64LE(4096n, 32);
    writeFileSync(ring, raw);
    expect(readRing(ring)).toMatchObject({ written: 4, unstored: 4096 });
  });
});
