import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SHEPHERD_PATH } from "../../src/executors/local/shepherd-binary.js";
import { readRing } from "../../src/text/ring-file.js";
import { tempDir } from "../support/helpers.js";
import { useJobFixture } from "../support/job-fixture.js";

const jobs = useJobFixture({ capBytes: 2048 });

// Fixed-width numbered lines ("L000000042\n", 11 bytes): stream offset 11*n holds line n.
const FLOOD = `awk 'BEGIN{for(i=0;i<300000000;i++) printf "L%09d\\n", i}'`;

// Checks every whole line of a slice against its stream offset; returns the first wrong one.
function firstWrongLine(start: number, bytes: Buffer): string | undefined {
  const skip = (11 - (start % 11)) % 11;
  for (let i = skip; i + 11 <= bytes.length; i += 11) {
    const expected = `L${String((start + i) / 11).padStart(9, "0")}\n`;
    const line = bytes.toString("latin1", i, i + 11);
    if (line !== expected) return `at ${start + i}: ${JSON.stringify(line)} instead of ${JSON.stringify(expected)}`;
  }
  return undefined;
}

describe("reading a ring while a flood laps it", () => {
  it("never hands out bytes of a newer lap as older ones, newest-part reads", async () => {
    const { proc } = await jobs.start(FLOOD);
    const deadline = Date.now() + 2500;
    let reads = 0;
    while (Date.now() < deadline) {
      const s = readRing(jobs.path("stdout"));
      reads++;
      expect(firstWrongLine(s.start, s.bytes)).toBeUndefined();
    }
    expect(reads).toBeGreaterThan(1000);
    process.kill(-proc.pid, "SIGKILL");
  });

  it("pages forward from a cursor with every gap counted as dropped and every byte in its place", async () => {
    const { proc } = await jobs.start(FLOOD);
    const deadline = Date.now() + 2500;
    let cursor = 0;
    let reads = 0;
    while (Date.now() < deadline) {
      const s = readRing(jobs.path("stdout"), { from: cursor, maxBytes: 1000 });
      reads++;
      expect(s.start).toBeGreaterThanOrEqual(cursor);
      // A jump past the cursor is exactly what the ring no longer holds.
      if (s.start > cursor) expect(s.retainedFrom).toBeGreaterThanOrEqual(s.start);
      expect(s.end - s.start).toBe(s.bytes.length);
      expect(firstWrongLine(s.start, s.bytes)).toBeUndefined();
      cursor = s.end;
    }
    expect(reads).toBeGreaterThan(1000);
    process.kill(-proc.pid, "SIGKILL");
  });
});

describe("the job starts clean", () => {
  it("inherits no descriptor beyond 0, 1 and 2, and no ignored or blocked signal", () => {
    const dir = tempDir();
    try {
      // The shepherd is started with fd 7 open and INT/QUIT/HUP ignored, as a careless parent might.
      const r = spawnSync(
        "/bin/sh",
        [
          "-c",
          `exec 7</etc/hostname; trap '' INT QUIT HUP; exec "$0" "$@"`,
          SHEPHERD_PATH,
          dir.path,
          "clean-job",
          "65536",
          "200",
          "0",
          "80",
          "24",
          "/bin/sh",
          "ls /proc/self/fd; grep -E '^Sig(Ign|Blk)' /proc/self/status",
        ],
        { stdio: ["pipe", "pipe", "inherit"], encoding: "utf8" },
      );
      expect(r.stdout).toMatch(/exit 0 0/);
      const out = readFileSync(`${dir.path}/stdout`).subarray(64).toString("latin1").replace(/\0+$/, "");
      // ls sees 0, 1, 2 and the directory it is listing (3).
      expect(out.split("\n").filter((l) => /^\d+$/.test(l))).toEqual(["0", "1", "2", "3"]);
      expect(out).toMatch(/SigIgn:\s+0{16}/);
      expect(out).toMatch(/SigBlk:\s+0{16}/);
    } finally {
      dir.remove();
    }
  });
});
