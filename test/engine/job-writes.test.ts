import { appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { tempDir, waitFor } from "../support/helpers.js";

// As on a shared filesystem, where inotify does not see what other machines write: no events at all
// (the folder is still looked at where the executor says so). Counts the watches made.
const watches = vi.hoisted(() => ({ made: 0, fire: [] as ((name: string | null) => void)[] }));
vi.mock("../../src/text/watch-writes.js", async (original) => ({
  ...(await original<typeof import("../../src/text/watch-writes.js")>()),
  watchWrites: (_dir: string, onWrite: (name: string | null) => void) => {
    watches.made++;
    watches.fire.push(onWrite);
    return () => {};
  },
}));

const { SharedWrites } = await import("../../src/engine/job-writes.js");

const dirs: { remove: () => void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
  watches.made = 0;
  watches.fire = [];
});

function jobIn(executor: "local" | "slurm") {
  const d = tempDir("mcp-bg-writes-");
  dirs.push(d);
  writeFileSync(join(d.path, "stdout"), "");
  return { writes: new SharedWrites({ dir: d.path, state: { executor } }), dir: d.path };
}

describe("a job's writes without inotify events", () => {
  it("tells of a Slurm job's output and end within about a second, by looking at its files", async () => {
    const { writes, dir } = jobIn("slurm");
    const seen: (string | null)[] = [];
    const stop = writes.subscribe((name) => seen.push(name));
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
    const { writes, dir } = jobIn("local");
    const seen: (string | null)[] = [];
    const stop = writes.subscribe((name) => seen.push(name));
    appendFileSync(join(dir, "stdout"), "a line\n");
    await new Promise((r) => setTimeout(r, 1500));
    stop();
    expect(seen).toEqual([]);
  });
});

describe("one watch for every follower of a job", () => {
  it("a hundred followers share one watch, and a burst of events is told once per name", async () => {
    const { writes } = jobIn("local");
    const seen = Array.from({ length: 100 }, () => [] as (string | null)[]);
    const stops = seen.map((list) => writes.subscribe((name) => list.push(name)));
    expect(watches.made).toBe(1);
    const fire = watches.fire[0] as (name: string | null) => void;
    for (let i = 0; i < 1000; i++) fire(i % 2 ? "stdout" : "stderr");
    await waitFor(() => seen.every((l) => l.length === 2));
    expect(seen[0]?.sort()).toEqual(["stderr", "stdout"]);
    // The last one gone, the watch goes; the next follower makes a new one.
    for (const stop of stops) stop();
    writes.subscribe(() => {})();
    expect(watches.made).toBe(2);
  });
});
