import { describe, expect, it } from "vitest";
import { ringWritten } from "../../src/text/ring-file.js";
import { readStreamText } from "../../src/text/stream-text.js";
import { waitFor } from "../support/helpers.js";
import { useJobFixture } from "../support/job-fixture.js";

const MiB = 1024 * 1024;

// Jobs under the real shepherd; their rings are stdout and stderr in the test's directory.
const jobs = useJobFixture({ capBytes: 4 * MiB, drainMs: 500 });

const stdout = () => jobs.path("stdout");
const stderr = () => jobs.path("stderr");

describe("readStreamText on output of the real shepherd", () => {
  it("reads a character split across two writes back whole", async () => {
    const exit = await jobs.run("printf '\\303'; sleep 0.1; printf '\\251\\n'");
    expect(exit).toEqual({ code: 0, signal: null, lost: false });
    const all = readStreamText(stdout(), { from: 0, maxBytes: 1000, final: true });
    expect(all.text).toBe("é\n");
    expect(all).toMatchObject({ start: 0, end: 3, written: 3, dropped: 0, omittedBefore: 0, omittedAfter: 0 });
    // The newest-part read (no cursor) agrees.
    expect(readStreamText(stdout(), { maxBytes: 1000, final: true }).text).toBe("é\n");
  });

  it("with final=false holds back a trailing partial character, and its cursor excludes it", async () => {
    // The job writes "caf" and the first byte of "é", then waits for a line on stdin before the rest.
    const { proc, stdin } = await jobs.start("printf 'caf\\303'; read line; printf '\\251!\\n'");
    await waitFor(() => ringWritten(stdout()) === 4, 5000);

    const partial = readStreamText(stdout(), { from: 0, maxBytes: 1000, final: false });
    expect(partial.text).toBe("caf");
    expect(partial.start).toBe(0);
    expect(partial.end).toBe(3);
    expect(partial.written).toBe(4);
    // Control: the byte really is a partial character; read as final it can only be U+FFFD.
    expect(readStreamText(stdout(), { from: 0, maxBytes: 1000, final: true }).text).toBe("caf\uFFFD");
    // The newest-part read holds it back too.
    expect(readStreamText(stdout(), { maxBytes: 1000, final: false }).text).toBe("caf");

    await stdin.write("go\n");
    expect(await proc.exited).toEqual({ code: 0, signal: null, lost: false });

    // Reading on from the cursor picks the character up whole.
    const rest = readStreamText(stdout(), { from: partial.end, maxBytes: 1000, final: true });
    expect(rest.text).toBe("é!\n");
    expect(rest).toMatchObject({ start: 3, end: 7, written: 7, dropped: 0 });
    expect(partial.text + rest.text).toBe("café!\n");
  });

  it("does not report a held-back partial character as bytes omitted to stay under maxBytes", async () => {
    const { proc, stdin } = await jobs.start("printf 'caf\\303'; read line; printf '\\251\\n'");
    await waitFor(() => ringWritten(stdout()) === 4, 5000);
    const partial = readStreamText(stdout(), { from: 0, maxBytes: 1000, final: false });
    expect(partial.text).toBe("caf");
    // Control: bytes really cut by maxBytes are reported.
    expect(readStreamText(stdout(), { from: 0, maxBytes: 2, final: false }).omittedAfter).toBe(2);
    // The last byte was not left out for the limit (1000 bytes were allowed): it is a character still being
    // written. Counting it makes the result say "1 more bytes follow (limit ...)" and mark itself truncated.
    expect(partial.omittedAfter).toBe(0);
    await stdin.write("go\n");
    await proc.exited;
  });

  it("turns invalid bytes into U+FFFD without throwing", async () => {
    const exit = await jobs.run("printf '\\377\\376ok\\n'; printf 'bad \\351 byte\\n' >&2");
    expect(exit.code).toBe(0);
    expect(readStreamText(stdout(), { from: 0, maxBytes: 1000, final: true }).text).toBe("\uFFFD\uFFFDok\n");
    expect(readStreamText(stdout(), { maxBytes: 1000, final: true }).text).toBe("\uFFFD\uFFFDok\n");
    expect(readStreamText(stderr(), { from: 0, maxBytes: 1000, final: true }).text).toBe("bad \uFFFD byte\n");
  });

  it("reads stdout and stderr into separate rings", async () => {
    await jobs.run("echo out; echo err >&2");
    expect(readStreamText(stdout(), { from: 0, maxBytes: 100, final: true }).text).toBe("out\n");
    expect(readStreamText(stderr(), { from: 0, maxBytes: 100, final: true }).text).toBe("err\n");
  });

  it("reads a missing stream as empty", () => {
    const s = readStreamText(jobs.path("nope"), { maxBytes: 100, final: true });
    expect(s).toEqual({
      text: "",
      start: 0,
      end: 0,
      dropped: 0,
      omittedBefore: 0,
      omittedAfter: 0,
      written: 0,
      unstored: 0,
      capacity: 0,
    });
  });

  it("pages forward from a cursor with maxBytes, reporting what follows", async () => {
    await jobs.run("seq 1 1000"); // 3893 bytes
    const written = ringWritten(stdout());
    expect(written).toBe(3893);
    const first = readStreamText(stdout(), { from: 0, maxBytes: 1000, final: true });
    expect(first).toMatchObject({ start: 0, end: 1000, dropped: 0, omittedBefore: 0, omittedAfter: written - 1000 });
    let text = first.text;
    let cursor = first.end;
    for (let i = 0; i < 10 && cursor < written; i++) {
      const next = readStreamText(stdout(), { from: cursor, maxBytes: 1000, final: true });
      expect(next.start).toBe(cursor);
      text += next.text;
      cursor = next.end;
    }
    expect(cursor).toBe(written);
    expect(text).toBe(`${Array.from({ length: 1000 }, (_, i) => i + 1).join("\n")}\n`);
  });

  it("pages a finished job's multi-byte output in small reads without splitting a character", async () => {
    // "é" x 5 = 10 bytes; maxBytes 3 cuts every other read inside a character.
    await jobs.run("printf '\\303\\251\\303\\251\\303\\251\\303\\251\\303\\251'");
    const written = ringWritten(stdout());
    expect(written).toBe(10);

    // Control: while the job is treated as running (final=false), paging works.
    let live = "";
    for (let cursor = 0, i = 0; cursor < written && i < 20; i++) {
      const s = readStreamText(stdout(), { from: cursor, maxBytes: 3, final: false });
      live += s.text;
      cursor = s.end;
    }
    expect(live).toBe("ééééé");

    // Once the job has ended (final=true) the same paging must give the same text: a character cut by
    // maxBytes is not a character the job left unfinished.
    let done = "";
    for (let cursor = 0, i = 0; cursor < written && i < 20; i++) {
      const s = readStreamText(stdout(), { from: cursor, maxBytes: 3, final: true });
      done += s.text;
      cursor = s.end;
    }
    expect(done).toBe("ééééé");
  });
});

describe("a flood with no newline through a 1 MiB ring", () => {
  const TOTAL = 30_000_000;
  const CAP = MiB;

  it("completes, counts every byte, keeps the newest 1 MiB and reads at most maxBytes", async () => {
    const exit = await jobs.run("head -c 30000000 /dev/zero | tr '\\0' a", { capBytes: CAP });
    expect(exit).toEqual({ code: 0, signal: null, lost: false });
    expect(ringWritten(stdout())).toBe(TOTAL);
    expect(ringWritten(stderr())).toBe(0);
    const retainedFrom = TOTAL - CAP;

    // Newest part (no cursor).
    const tail = readStreamText(stdout(), { maxBytes: 65536, final: true });
    expect(tail.text.length).toBe(65536);
    expect(tail.text).toMatch(/^a+$/);
    expect(tail).toMatchObject({
      start: TOTAL - 65536,
      end: TOTAL,
      written: TOTAL,
      dropped: retainedFrom,
      omittedBefore: CAP - 65536,
      omittedAfter: 0,
    });

    // From the very beginning: all that precedes the oldest retained byte was dropped.
    const fromZero = readStreamText(stdout(), { from: 0, maxBytes: 65536, final: true });
    expect(fromZero.text.length).toBe(65536);
    expect(fromZero).toMatchObject({
      start: retainedFrom,
      end: retainedFrom + 65536,
      dropped: retainedFrom,
      omittedBefore: 0,
      omittedAfter: TOTAL - retainedFrom - 65536,
    });

    // From a cursor part-way into the dropped part: only the bytes between it and the oldest kept are dropped.
    const fromMid = readStreamText(stdout(), { from: retainedFrom - 1000, maxBytes: 100, final: true });
    expect(fromMid).toMatchObject({ start: retainedFrom, end: retainedFrom + 100, dropped: 1000 });

    // From a cursor still retained: nothing dropped.
    const fromKept = readStreamText(stdout(), { from: TOTAL - 10, maxBytes: 65536, final: true });
    expect(fromKept).toMatchObject({ text: "aaaaaaaaaa", start: TOTAL - 10, end: TOTAL, dropped: 0, omittedAfter: 0 });

    // The whole retained MiB at once.
    const whole = readStreamText(stdout(), { maxBytes: 2 * CAP, final: true });
    expect(whole.text.length).toBe(CAP);
    expect(whole).toMatchObject({ start: retainedFrom, dropped: retainedFrom, omittedBefore: 0 });
  });
});
