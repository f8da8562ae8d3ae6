import { spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { BIN, cleanEnv, runCli, startServer } from "../support/harness.js";
import { markedLoop, marker, processesMatching, tempDir, waitFor } from "../support/helpers.js";

// `mcp-bg-jobs run`: people start jobs too, on the same state dir as the servers, and the jobs live on.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function stateDir(): string {
  const d = tempDir("mcp-bg-state-");
  cleanups.push(() => d.remove());
  return d.path;
}

type Status = { job_id: string; status: string; exit_code: number | null; signal: string | null; timed_out: boolean };

describe("mcp-bg-jobs run", () => {
  it("starts a job in its dir with its env, prints its id, and the job lives on for the servers", async () => {
    const state = stateDir();
    const m = marker();
    cleanups.push(() => {
      for (const pid of processesMatching(m)) process.kill(pid, "SIGKILL");
    });
    const r = await runCli(state, [
      "run",
      "--name",
      "dev",
      "--cwd",
      "/tmp",
      "--env",
      "A=1",
      "--env=B=two words",
      "--",
      "echo",
      "$PWD $A $B;",
      markedLoop(m),
    ]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    const id = r.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    // The command has returned; the job runs on.
    await waitFor(() => processesMatching(m).length === 1);
    expect((await runCli(state, ["list"])).stdout).toMatch(new RegExp(`${id.slice(0, 8)}\\s+running .* dev: echo`));
    const s = await startServer({ stateDir: state });
    cleanups.push(() => s.close());
    expect(await s.ok("get_job_status", { job_id: id })).toMatchObject({ status: "running", name: "dev", cwd: "/tmp" });
    await s.ok("wait_for_job", { job_id: id, until: "tmp", timeout_seconds: 45 });
    expect((await s.ok<{ stdout: string }>("get_job_output", { job_id: id })).stdout).toBe("/tmp 1 two words\n");
    expect(await s.ok("kill_job", { job_id: id, grace_seconds: 1 })).toEqual({ status: "killed" });
    expect(processesMatching(m)).toEqual([]);
  });

  it("--follow prints its output as it comes and exits with its exit code, 128+N for a signal", async () => {
    const state = stateDir();
    const r = await runCli(state, ["run", "--follow", "--", "echo out; sleep 0.3; echo err >&2; exit 7"]);
    expect(r.code).toBe(7);
    expect(r.stdout).toBe("out\n");
    expect(r.stderr).toMatch(/^mcp-bg-jobs run: job [0-9a-f-]{36} \(echo out; .*\)\nerr\n$/);
    expect((await runCli(state, ["run", "-f", "--", "kill -TERM $$"])).code).toBe(128 + 15);
    expect((await runCli(state, ["run", "-f", "--", "true"])).code).toBe(0);
  });

  it("Ctrl-C stops following, not the job", async () => {
    const state = stateDir();
    const child = spawn(process.execPath, [BIN, "run", "-f", "--", "echo first; sleep 300"], {
      env: { ...cleanEnv(), MCP_BG_STATE_DIR: state },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    await waitFor(() => out === "first\n");
    child.kill("SIGINT");
    expect(await new Promise((r) => child.on("close", r))).toBe(0);
    const id = /job ([0-9a-f-]{36})/.exec(err)?.[1] as string;
    expect(err).toContain(`the job goes on (mcp-bg-jobs kill ${id})`);
    expect(JSON.parse((await runCli(state, ["status", id, "--json"])).stdout)).toMatchObject({ status: "running" });
    expect((await runCli(state, ["kill", id, "--grace", "0.5"])).code).toBe(0);
  });

  it("its --timeout is held by the server that takes the job over", async () => {
    const state = stateDir();
    const id = (await runCli(state, ["run", "--timeout", "1.5", "--", "sleep 300"])).stdout.trim();
    const s = await startServer({ stateDir: state });
    cleanups.push(() => s.close());
    const end = await s.ok<Status>("wait_for_job", { job_id: id, timeout_seconds: 30 });
    expect(end).toMatchObject({ status: "killed" });
    expect(await s.ok("get_job_status", { job_id: id })).toMatchObject({ timed_out: true });
  });

  it("bad usage exits 2 with the usage; a start that fails exits 1 saying why", async () => {
    const state = stateDir();
    const none = await runCli(state, ["run", "--"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^mcp-bg-jobs run: no command[^\n]*\nusage: mcp-bg-jobs run /);
    expect((await runCli(state, ["run", "echo", "hi"])).stderr).toMatch(/put the command after --: run -- echo hi/);
    expect((await runCli(state, ["run", "--env", "NOEQUALS", "--", "true"])).code).toBe(2);
    const gone = await runCli(state, ["run", "--cwd", "/no/such/dir", "--", "true"]);
    expect(gone).toMatchObject({ code: 1, stdout: "" });
    expect(gone.stderr).toBe("mcp-bg-jobs run: Working directory /no/such/dir does not exist\n");
    expect(JSON.parse((await runCli(state, ["list", "--json"])).stdout)).toMatchObject({ total: 0 });
  });
});
