import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { jobCgroup } from "../../src/process/cgroups.js";
import { cleanTerminalText } from "../../src/text/clean.js";
import { LineScanner, PENDING_TAIL_BYTES } from "../../src/text/line-scanner.js";
import { PatternError } from "../../src/text/safe-regex.js";
import { boundControlSequences, renderTerminal } from "../../src/text/terminal-render.js";
import { TextWorkers } from "../../src/workers/workers.js";
import { tempDir, writeRing } from "../support/helpers.js";

// The redraws of a line as a terminal applies them, one part after the other (the reference).
function naiveCollapse(line: string): string {
  let shown: string[] = [];
  for (const part of line.split("\r")) {
    const chars = Array.from(part);
    shown = chars.concat(shown.slice(chars.length));
  }
  return shown.join("");
}

describe("\\r redraws collapse in time linear in the line", () => {
  it("agrees with a terminal's order on many mixed lines", () => {
    const parts = ["", "a", "abc", "xy", "😀😀", "longer part", "é", "zz"];
    let seed = 7;
    const pick = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return parts[seed % parts.length] as string;
    };
    for (let n = 0; n < 500; n++) {
      const line = Array.from({ length: 1 + (n % 9) }, pick).join("\r");
      expect(cleanTerminalText(line)).toBe(naiveCollapse(line));
    }
  });

  it("collapses a 1 MB line redrawn 20,000 times (quadratic before: minutes)", () => {
    const bar = `${"=".repeat(1_000_000)}${Array.from({ length: 20_000 }, (_, i) => `\r[${i}]`).join("")}`;
    const out = cleanTerminalText(bar);
    expect(out.startsWith("[19999]=")).toBe(true);
    expect(out.length).toBe(1_000_000);
  });
});

describe("a line still being written (a prompt, a progress bar)", () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it("is handed out when it has grown, as its last bytes only, and not again until it grows", () => {
    const path = `${dir.path}/bar`;
    const line = `${"=".repeat(2_000_000)}\rprogress 1\rprogress 2`;
    writeRing(path, 4 * 1024 * 1024, line);
    const scanner = new LineScanner(path, 0);
    scanner.scan(() => false, false, {});
    const pending = scanner.newPending();
    // Its end, past the 1 MiB kept for matching whole lines, cleaned: what a prompt check needs.
    expect(pending?.text).toMatch(/^progress 2=+$/);
    expect(pending?.text.length).toBeLessThanOrEqual(PENDING_TAIL_BYTES);
    expect(scanner.newPending()).toBeUndefined();
    writeRing(path, 4 * 1024 * 1024, `${line}\rprogress 3!`);
    scanner.scan(() => false, false, {});
    expect(scanner.newPending()?.text).toMatch(/^progress 3!=+$/);
  });
});

describe("terminal rendering bounds the work of control sequences with huge counts", () => {
  it("renders scroll, insert, delete and repeat with a billion as count as the screen would show them", async () => {
    const seqs = ["S", "T", "L", "M", "@", "P", "X", "b", "I", "Z"].map((f) => `\x1b[999999999${f}`).join("");
    const out = await renderTerminal(`top\r\n${seqs}bottom`, 120, 40);
    expect(out).toContain("bottom");
  });

  it("bounds them too when controls stand inside their numbers (a terminal carries those out and goes on)", async () => {
    for (const seq of [
      "x\x1b[9\x0799999999b",
      "x\n\x1b[9\x0799999999S",
      "x\x1b[9\x0799999999L",
      "x\x1b[9\r9999\n99999b",
    ]) {
      expect(await renderTerminal(`${seq}end`, 120, 40)).toContain("end");
    }
    // The controls still happen, before the sequence: the bell is dropped, the line feed kept.
    expect(boundControlSequences("a\x1b[1\n2A", 120, 40)).toBe("a\n\x1b[12A");
  });
});

describe("text workers", () => {
  const workers = new TextWorkers();
  const dir = tempDir();
  afterAll(() => {
    workers.close();
    dir.remove();
  });
  const costly = `(${"a?".repeat(120)})*${"a".repeat(120)}$`;

  it("cut off a pattern that takes too long, saying so, and serve the next request", async () => {
    const path = `${dir.path}/as`;
    writeRing(path, 1 << 20, `${"a".repeat(120)}b\nplain line\n`);
    const streams = [{ name: "stdout" as const, path }];
    const opts = { contextLines: 0, maxMatches: 10, maxChars: 10_000 };
    await expect(workers.search(costly, streams, opts)).rejects.toThrow(PatternError);
    await expect(workers.search(costly, streams, opts)).rejects.toThrow(/cut off/);
    expect(await workers.search("^plain", streams, opts)).toMatchObject({ total_matches: 1 });
  });

  it("refuse what cannot run in linear time, with the reason", async () => {
    const streams = [{ name: "stdout" as const, path: `${dir.path}/none` }];
    const opts = { contextLines: 0, maxMatches: 10, maxChars: 10_000 };
    await expect(workers.search("(a)\\1", streams, opts)).rejects.toThrow(/linear time/);
    // Refused as a pattern (its message is the answer), not as a failure of the server.
    await expect(workers.search("(a)\\1", streams, opts)).rejects.toBeInstanceOf(PatternError);
    await expect(workers.search("((a{16}){16}){16}", streams, opts)).rejects.toThrow(/linear time/);
    await expect(workers.search("([", streams, opts)).rejects.toThrow(/Invalid regular expression/);
  });

  it("carry a wait's scan over to a new worker when another request on its worker was cut off", async () => {
    const path = `${dir.path}/lines`;
    writeRing(path, 1 << 20, "one\ntwo\n");
    const scan = await workers.openScan("^three$", [{ name: "stdout", path, from: 0 }]);
    expect(await scan.step(false, 1 << 20)).toMatchObject({ hit: null, offsets: [8] });
    // Both workers busy with costly searches that get cut off.
    const opts = { contextLines: 0, maxMatches: 10, maxChars: 10_000 };
    const a = `${dir.path}/as2`;
    writeRing(a, 1 << 20, `${"a".repeat(120)}b\n`);
    await Promise.allSettled([
      workers.search(costly, [{ name: "stdout", path: a }], opts),
      workers.search(costly, [{ name: "stdout", path: a }], opts),
    ]);
    writeRing(path, 1 << 20, "one\ntwo\nthree\n");
    expect(await scan.step(false, 1 << 20)).toMatchObject({ hit: { stream: "stdout", text: "three" }, offsets: [14] });
    scan.close();
  });
});

describe("a job's cgroup file", () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it("is believed only when it names a cgroup v2 folder of jobs, named by the job's id", () => {
    const id = "00000000-0000-4000-8000-0000000000aa";
    const fake = join(dir.path, "mcp-bg-jobs", id);
    mkdirSync(fake, { recursive: true });
    writeFileSync(join(fake, "cgroup.procs"), "1\n");
    writeFileSync(join(dir.path, "cgroup"), `${fake}\n`);
    // A folder that looks like one, but is no cgroup: a job could make it.
    expect(jobCgroup(dir.path, id)).toBeUndefined();
    writeFileSync(join(dir.path, "cgroup"), "/sys/fs/cgroup\n");
    expect(jobCgroup(dir.path, id)).toBeUndefined();
  });
});
