import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { JobRecord } from "../../src/domain/record.js";
import type { JobEngine } from "../../src/engine/job-engine.js";
import { channelNotifier } from "../../src/mcp/channel.js";

// The channel's timing rules on a fake clock: the first end is told at once, later ones no sooner
// than 2 s after the last notification, those in between share one; nothing after the stop.

type Sent = { method: string; params: { content: string; meta: Record<string, string> } };

function fixture() {
  const sent: Sent[] = [];
  const ends = new Map<string, () => void>();
  const record = (id: string): JobRecord => ({
    job_id: id,
    status: "completed",
    command: `make ${id}`,
    name: null,
    cwd: "/",
    pid: 1,
    pty: false,
    started: new Date(0).toISOString(),
    completed: new Date(0).toISOString(),
    exit_code: 0,
    signal: null,
    timed_out: false,
    lost: false,
    executor: "local",
    slurm_job_id: null,
    node: null,
  });
  const jobs = {
    lookup: (id: string) => ({ id, record: () => record(id) }),
    ended: (job: { id: string }) => new Promise<void>((resolve) => ends.set(job.id, resolve)),
  } as unknown as JobEngine;
  const server = {
    server: {
      notification: async (n: Sent) => {
        sent.push(n);
      },
    },
  } as never;
  const notifier = channelNotifier(server, jobs);
  const end = async (id: string) => {
    ends.get(id)?.();
    await vi.advanceTimersByTimeAsync(0);
  };
  return { sent, notifier, end };
}

describe("channel notifications on a fake clock", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("tells the first end at once and holds the next ones for the rest of the 2 s gap", async () => {
    const { sent, notifier, end } = fixture();
    for (const id of ["a", "b", "c"]) notifier.started(id);
    await end("a");
    expect(sent.map((s) => s.params.meta.job_id)).toEqual(["a"]);
    await vi.advanceTimersByTimeAsync(500);
    await end("b");
    await vi.advanceTimersByTimeAsync(500);
    await end("c");
    await vi.advanceTimersByTimeAsync(999); // 1,999 ms after the first: still held
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent).toHaveLength(2);
    expect(sent[1]?.params.content.split("\n")).toEqual([
      "Job b (make b) completed: exited with code 0 (success). Read more: tail_job_output job_id=b",
      "Job c (make c) completed: exited with code 0 (success). Read more: tail_job_output job_id=c",
    ]);
    expect(sent[1]?.params.meta).toEqual({ jobs_ended: "2" });
  });

  it("an end long after the last notification is told at once", async () => {
    const { sent, notifier, end } = fixture();
    notifier.started("a");
    notifier.started("b");
    await end("a");
    await vi.advanceTimersByTimeAsync(60_000);
    await end("b");
    expect(sent).toHaveLength(2);
  });

  it("caps a notification at ten lines and counts the rest", async () => {
    const { sent, notifier, end } = fixture();
    const ids = Array.from({ length: 25 }, (_, i) => `j${i}`);
    for (const id of ids) notifier.started(id);
    await end("j0");
    for (const id of ids.slice(1)) await end(id);
    await vi.advanceTimersByTimeAsync(2000);
    expect(sent).toHaveLength(2);
    const lines = sent[1]?.params.content.split("\n") ?? [];
    expect(lines).toHaveLength(11);
    expect(lines[10]).toBe("…and 14 more jobs ended: list_jobs shows them.");
  });

  it("sends nothing once stopped (the client has gone)", async () => {
    const { sent, notifier, end } = fixture();
    notifier.started("a");
    notifier.started("b");
    await end("a");
    await end("b");
    notifier.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sent).toHaveLength(1);
  });
});
