import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startServer, useServer } from "../support/harness.js";
import { isAlive, markedLoop, marker, processesMatching, tempDir, waitFor } from "../support/helpers.js";

type Status = { status: string; exit_code: number | null; signal: string | null };

const loop = markedLoop;

describe("hostile input never crashes, stalls or leaks", () => {
  const s = useServer({ env: { MCP_BG_MAX_JOBS: "40" } });
  const start = async (command: string, extra: Record<string, unknown> = {}) =>
    (await s.ok<{ job_id: string }>("execute_command", { command, ...extra })).job_id;

  it("answers a huge or unrunnable pattern with an error, and keeps serving", async () => {
    const job_id = await start("sleep 0.5; echo hi; sleep 300");
    expect(await s.error("wait_for_job", { job_id, until: "a".repeat(60_000) })).toMatch(/too long/);
    expect(await s.error("search_job_output", { job_id, pattern: "[0-9a-f]{40}" })).toMatch(/more than 16 times.*\+/);
    // The wait that follows works: the server is alive.
    expect(await s.ok("wait_for_job", { job_id, until: "^hi$", timeout_seconds: 45 })).toMatchObject({ matched: true });
    await s.ok("kill_job", { job_id });
  });

  it("checks a long hostile command against the deny rules without stalling", async () => {
    const t0 = Date.now();
    expect(await s.ok("execute_command", { command: `: '${"|curl|".repeat(15_000)}'` })).toBeDefined();
    expect(await s.ok("execute_command", { command: `: ${"do rm ".repeat(15_000)}` })).toBeDefined();
    // The plain backtracking rules took minutes on these; bounded, they take well under a second each.
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  it("refuses timeouts no timer can hold, instead of killing the job at once", async () => {
    expect(await s.error("execute_command", { command: "sleep 30", timeout_seconds: 3e6 })).toMatch(/timeout_seconds/);
    const job_id = await start("sleep 30", { timeout_seconds: 2_000_000 });
    expect(await s.ok("get_job_status", { job_id })).toMatchObject({ status: "running" });
    await s.ok("kill_job", { job_id });
  });

  it("lets a SIGKILL overtake a SIGTERM whose grace is still running", async () => {
    const mark = marker();
    const job_id = await start(`trap '' TERM; ${loop(mark, 'trap "" TERM; ')}`);
    await waitFor(() => processesMatching(mark).length === 1);
    const slow = s.call("kill_job", { job_id, grace_seconds: 60 });
    const t0 = Date.now();
    expect(await s.ok("kill_job", { job_id, signal: "SIGKILL" })).toEqual({ status: "killed" });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect((await slow).structuredContent).toEqual({ status: "killed" });
    expect(processesMatching(mark)).toEqual([]);
  });

  it("ends what a finished job left running when asked to kill it", async () => {
    const mark = marker();
    const job_id = await start(`${loop(mark)} & echo started`);
    await waitFor(async () => (await s.ok<Status>("get_job_status", { job_id })).status === "completed");
    expect(processesMatching(mark)).toHaveLength(1);
    expect(await s.ok("kill_job", { job_id, grace_seconds: 1 })).toEqual({ status: "already_terminated" });
    expect(processesMatching(mark)).toEqual([]);
  });

  it("refuses MCP_BG_JOB_ID in env, which would let one job's kill hit another", async () => {
    expect(await s.error("execute_command", { command: "true", env: { MCP_BG_JOB_ID: "x" } })).toMatch(
      /set by the server/,
    );
  });

  it("says a cwd that is a file is not a directory", async () => {
    expect(await s.error("execute_command", { command: "true", cwd: "/etc/passwd" })).toMatch(/is not a directory/);
  });

  it("still passes end of input to a job that closed its stdout and stderr", async () => {
    const dir = join(s.stateDir, "..");
    const out = join(dir, `${marker()}.log`);
    const job_id = await start(`exec >${out} 2>&1; cat; echo done-after-eof`);
    await s.ok("interact_with_job", { job_id, input: "hello", eof: true, wait_ms: 300 });
    expect(await s.ok("wait_for_job", { job_id, timeout_seconds: 45 })).toMatchObject({ status: "completed" });
  });
});

describe("a server that goes away leaves nothing behind", () => {
  // A SIGKILLed server leaves its jobs running; the next server on the same state dir must be able to end them.
  async function crashAndTakeOver(start: Record<string, unknown>, mark: string) {
    const state = tempDir("mcp-bg-state-");
    const a = await startServer({ stateDir: state.path });
    const { job_id } = await a.ok<{ job_id: string }>("execute_command", start);
    await waitFor(() => processesMatching(mark).length === 1);
    process.kill(a.pid, "SIGKILL");
    await waitFor(() => !isAlive(a.pid));
    const b = await startServer({ stateDir: state.path });
    return {
      job_id,
      b,
      async close() {
        await Promise.all([a.close(), b.close()]);
        state.remove();
      },
    };
  }

  it("a job that closed its stdout and stderr is still found after a server SIGKILL, and killed by the next", async () => {
    const mark = marker();
    const t = await crashAndTakeOver({ command: `exec >/dev/null 2>&1; ${loop(mark)}` }, mark);
    expect(await t.b.ok<Status>("get_job_status", { job_id: t.job_id })).toMatchObject({ status: "running" });
    expect(await t.b.ok("kill_job", { job_id: t.job_id, grace_seconds: 1 })).toEqual({ status: "killed" });
    expect(processesMatching(mark)).toEqual([]);
    await t.close();
  });

  it("after a server SIGKILL, the next server's kill finds a job's escapee behind a 100 KB environment", async () => {
    const mark = marker();
    const t = await crashAndTakeOver(
      { command: `setsid ${loop(mark, 'trap "" TERM; ')} & sleep 300`, env: { ZBIG: "x".repeat(100_000) } },
      mark,
    );
    // TERM is ignored: the grace, then SIGKILL.
    expect(await t.b.ok("kill_job", { job_id: t.job_id, grace_seconds: 1 })).toEqual({ status: "killed" });
    expect(processesMatching(mark)).toEqual([]);
    await t.close();
  });

  it("ends jobs whose start raced with the shutdown, and keeps a record of each", async () => {
    const s = await startServer({ env: { MCP_BG_MAX_JOBS: "40" } });
    const mark = marker();
    const calls = Array.from({ length: 20 }, () => s.call("execute_command", { command: loop(mark) }));
    await new Promise((r) => setTimeout(r, 5));
    s.transport.close();
    const results = await Promise.allSettled(calls);
    await waitFor(() => !isAlive(s.pid), 10_000);
    await waitFor(() => processesMatching(mark).length === 0, 5000);
    const started = results.filter((r) => r.status === "fulfilled" && !r.value.isError).length;
    // Every job that started has its folder and ended as killed: none is left running, none half-recorded.
    const next = await startServer({ stateDir: s.stateDir });
    const { jobs } = await next.ok<{ jobs: Status[] }>("list_jobs", {});
    expect(jobs.every((j) => j.status === "killed")).toBe(true);
    expect(jobs.length).toBeGreaterThanOrEqual(started);
    expect(readdirSync(join(s.stateDir, "jobs")).length).toBe(jobs.length);
    await next.close();
    await s.close();
  });
});
