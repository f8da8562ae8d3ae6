import { describe, expect, it } from "vitest";
import { startServer, useServer } from "../support/harness.js";
import {
  childrenOf,
  cmdline,
  isAlive,
  markedLoop,
  marker,
  processesMatching,
  steadyCount,
  tempDir,
  waitFor,
} from "../support/helpers.js";

type Status = { status: string; exit_code: number | null; signal: string | null; timed_out: boolean; lost: boolean };

const loop = markedLoop;

describe("kill_job leaves nothing behind", () => {
  const s = useServer({ env: { MCP_BG_MAX_JOBS: "20" } });

  it("ends a tree that ignores SIGTERM within grace + 1 s, keeping signal and exit code", async () => {
    const mark = marker();
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: `trap '' TERM; ${loop(mark, 'trap "" TERM; ')} & ${loop(mark, 'trap "" TERM; ')} & wait`,
    });
    await waitFor(() => processesMatching(mark).length === 2);
    const t0 = Date.now();
    expect(await s.ok("kill_job", { job_id, grace_seconds: 1 })).toEqual({ status: "killed" });
    expect(Date.now() - t0).toBeLessThan(2000 + 500);
    expect(processesMatching(mark)).toEqual([]);
    const st = await s.ok<Status>("get_job_status", { job_id });
    expect(st).toMatchObject({ status: "killed", signal: "SIGKILL", exit_code: null, timed_out: false });
  });

  it("kills children that left the process group with setsid, and only the job's own", async () => {
    const bystander = await s.ok<{ job_id: string }>("execute_command", { command: "sleep 300" });
    const mark = marker();
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: `setsid ${loop(mark)} & ${loop(`${mark}-in-group`)}`,
    });
    await waitFor(() => processesMatching(mark).length === 2);
    expect(await s.ok("kill_job", { job_id, grace_seconds: 1 })).toEqual({ status: "killed" });
    expect(processesMatching(mark)).toEqual([]);
    expect(await s.ok("get_job_status", { job_id: bystander.job_id })).toMatchObject({ status: "running" });
    await s.ok("kill_job", { job_id: bystander.job_id });
  });

  it("returns at once when the job dies of the first signal, and reports that signal", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: "sleep 300" });
    const t0 = Date.now();
    expect(await s.ok("kill_job", { job_id, grace_seconds: 30 })).toEqual({ status: "killed" });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await s.ok("get_job_status", { job_id })).toMatchObject({ status: "killed", signal: "SIGTERM" });
  });

  it("sends progress notifications during a long grace when the call has a progress token", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: "trap '' TERM; echo ready; while :; do sleep 0.2; done",
    });
    // A kill sent before the shell has run its trap would end it at once.
    await s.ok("wait_for_job", { job_id, until: "^ready$" });
    const progress: number[] = [];
    const r = await s.client.callTool(
      { name: "kill_job", arguments: { job_id, grace_seconds: 2.5 } },
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(r.structuredContent).toEqual({ status: "killed" });
    expect(progress.length).toBeGreaterThanOrEqual(2);
  });

  it("sends the chosen signal", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: "trap 'echo got-int; exit 7' INT; while :; do sleep 0.1; done",
    });
    await waitFor(async () => (await s.ok<{ stdout: string }>("get_job_output", { job_id })) !== undefined);
    expect(await s.ok("kill_job", { job_id, signal: "SIGINT", grace_seconds: 5 })).toEqual({ status: "killed" });
    expect(await s.ok("get_job_status", { job_id })).toMatchObject({ status: "killed", exit_code: 7 });
    expect(await s.ok("get_job_output", { job_id })).toMatchObject({ stdout: "got-int\n" });
    expect(await s.error("kill_job", { job_id, signal: "SIGSTOP" })).toMatch(/signal/);
  });

  it("kills a job at its timeout through the same path: killed, timed_out", async () => {
    const mark = marker();
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: `setsid ${loop(mark)} & sleep 300`,
      timeout_seconds: 0.5,
    });
    const st = await waitFor(async () => {
      const r = await s.ok<Status>("get_job_status", { job_id });
      return r.status !== "running" && r;
    });
    expect(st).toMatchObject({ status: "killed", timed_out: true });
    await waitFor(() => processesMatching(mark).length === 0, 3000);
  });

  it("takes a job's end from its exit, not from its pipes closing", async () => {
    const mark = marker();
    // The background loop keeps stdout open long after the job's shell has exited.
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: `${loop(mark)} & echo started` });
    const st = await waitFor(async () => {
      const r = await s.ok<Status>("get_job_status", { job_id });
      return r.status !== "running" && r;
    }, 5000);
    expect(st).toMatchObject({ status: "completed", exit_code: 0 });
    expect(await s.ok("get_job_output", { job_id })).toMatchObject({ stdout: "started\n" });
    // Still running: it was not killed, only not waited for. (Each second the loop forks a child that shows
    // the same command line until it has become `sleep`; so the count may briefly be 2.)
    await waitFor(() => processesMatching(mark).length === 1, 5000);
  });
});

describe("the server never leaves orphans", () => {
  for (const how of ["stdin close", "SIGTERM", "SIGINT", "SIGHUP"] as const) {
    it(`kills every job and what it left behind on ${how}`, async () => {
      const s = await startServer();
      const mark = marker();
      await s.ok("execute_command", { command: `trap '' TERM; ${loop(`${mark}a`, 'trap "" TERM; ')}` });
      await s.ok("execute_command", { command: `setsid ${loop(`${mark}b`)} & sleep 300` });
      // A finished job whose background child lives on.
      const done = await s.ok<{ job_id: string }>("execute_command", { command: `${loop(`${mark}c`)} & true` });
      await waitFor(async () => (await s.ok<Status>("get_job_status", { job_id: done.job_id })).status !== "running");
      await waitFor(() => processesMatching(mark).length === 3);
      // The spawner the server starts its jobs through must not outlive it either.
      const ready = await waitFor(() => {
        const pids = childrenOf(s.pid).filter((pid) => cmdline(pid).includes("--spawner"));
        return pids.length > 0 && pids;
      });
      if (how === "stdin close") s.transport.close();
      else process.kill(s.pid, how);
      await waitFor(() => !isAlive(s.pid), 10_000);
      expect(processesMatching(mark)).toEqual([]);
      await waitFor(() => ready.every((pid) => !isAlive(pid)), 3000);
      await waitFor(() => s.stderr().includes("stopping"), 5000);
      await s.close();
    });
  }

  it("leaves its jobs running when SIGKILLed; the next server takes them over and ends them when it stops", async () => {
    const state = tempDir("mcp-bg-state-");
    const a = await startServer({ stateDir: state.path });
    const mark = marker();
    const stubborn = await a.ok<{ job_id: string }>("execute_command", {
      command: `trap '' TERM; ${loop(`${mark}a`, 'trap "" TERM; ')}`,
    });
    await a.ok("execute_command", { command: `setsid ${loop(`${mark}b`)} & sleep 300` });
    await waitFor(() => processesMatching(mark).length === 2);
    process.kill(a.pid, "SIGKILL");
    await waitFor(() => !isAlive(a.pid));
    // A crash runs no code: the jobs live on, and nothing about them is lost.
    expect(await steadyCount(mark)).toBe(2);
    const b = await startServer({ stateDir: state.path });
    expect(await b.ok<Status>("get_job_status", { job_id: stubborn.job_id })).toMatchObject({ status: "running" });
    b.transport.close();
    await waitFor(() => !isAlive(b.pid), 10_000);
    // b took them over, so its stop ends them (TERM ignored: the 2 s grace, then SIGKILL).
    expect(processesMatching(mark)).toEqual([]);
    const c = await startServer({ stateDir: state.path });
    expect(await c.ok<Status>("get_job_status", { job_id: stubborn.job_id })).toMatchObject({
      status: "killed",
      lost: false,
    });
    await Promise.all([a.close(), b.close(), c.close()]);
    state.remove();
  });
});

describe("a host that dies without a word", () => {
  it("the server notices its pipes are gone, kills its jobs and exits, without spinning", async () => {
    const { spawn } = await import("node:child_process");
    const { BIN, cleanEnv } = await import("../support/harness.js");
    const state = tempDir("mcp-bg-state-");
    const mark = marker();
    const child = spawn(process.execPath, [BIN], {
      env: { ...cleanEnv(), MCP_BG_STATE_DIR: state.path },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    const send = (msg: object) => child.stdin.write(`${JSON.stringify(msg)}\n`);
    send({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
    });
    await waitFor(() => out.includes('"id":1'));
    send({ jsonrpc: "2.0", method: "notifications/initialized" });
    send({
      jsonrpc: "2.0",
      id: 2,
      method: "tools/call",
      params: { name: "execute_command", arguments: { command: loop(mark) } },
    });
    await waitFor(() => out.includes('"id":2'));
    await waitFor(() => processesMatching(mark).length === 1);
    // The host is gone: every pipe to it closes at once, stderr included.
    child.stdin.destroy();
    child.stdout.destroy();
    child.stderr.destroy();
    try {
      await waitFor(() => child.exitCode !== null || child.signalCode !== null, 10_000);
      expect(processesMatching(mark)).toEqual([]);
    } finally {
      // Whatever happened, nothing of this test is left running.
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      for (const pid of processesMatching(mark)) process.kill(pid, "SIGKILL");
      state.remove();
    }
  });
});
