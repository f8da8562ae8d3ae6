import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ringWritten } from "../../src/text/ring-file.js";
import { BIN, cleanEnv, type Harness, startServer } from "../support/harness.js";
import { waitFor } from "../support/helpers.js";

// `logs -f` against a job that prints faster than its reader reads. (Found by a hostile review: with
// a reader that did not read, `logs -f` grew by ~125 MB/s; with one that fell behind the ring, it
// joined pieces of different lines with no note.)

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const rss = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) * 1024;

async function server(env: Record<string, string> = {}): Promise<Harness> {
  const s = await startServer({ env });
  cleanups.push(() => s.close());
  return s;
}

function follow(stateDir: string, id: string) {
  const child = spawn(process.execPath, [BIN, "logs", "-f", id], {
    env: { ...cleanEnv(), MCP_BG_STATE_DIR: stateDir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  cleanups.push(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  return child;
}

describe("logs -f with a reader that cannot keep up", () => {
  it("holds no more than a chunk for a reader that does not read", async () => {
    const s = await server();
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: "yes 'a flood of lines'" });
    cleanups.push(async () => void (await s.ok("kill_job", { job_id, signal: "SIGKILL", grace_seconds: 0 })));
    const child = follow(s.stateDir, job_id);
    child.stdout.pause();
    const pid = child.pid as number;
    const ring = join(s.stateDir, "jobs", job_id, "stdout");
    // Its memory while the job writes `bytes` more (sampled every 50 ms): the most it reached.
    const peakWhile = async (bytes: number) => {
      const target = ringWritten(ring) + bytes;
      let peak = 0;
      await waitFor(
        () => {
          peak = Math.max(peak, rss(pid));
          return ringWritten(ring) >= target;
        },
        120_000,
        50,
      );
      return peak;
    };
    // Started, and blocked on its full pipe by then (what it holds then, garbage collection included).
    const before = await peakWhile(2 ** 30);
    // A reader that keeps up with none of it would make it hold what the job writes: 2 GB more.
    const peak = await peakWhile(2 * 2 ** 30);
    console.log(`logs -f, not read: ${(before / 2 ** 20).toFixed(0)} MB -> peak ${(peak / 2 ** 20).toFixed(0)} MB`);
    expect(peak - before).toBeLessThan(64 * 2 ** 20);
  });

  it("says where it skipped what the ring overwrote, and never joins pieces of different lines", async () => {
    const s = await server({ MCP_BG_MAX_OUTPUT_SIZE: "64KB" });
    // Numbered lines, as fast as the shell prints them, then a last line.
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: "seq -w 1 2000000; echo done",
    });
    const child = follow(s.stateDir, job_id);
    // A reader that takes 16 KB now and then: far slower than seq.
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString("latin1");
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), 5);
    });
    const code = await new Promise<number | null>((r) => child.on("close", r));
    expect(code).toBe(0);
    const notes =
      out.match(/\[mcp-bg-jobs: [\d,]+ bytes dropped here: the log keeps the newest 65,536 bytes per stream\]/g) ?? [];
    expect(notes.length).toBeGreaterThan(0);
    // Between notes, lines follow one another: n, n+1, ... (the first after a note may be the end of one).
    const segments = out.split(/\n?\[mcp-bg-jobs: [\d,]+ bytes dropped here[^\]]*\]\n/);
    for (const [i, segment] of segments.entries()) {
      const lines = segment.split("\n").filter((l) => l !== "" && l !== "done");
      const whole = i === 0 ? lines : lines.slice(1);
      for (const [j, line] of whole.entries()) {
        expect(line).toMatch(/^\d{7}$/);
        if (j > 0) expect(Number(line)).toBe(Number(whole[j - 1]) + 1);
      }
    }
    expect(out.endsWith("done\n")).toBe(true);
    console.log(`logs -f, slow reader: ${notes.length} notes in ${out.length.toLocaleString()} bytes`);
  });
});
