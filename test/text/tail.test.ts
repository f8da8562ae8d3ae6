import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readRing, ringWritten } from "../../src/text/ring-file.js";
import { tailLines } from "../../src/text/tail.js";
import { useJobFixture } from "../support/job-fixture.js";

const MiB = 1024 * 1024;

// Jobs under the real shepherd; their rings are stdout and stderr in the test's directory.
const jobs = useJobFixture({ capBytes: 4 * MiB, drainMs: 500 });

const stdout = () => jobs.path("stdout");

// Bytes this thread has read through read()/pread() so far (/proc/thread-self/io "rchar").
function bytesReadByThisThread(): number {
  const io = readFileSync("/proc/thread-self/io", "latin1");
  const m = /^rchar: (\d+)$/m.exec(io);
  if (!m) throw new Error(`no rchar in /proc/thread-self/io: ${io}`);
  return Number(m[1]);
}

// How many bytes `fn` read from files, as counted by the kernel.
function measureRead(fn: () => unknown): number {
  const before = bytesReadByThisThread();
  fn();
  return bytesReadByThisThread() - before;
}

const seq = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i).join("\n");

describe("tailLines on output of the real shepherd", () => {
  it("returns the last N lines of a text that ends with a newline", async () => {
    expect((await jobs.run("printf 'one\\ntwo\\nthree\\nfour\\n'")).code).toBe(0);
    expect(tailLines(stdout(), 2, 10_000)).toBe("three\nfour");
    expect(tailLines(stdout(), 1, 10_000)).toBe("four");
    expect(tailLines(stdout(), 4, 10_000)).toBe("one\ntwo\nthree\nfour");
  });

  it("counts an unterminated last line as a line", async () => {
    await jobs.run("printf 'one\\ntwo\\nthree'");
    expect(tailLines(stdout(), 1, 10_000)).toBe("three");
    expect(tailLines(stdout(), 2, 10_000)).toBe("two\nthree");
  });

  it("returns every line when fewer than N were written", async () => {
    await jobs.run("printf 'only\\nlines\\n'");
    expect(tailLines(stdout(), 50, 10_000)).toBe("only\nlines");
  });

  it("returns an empty string for a stream with no output, and for a missing file", async () => {
    await jobs.run("true");
    expect(ringWritten(stdout())).toBe(0);
    expect(tailLines(stdout(), 5, 10_000)).toBe("");
    expect(tailLines(jobs.path("nope"), 5, 10_000)).toBe("");
  });

  it("cleans the lines: colours gone, \\r\\n as newline, progress redraws collapsed", async () => {
    await jobs.run("printf 'a\\r\\nb 10%%\\rb 100%%\\r\\n\\033[31mred\\033[0m\\n'");
    expect(tailLines(stdout(), 3, 10_000)).toBe("a\nb 100%\nred");
  });

  it("tails 3 lines of a 1.3 MB output, reading only as far back as needed", async () => {
    expect((await jobs.run("seq 1 200000")).code).toBe(0);
    const written = ringWritten(stdout());
    expect(written).toBe(1_288_895);

    let tail = "";
    const readForTail = measureRead(() => {
      tail = tailLines(stdout(), 3, 64 * MiB);
    });
    expect(tail).toBe("199998\n199999\n200000");
    // One step back from the end is enough; reading the whole log would be over 1.2 MB.
    expect(readForTail).toBeLessThan(200_000);

    // Control: the measurement does see a read of the whole log.
    const readAll = measureRead(() => readRing(stdout()));
    expect(readAll).toBeGreaterThanOrEqual(written);
  });

  it("steps back over several chunks when many lines are asked for", async () => {
    await jobs.run("seq 1 200000");
    // 20,000 lines of 6-7 bytes: about 137 KB, more than one 64 KiB step.
    expect(tailLines(stdout(), 20_000, 64 * MiB)).toBe(seq(180_001, 200_000));
  });

  it("never returns more than maxBytes, and still ends with the last line", async () => {
    await jobs.run("seq 1 200000");
    const out = tailLines(stdout(), 100_000, 1000);
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(1000);
    expect(Buffer.byteLength(out)).toBeGreaterThan(900);
    expect(out.endsWith("\n199999\n200000")).toBe(true);
  });

  it("tails a ring that has wrapped", async () => {
    await jobs.run("seq 1 200000", { capBytes: 64 * 1024 });
    expect(ringWritten(stdout())).toBe(1_288_895);
    expect(tailLines(stdout(), 3, 10_000)).toBe("199998\n199999\n200000");
    // Asking for more lines than are retained gives what is retained, no more than the ring holds.
    const all = tailLines(stdout(), 1_000_000, 64 * MiB);
    expect(Buffer.byteLength(all)).toBeLessThanOrEqual(64 * 1024);
    expect(all.endsWith("\n200000")).toBe(true);
  });

  it("does not split a multi-byte character where the read starts", async () => {
    // 200 lines "ééé\n" (7 bytes each, 1400 in all); the last 1000 bytes start at 400 = 57 * 7 + 1, the
    // second byte of an "é".
    await jobs.run("i=0; while [ $i -lt 200 ]; do printf '\\303\\251\\303\\251\\303\\251\\n'; i=$((i+1)); done");
    expect(ringWritten(stdout())).toBe(1400);
    // Control: the window really starts on a continuation byte.
    const window = readRing(stdout(), { maxBytes: 1000, fromEnd: true });
    expect(window.start).toBe(400);
    expect((window.bytes[0] as number) & 0xc0).toBe(0x80);

    const out = tailLines(stdout(), 1000, 1000);
    expect(out).not.toContain("\uFFFD");
    expect(out.startsWith("éé\n")).toBe(true); // the cut line's whole characters
    expect(out.endsWith("\nééé\nééé")).toBe(true);
  });

  it("turns invalid bytes into U+FFFD", async () => {
    await jobs.run("printf 'x\\n\\377\\376ok\\n'");
    expect(tailLines(stdout(), 1, 10_000)).toBe("\uFFFD\uFFFDok");
  });
});
