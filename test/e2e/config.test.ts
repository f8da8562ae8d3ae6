import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Harness, startServer } from "../support/harness.js";
import { tempDir, waitFor } from "../support/helpers.js";

type Status = { status: string; exit_code: number | null; timed_out: boolean };

describe("every setting is used", () => {
  let s: Harness | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  const run = async (h: Harness, command: string, extra: Record<string, unknown> = {}) => {
    const { job_id } = await h.ok<{ job_id: string }>("execute_command", { command, ...extra });
    const status = await waitFor(async () => {
      const st = await h.ok<Status>("get_job_status", { job_id });
      return st.status !== "running" && st;
    });
    const out = await h.ok<{ stdout: string; stderr: string; truncated: boolean }>("get_job_output", { job_id });
    return { job_id, status, out };
  };

  it("MCP_BG_WORKING_DIR sets the default cwd; cwd is relative to it and must exist", async () => {
    const dir = tempDir();
    s = await startServer({ env: { MCP_BG_WORKING_DIR: dir.path } });
    expect((await run(s, "pwd")).out.stdout).toBe(`${dir.path}\n`);
    expect((await run(s, "pwd", { cwd: "/" })).out.stdout).toBe("/\n");
    expect(await s.error("execute_command", { command: "pwd", cwd: "no/such/dir" })).toMatch(/does not exist/);
    // A loop of symlinks is said as one, not as a missing folder.
    symlinkSync(join(dir.path, "b"), join(dir.path, "a"));
    symlinkSync(join(dir.path, "a"), join(dir.path, "b"));
    expect(await s.error("execute_command", { command: "pwd", cwd: "a" })).toMatch(/a loop of symbolic links/);
    dir.remove();
  });

  it("--working-dir works as a flag too", async () => {
    s = await startServer({ args: ["--working-dir", "/tmp"] });
    expect((await run(s, "pwd")).out.stdout).toBe("/tmp\n");
  });

  it("MCP_BG_SHELL picks the shell", async () => {
    s = await startServer({ env: { MCP_BG_SHELL: "/bin/bash" } });
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
    expect((await run(s, "echo ${BASH_VERSION:+bash}")).out.stdout).toBe("bash\n");
  });

  it("MCP_BG_ALLOWED_COMMANDS admits only matching commands", async () => {
    s = await startServer({ env: { MCP_BG_ALLOWED_COMMANDS: "^echo ,^printf " } });
    expect((await run(s, "echo allowed")).out.stdout).toBe("allowed\n");
    expect(await s.error("execute_command", { command: "ls /" })).toMatch(/MCP_BG_ALLOWED_COMMANDS/);
  });

  it("MCP_BG_DENIED_COMMANDS replaces the default rules, and 'none' turns them off", async () => {
    s = await startServer({ env: { MCP_BG_DENIED_COMMANDS: "^sleep" } });
    expect(await s.error("execute_command", { command: "sleep 1" })).toMatch(/refused.*\^sleep/);
    // `mkfs` with no arguments only prints its usage: harmless, but refused by the default rules.
    expect((await run(s, "mkfs 2>/dev/null; echo ran")).out.stdout).toBe("ran\n");
    await s.close();
    s = await startServer();
    expect(await s.error("execute_command", { command: "mkfs 2>/dev/null; echo ran" })).toMatch(/mkfs/);
    await s.close();
    s = await startServer({ env: { MCP_BG_DENIED_COMMANDS: "none" } });
    expect((await run(s, "mkfs 2>/dev/null; echo ran")).out.stdout).toBe("ran\n");
  });

  it("MCP_BG_MAX_OUTPUT_SIZE caps what is kept per stream", async () => {
    s = await startServer({ env: { MCP_BG_MAX_OUTPUT_SIZE: "2KB" } });
    const { out } = await run(s, "seq 1 10000; seq 1 10 >&2");
    expect(out.truncated).toBe(true);
    expect(out.stdout).toMatch(/dropped here: the log keeps the newest 2,048 bytes/);
    expect(out.stdout.endsWith("9999\n10000\n")).toBe(true);
    expect(out.stderr).toBe(`${Array.from({ length: 10 }, (_, i) => i + 1).join("\n")}\n`);
  });

  it("MCP_BG_JOB_TIMEOUT kills jobs that run too long", async () => {
    s = await startServer({ env: { MCP_BG_JOB_TIMEOUT: "0.5" } });
    const { status } = await run(s, "sleep 300");
    expect(status).toMatchObject({ status: "killed", timed_out: true });
  });

  it("MCP_BG_CLEANUP_INTERVAL sweeps finished jobs past MCP_BG_RETENTION", async () => {
    s = await startServer({ env: { MCP_BG_CLEANUP_INTERVAL: "0.2", MCP_BG_RETENTION: "0.5" } });
    const { job_id } = await run(s, "echo bye");
    const h = s;
    await waitFor(async () => (await h.call("get_job_status", { job_id })).isError, 5000);
    expect(await s.error("get_job_output", { job_id })).toMatch(/not found/);
  });

  it("MCP_BG_MAX_FINISHED keeps only the newest finished jobs", async () => {
    s = await startServer({ env: { MCP_BG_CLEANUP_INTERVAL: "0.2", MCP_BG_MAX_FINISHED: "2" } });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await run(s, `echo ${i}`)).job_id);
    const h = s;
    await waitFor(async () => (await h.ok<{ total: number }>("list_jobs")).total === 2, 5000);
    const { jobs } = await s.ok<{ jobs: { job_id: string }[] }>("list_jobs");
    expect(jobs.map((j) => j.job_id)).toEqual([ids[3], ids[2]]);
  });

  it("MCP_BG_MAX_JOBS limits jobs running at once", async () => {
    s = await startServer({ env: { MCP_BG_MAX_JOBS: "1" } });
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: "sleep 300" });
    expect(await s.error("execute_command", { command: "true" })).toMatch(/limit/);
    await s.ok("kill_job", { job_id });
  });
});
