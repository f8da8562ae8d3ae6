import { appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { TrackedJob } from "../../src/engine/tracked-job.js";
import { tempDir, waitFor } from "../helpers.js";

// As on a shared filesystem, where inotify does not see what other machines write: no events at all.
vi.mock("../../src/text/watch-writes.js", () => ({ watchWrites: () => () => {} }));

const { watchJobWrites } = await import("../../src/engine/job-writes.js");

const dirs: { remove: () => void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

function jobIn(executor: "local" | "slurm"): { job: TrackedJob; dir: string } {
  const d = tempDir("mcp-bg-writes-");
  dirs.push(d);
  writeFileSync(join(d.path, "stdout"), "");
  return { job: { dir: d.path, state: { executor } } as unknown as TrackedJob, dir: d.path };
}

describe("watchJobWrites without inotify events", () => {
  it("tells of a Slurm job's output and end within about a second, by looking at its files", async () => {
    const { job, dir } = jobIn("slurm");
    const seen: (string | null)[] = [];
    const stop = watchJobWrites(job, (name) => seen.push(name));
    try {
      appendFileSync(join(dir, "stdout"), "a line\n");
      await waitFor(() => seen.includes("stdout"), 3000);
      writeFileSync(join(dir, "exit"), "0 0 1\n");
      await waitFor(() => seen.includes("exit"), 3000);
      const count = seen.length;
      await new Promise((r) => setTimeout(r, 1500));
      expect(seen.length).toBe(count); // nothing changed, nothing told
    } finally {
      stop();
    }
  });

  it("leaves a local job to inotify alone (no look every second)", async () => {
    const { job, dir } = jobIn("local");
    const seen: (string | null)[] = [];
    const stop = watchJobWrites(job, (name) => seen.push(name));
    appendFileSync(join(dir, "stdout"), "a line\n");
    await new Promise((r) => setTimeout(r, 1500));
    stop();
    expect(seen).toEqual([]);
  });
});
