import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startServer, useServer } from "../support/harness.js";
import { waitFor } from "../support/helpers.js";

// Claude Code channels: with --notify-channel the server declares experimental["claude/channel"]
// and pushes one short line when a job its client started ends; never for other clients' jobs.

type Channel = { content: string; meta: Record<string, string> };

// Collects the channel notifications a harness's client receives.
function listen(s: Harness): Channel[] {
  const got: Channel[] = [];
  s.client.fallbackNotificationHandler = async (n) => {
    if (n.method === "notifications/claude/channel") got.push(n.params as Channel);
  };
  return got;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("Claude Code channel notifications", () => {
  let s: Harness;
  let other: Harness;
  let got: Channel[];
  beforeAll(async () => {
    s = await startServer({ args: ["--notify-channel"] });
    got = listen(s);
    // A second server on the same state dir, its own client: its jobs are not s's client's.
    other = await startServer({ stateDir: s.stateDir, env: { MCP_BG_NOTIFY_CHANNEL: "1" } });
  });
  afterAll(async () => {
    await other.close();
    await s.close();
  });

  it("declares the channel and tells the model what to expect", () => {
    expect(s.client.getServerCapabilities()?.experimental).toEqual({ "claude/channel": {} });
    expect(s.client.getInstructions()).toMatch(/<channel> line/);
  });

  it("sends one short line when a job this client started ends", async () => {
    got.length = 0;
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: "sleep 0.2; exit 3",
      name: "unit tests",
    });
    await waitFor(() => got.length > 0, 10_000);
    expect(got).toHaveLength(1);
    const [line] = got as [Channel];
    expect(line.content).toContain(`Job ${job_id} (unit tests) failed`);
    expect(line.content).toContain("code 3");
    expect(line.content).toContain(`tail_job_output job_id=${job_id}`);
    expect(line.content.split("\n")).toHaveLength(1);
    expect(line.content.length).toBeLessThan(300);
    expect(line.meta).toEqual({ job_id, status: "failed", exit_code: "3" });
  });

  it("says nothing of jobs another client started, even on the same state dir", async () => {
    got.length = 0;
    const otherGot = listen(other);
    const { job_id } = await other.ok<{ job_id: string }>("execute_command", { command: "true" });
    await waitFor(() => otherGot.length > 0, 10_000);
    expect(otherGot[0]?.meta.job_id).toBe(job_id);
    // The owner of the job has told its own client; s's client hears nothing of it.
    await sleep(2500);
    expect(got).toEqual([]);
  });

  it("rate-limits: ends that come close together share one notification, at most ten lines", async () => {
    await sleep(2100); // past the gap after the last notification
    got.length = 0;
    const ids: string[] = [];
    for (let i = 0; i < 13; i++)
      ids.push((await s.ok<{ job_id: string }>("execute_command", { command: "true" })).job_id);
    await waitFor(
      () =>
        got
          .map((g) => g.content)
          .join("\n")
          .split("\n").length >= 11,
      15_000,
    );
    await sleep(2500);
    // The first end goes out at once, the rest within the next gap: two notifications, not thirteen.
    expect(got.length).toBeLessThanOrEqual(3);
    const lines = got.flatMap((g) => g.content.split("\n"));
    const told = ids.filter((id) => lines.some((l) => l.includes(id)));
    const counted = lines.filter((l) => /more jobs ended/.test(l));
    expect(told.length + counted.reduce((n, l) => n + Number(/and (\d+) more/.exec(l)?.[1]), 0)).toBe(13);
    for (const g of got) expect(g.content.split("\n").length).toBeLessThanOrEqual(11);
  });
});

describe("without --notify-channel", () => {
  const s = useServer();

  it("declares no channel and sends none", async () => {
    const got = listen(s);
    expect(s.client.getServerCapabilities()?.experimental).toBeUndefined();
    await s.ok("execute_command", { command: "true", wait_seconds: 10 });
    await sleep(500);
    expect(got).toEqual([]);
  });
});

describe("Claude Code channels in the 2026-07-28 era", () => {
  it("are not declared: that era has no way to push them to the client", async () => {
    const { Client } = await import("@modelcontextprotocol/client");
    const { StdioClientTransport } = await import("@modelcontextprotocol/client/stdio");
    const { BIN, cleanEnv } = await import("../support/harness.js");
    const { tempDir } = await import("../support/helpers.js");
    const state = tempDir("mcp-bg-state-");
    const client = new Client(
      { name: "modern", version: "1" },
      { versionNegotiation: { mode: { pin: "2026-07-28" } } },
    );
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, "--notify-channel"],
      env: { ...cleanEnv(), MCP_BG_STATE_DIR: state.path },
    });
    try {
      await client.connect(transport);
      expect(client.getServerCapabilities()).not.toHaveProperty("experimental");
      expect(client.getInstructions()).not.toMatch(/<channel> line/);
    } finally {
      await client.close();
      state.remove();
    }
  });
});
