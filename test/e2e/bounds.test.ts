import { describe, expect, it } from "vitest";
import { useServer } from "../support/harness.js";

// What a hostile review found: calls that waited past their time, results without a size bound.

describe("every wait honours its time", () => {
  const s = useServer();

  it("interact_with_job with eof returns within wait_ms even when the job never reads its input", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: "sleep 300" });
    // More than the FIFO, the shepherd's buffer and the job's pipe hold: the end of input can never
    // come, since what was written before it is never taken.
    const t0 = Date.now();
    const reply = await s.call("interact_with_job", { job_id, input: "x".repeat(900_000), eof: true, wait_ms: 500 });
    const took = Date.now() - t0;
    expect(took).toBeLessThan(5000);
    expect(reply.isError).toBeFalsy();
    // The server is not stuck on it: the next call answers, and the job can still be killed.
    expect(await s.ok("get_job_status", { job_id })).toMatchObject({ status: "running" });
    expect(await s.ok("kill_job", { job_id, grace_seconds: 1 })).toEqual({ status: "killed" });
  });
});

describe("every result has a size bound", () => {
  const s = useServer({ env: { MCP_BG_MAX_JOBS: "60" } });

  it("list_jobs cuts long commands, saying so, and stops growing at its budget", async () => {
    const long = `true ${"x".repeat(120_000)}`;
    for (let i = 0; i < 40; i++) await s.ok("execute_command", { command: `${long} ${i}` });
    const r = await s.call("list_jobs", {});
    const size = JSON.stringify(r).length;
    // 40 commands of 120 KB, each once in the structured result and once in its text.
    expect(size).toBeLessThan(100_000);
    const { jobs, total } = r.structuredContent as { jobs: { command: string }[]; total: number };
    expect(total).toBe(40);
    expect(jobs).toHaveLength(40);
    for (const j of jobs) expect(j.command).toMatch(/^true x{190,}… \[\d+ more chars\]$/);
    // The record of one job is bounded too, and says so.
    const status = await s.ok<{ command: string }>("get_job_status", {
      job_id: (jobs[0] as { job_id?: string }).job_id,
    });
    expect(status.command.length).toBeLessThan(2100);
    expect(status.command).toMatch(/more chars\]$/);
  });

  it("a long list is cut at its budget with a hint, and total still counts all", async () => {
    const name = "n".repeat(200);
    for (let i = 0; i < 50; i++) await s.ok("execute_command", { command: `true ${"y".repeat(1000)} ${i}`, name });
    const r = await s.ok<{ jobs: unknown[]; total: number; hint?: string }>("list_jobs", { limit: 10_000 });
    expect(r.total).toBe(90);
    expect(JSON.stringify(r).length).toBeLessThan(101_000);
    if (r.jobs.length < 90) expect(r.hint).toMatch(/fit in one result/);
    else expect(r.hint).toBeUndefined();
  });
});
