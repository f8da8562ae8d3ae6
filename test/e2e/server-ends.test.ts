import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { BIN, type Harness, startServer } from "../support/harness.js";
import { isAlive, markedLoop, marker, processesMatching, steadyCount, tempDir, waitFor } from "../support/helpers.js";

// Every way a server can end is one of two: a stop (its jobs ended, or left running with keep-jobs)
// or a crash (its jobs live on and the next server takes them over). Never a third, silent way: a
// server that once exited on an oversized message left its job running under PID 1, shown `running`.
// (Signals and stdin's end are tested in kill-and-shutdown.test.ts.)

const FAULT = fileURLToPath(new URL("../support/fixtures/fault.mjs", import.meta.url));
const servers: Harness[] = [];
const marks: string[] = [];
const dirs: { remove(): void }[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    if (isAlive(s.pid)) process.kill(s.pid, "SIGKILL");
    await s.close();
  }
  for (const m of marks.splice(0)) for (const pid of processesMatching(m)) process.kill(pid, "SIGKILL");
  for (const d of dirs.splice(0)) d.remove();
});

async function server(opts: Parameters<typeof startServer>[0] = {}): Promise<Harness> {
  const s = await startServer(opts);
  servers.push(s);
  return s;
}

/** A server that meets `fault` (see fixtures/fault.mjs) on SIGUSR2, on a state dir of its own kept for the next. */
async function faultyServer(fault: string, nodeArgs: string[] = []) {
  const state = tempDir("mcp-bg-state-");
  dirs.push(state);
  const s = await server({
    stateDir: state.path,
    command: [process.execPath, ...nodeArgs, "--import", FAULT, BIN],
    env: { INJECT_FAULT: fault },
  });
  const m = marker();
  marks.push(m);
  const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: markedLoop(m) });
  await waitFor(() => processesMatching(m).length === 1);
  return { s, m, job_id, stateDir: state.path };
}

describe("a message too large for the server", () => {
  it("is answered with an error that says why, and the server and its jobs go on", async () => {
    const s = await server();
    const m = marker();
    marks.push(m);
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: `cat > /dev/null; ${markedLoop(m)}`,
    });
    // 20 MB through the official client: its id comes last in the message.
    const huge = "x".repeat(20 * 1024 * 1024);
    await expect(s.call("interact_with_job", { job_id, input: huge })).rejects.toThrow(
      /Message too large: 20,97\d,\d{3} bytes; this server takes messages of at most 4,194,304 bytes/,
    );
    // Another oversized line with no id at all (a notification): dropped, and said so on stderr.
    s.transport.send({ jsonrpc: "2.0", method: "notifications/progress", params: { huge } } as never);
    await waitFor(() => s.stderr().includes("no request id found"));
    // Nothing was lost: the server answers, the job runs and is read and killed as ever.
    expect(await s.ok("get_job_status", { job_id })).toMatchObject({ status: "running" });
    expect(await s.ok("interact_with_job", { job_id, input: "small", wait_ms: 0 })).toMatchObject({ stdout: "" });
    expect(isAlive(s.pid)).toBe(true);
    expect(await s.ok("kill_job", { job_id, grace_seconds: 1 })).toEqual({ status: "killed" });
  });

  it("is whatever MCP_BG_MAX_REQUEST_SIZE says", async () => {
    const s = await server({ env: { MCP_BG_MAX_REQUEST_SIZE: "256KB" } });
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: "wc -c" });
    await expect(s.call("interact_with_job", { job_id, input: "y".repeat(300 * 1024) })).rejects.toThrow(
      /at most 262,144 bytes/,
    );
    await s.ok("interact_with_job", { job_id, input: "y".repeat(200 * 1024), eof: true, wait_ms: 0 });
    await s.ok("wait_for_job", { job_id, timeout_seconds: 30 });
    expect((await s.ok<{ stdout: string }>("get_job_output", { job_id })).stdout.trim()).toBe(String(200 * 1024 + 1));
  });
});

describe("every way a server ends is a stop or a crash", () => {
  it("an exit from inside (a library's process.exit) is a stop: its jobs are killed and recorded so", async () => {
    const { s, m, job_id, stateDir } = await faultyServer("exit");
    process.kill(s.pid, "SIGUSR2");
    await waitFor(() => !isAlive(s.pid), 10_000);
    await waitFor(() => processesMatching(m).length === 0, 5000);
    // Its last words reach this side's pipe reader a moment after it has gone: waited for.
    await waitFor(() => /exiting without a stop: 1 running job\(s\) killed/.test(s.stderr()), 5000);
    const next = await server({ stateDir });
    expect(await next.ok("get_job_status", { job_id })).toMatchObject({ status: "killed", signal: "SIGKILL" });
  });

  it("an uncaught exception or rejection is logged and the server goes on, its jobs too", async () => {
    for (const fault of ["throw", "reject"]) {
      const { s, job_id } = await faultyServer(fault);
      process.kill(s.pid, "SIGUSR2");
      await waitFor(() => /uncaught exception|unhandled rejection/.test(s.stderr()));
      expect(await s.ok("get_job_status", { job_id })).toMatchObject({ status: "running" });
      expect(isAlive(s.pid)).toBe(true);
      await s.ok("kill_job", { job_id, grace_seconds: 1 });
    }
  });

  it("running out of memory is a crash: the jobs live on, and the next server reports and takes them over", async () => {
    const { s, m, job_id, stateDir } = await faultyServer("oom", ["--max-old-space-size=64"]);
    process.kill(s.pid, "SIGUSR2");
    await waitFor(() => !isAlive(s.pid), 60_000);
    await waitFor(() => /heap out of memory/i.test(s.stderr()), 5000);
    // A crash runs no code: the job lives on, captured.
    expect(await steadyCount(m)).toBe(1);
    const next = await server({ stateDir });
    expect(await next.ok("get_job_status", { job_id })).toMatchObject({ status: "running" });
    expect(await next.ok("kill_job", { job_id, grace_seconds: 1 })).toEqual({ status: "killed" });
    expect(processesMatching(m)).toEqual([]);
  });

  it("a stop cut short by SIGKILL (as Claude Code and Codex do, 0.1-0.5 s after SIGTERM) still ends every job", async () => {
    const state = tempDir("mcp-bg-state-");
    dirs.push(state);
    const s = await server({ stateDir: state.path });
    const m = marker();
    marks.push(m);
    // A job that ignores SIGTERM, and a process of it that left its group and ignores it too.
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: `trap '' TERM; setsid ${markedLoop(`${m}b`, "trap '' TERM; ")} & ${markedLoop(`${m}a`, "trap '' TERM; ")}`,
    });
    await waitFor(() => processesMatching(m).length === 2);
    process.kill(s.pid, "SIGINT");
    await new Promise((r) => setTimeout(r, 100));
    process.kill(s.pid, "SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    process.kill(s.pid, "SIGKILL");
    await waitFor(() => !isAlive(s.pid));
    // The job's capture process carries the stop through: its grace (2 s), then SIGKILL to all.
    await waitFor(() => processesMatching(m).length === 0);
    const next = await server({ stateDir: state.path });
    expect(await next.ok("get_job_status", { job_id })).toMatchObject({ status: "killed", signal: "SIGKILL" });
  });

  it("stdout gone (the host died) is a stop", async () => {
    const s = await server();
    const m = marker();
    marks.push(m);
    await s.ok("execute_command", { command: markedLoop(m) });
    await waitFor(() => processesMatching(m).length === 1);
    // The host closes only its end of the server's stdout: the server's next write fails.
    (s.transport as unknown as { _process?: { stdout?: { destroy(): void } } })._process?.stdout?.destroy();
    await s.client.ping().catch(() => {});
    await waitFor(() => !isAlive(s.pid), 10_000);
    expect(processesMatching(m)).toEqual([]);
  });
});
