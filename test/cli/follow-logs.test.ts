import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { lastLinesStart as linesStart } from "../../src/text/tail.js";

const lastLinesStart = (path: string, lines: number) => linesStart(path, lines).start;

import { tempDir, writeRing } from "../support/helpers.js";

let dir: { path: string; remove: () => void };
let ring: string;
beforeEach(() => {
  dir = tempDir();
  ring = join(dir.path, "stdout");
});
afterEach(() => dir.remove());

describe("lastLinesStart (logs --tail N)", () => {
  it.each([
    ["a\nb\nc\n", 1, 4],
    ["a\nb\nc\n", 2, 2],
    ["a\nb\nc\n", 3, 0],
    ["a\nb\nc\n", 10, 0],
    ["a\nb\nc", 1, 4], // the last line has no newline yet
    ["a\nb\nc", 2, 2],
    ["a\nb\nc\n", 0, 6], // nothing
    ["", 3, 0],
  ])("%j, last %i lines start at %i", (stream, lines, start) => {
    writeRing(ring, 1024, stream);
    expect(lastLinesStart(ring, lines)).toBe(start);
  });

  it("reads back past 64 KB steps, and stops at the oldest retained byte of a wrapped ring", () => {
    const long = `${"x".repeat(100_000)}\n`;
    writeRing(ring, 1 << 20, `head\n${long}tail\n`);
    expect(lastLinesStart(ring, 2)).toBe(5);
    // Only the newest 1000 bytes are kept: fewer lines than asked for start at the oldest kept byte.
    writeRing(ring, 1000, `${"y\n".repeat(2000)}`);
    expect(lastLinesStart(ring, 10)).toBe(4000 - 20);
    expect(lastLinesStart(ring, 5000)).toBe(3000);
  });
});
