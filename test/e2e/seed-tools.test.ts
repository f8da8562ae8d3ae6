import { describe, expect, it } from "vitest";
import { useServer } from "../support/harness.js";
import { waitFor } from "../support/helpers.js";

type Status = { status: string; exit_code: number | null; signal: string | null; timed_out: boolean; pid: number };

describe("the seven seed tools, as the seed's own tests use them", () => {
  const s = useServer({ env: { MCP_BG_MAX_JOBS: "4" } });

  const ended = (id: string) =>
    waitFor(async () => {
      const st = await s.ok<Status>("get_job_status", { job_id: id });
      return st.status !== "running" && st;
    });

  it("lists the seven tools with output schemas, descriptions and honest annotations", async () => {
    const { tools } = await s.client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const name of [
      "execute_command",
      "list_jobs",
      "get_job_status",
      "get_job_output",
      "tail_job_output",
      "interact_with_job",
      "kill_job",
    ]) {
      const tool = byName.get(name);
      expect(tool, name).toBeDefined();
      expect(tool?.outputSchema, name).toBeDefined();
      expect(tool?.description?.length, name).toBeGreaterThan(20);
    }
    for (const name of ["list_jobs", "get_job_status", "get_job_output", "tail_job_output"]) {
      expect(byName.get(name)?.annotations?.readOnlyHint, name).toBe(true);
    }
    for (const name of ["execute_command", "interact_with_job", "kill_job"]) {
      expect(byName.get(name)?.annotations?.readOnlyHint, name).toBe(false);
    }
    expect(byName.get("execute_command")?.inputSchema.required).toEqual(["command"]);
    expect(byName.get("interact_with_job")?.inputSchema.required).toEqual(["job_id", "input"]);
  });

  it("runs the basic workflow: execute, status, output, tail", async () => {
    const started = await s.ok<{ job_id: string; pid: number; status: string }>("execute_command", {
      command: "echo 'Hello World'; echo oops >&2",
    });
    expect(started.job_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(started.pid).toBeGreaterThan(1);
    // The status as of the answer: a command this short may have ended by then (README).
    expect(["running", "completed"]).toContain(started.status);
    const st = await ended(started.job_id);
    expect(st).toMatchObject({ status: "completed", exit_code: 0, signal: null, timed_out: false });
    const out = await s.ok<{ stdout: string; stderr: string }>("get_job_output", { job_id: started.job_id });
    expect(out.stdout).toBe("Hello World\n");
    expect(out.stderr).toBe("oops\n");
    const tail = await s.ok("tail_job_output", { job_id: started.job_id, lines: 1 });
    expect(tail).toEqual({
      stdout: "Hello World",
      stderr: "oops",
      status: "completed",
      outcome: "exited with code 0 (success)",
    });
  });

  it("records a failing command as failed with its exit code", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: "exit 3" });
    expect(await ended(job_id)).toMatchObject({ status: "failed", exit_code: 3 });
  });

  it("runs shell syntax: pipes, &&, cd and redirection", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: "cd / && pwd | tr / R && echo to-err 1>&2",
    });
    await ended(job_id);
    expect(await s.ok("get_job_output", { job_id })).toMatchObject({ stdout: "R\n", stderr: "to-err\n" });
  });

  it("talks to an interactive cat", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: "cat" });
    const reply = await s.ok<{ stdout: string }>("interact_with_job", { job_id, input: "hello cat" });
    expect(reply.stdout).toBe("hello cat\n");
    const again = await s.ok<{ stdout: string }>("interact_with_job", { job_id, input: "second\n" });
    expect(again.stdout).toBe("second\n");
    expect(await s.ok("kill_job", { job_id })).toEqual({ status: "killed" });
    expect(await s.ok("get_job_status", { job_id })).toMatchObject({ status: "killed" });
  });

  it("runs concurrent jobs and lists them newest first", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await s.ok<{ job_id: string }>("execute_command", { command: `echo job${i}` })).job_id);
    }
    await Promise.all(ids.map(ended));
    for (let i = 0; i < 3; i++) {
      expect(await s.ok("get_job_output", { job_id: ids[i] })).toMatchObject({ stdout: `job${i}\n` });
    }
    const listed = await s.ok<{ jobs: { job_id: string }[]; total: number }>("list_jobs", { limit: 3 });
    expect(listed.jobs.map((j) => j.job_id)).toEqual([...ids].reverse());
    expect(listed.total).toBeGreaterThanOrEqual(3);
    const completed = await s.ok<{ jobs: { status: string }[] }>("list_jobs", { status: "completed" });
    expect(completed.jobs.every((j) => j.status === "completed")).toBe(true);
  });

  it("tails the last lines of a long output", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: "seq 1 5000" });
    await ended(job_id);
    expect(await s.ok("tail_job_output", { job_id, lines: 3 })).toMatchObject({
      stdout: "4998\n4999\n5000",
      stderr: "",
      status: "completed",
    });
    const dflt = await s.ok<{ stdout: string }>("tail_job_output", { job_id });
    expect(dflt.stdout.split("\n")).toHaveLength(50);
  });

  it("refuses one job more than the limit, saying 'limit', and frees the slot after a kill", async () => {
    const running: string[] = [];
    const live = (await s.ok<{ total: number }>("list_jobs", { status: "running" })).total;
    for (let i = live; i < 4; i++) {
      running.push((await s.ok<{ job_id: string }>("execute_command", { command: "sleep 300" })).job_id);
    }
    expect(await s.error("execute_command", { command: "echo one too many" })).toMatch(/limit/);
    expect(await s.ok("kill_job", { job_id: running[0] })).toEqual({ status: "killed" });
    const next = await s.ok<{ job_id: string }>("execute_command", { command: "echo fits" });
    running.push(next.job_id);
    await Promise.all(running.map((job_id) => s.ok("kill_job", { job_id, grace_seconds: 1 })));
  });

  it("answers unknown job ids with 'not found', and kill_job with not_found", async () => {
    const id = "00000000-0000-4000-8000-000000000000";
    for (const tool of ["get_job_status", "get_job_output", "tail_job_output"]) {
      expect(await s.error(tool, { job_id: id })).toMatch(/not found/);
    }
    expect(await s.error("interact_with_job", { job_id: id, input: "x" })).toMatch(/not found/);
    expect(await s.ok("kill_job", { job_id: id })).toEqual({ status: "not_found" });
  });

  it("rejects an empty command and bad arguments with clear errors", async () => {
    expect(await s.error("execute_command", { command: "" })).toMatch(/empty/);
    expect(await s.error("execute_command", { command: "   " })).toMatch(/empty/);
    expect(await s.error("execute_command", { command: 42 })).toMatch(/command/);
    expect(await s.error("execute_command", {})).toMatch(/command/);
    expect(await s.error("execute_command", { command: "true", env: { A: 1 } })).toMatch(/env/);
    expect(await s.error("get_job_status", { job_id: 7 })).toMatch(/job_id/);
  });

  it("refuses what no process can be given, with a clear error", async () => {
    expect(await s.error("execute_command", { command: "echo a\u0000b" })).toMatch(/NUL byte/);
    expect(await s.error("execute_command", { command: `echo ${"x".repeat(200_000)}` })).toMatch(/too long.*script/);
    expect(await s.error("execute_command", { command: "true", env: { "A=B": "1" } })).toMatch(
      /not a valid variable name/,
    );
    expect(await s.error("execute_command", { command: "true", env: { A: "x\u0000" } })).toMatch(/NUL byte/);
    // The server is fine afterwards.
    expect(await s.ok("list_jobs", { limit: 1 })).toBeDefined();
  });

  it("rejects tail line counts outside 1..1000 and non-numbers", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: "echo x" });
    for (const lines of [0, -1, 1001, 2.5, "ten"]) {
      expect(await s.error("tail_job_output", { job_id, lines }), String(lines)).toMatch(/lines/);
    }
    expect(await s.ok("tail_job_output", { job_id, lines: 1000 })).toBeDefined();
  });

  it("refuses input to a finished job, and kill_job says already_terminated", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: "echo done" });
    await ended(job_id);
    expect(await s.error("interact_with_job", { job_id, input: "hi" })).toMatch(/not running/);
    expect(await s.ok("kill_job", { job_id })).toEqual({ status: "already_terminated" });
  });

  it("gives an error result, not a crash, when the job has closed its stdin", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: "exec 0<&-; echo closed; sleep 300",
    });
    await s.ok("wait_for_job", { job_id, until: "^closed$", timeout_seconds: 45 });
    expect(await s.error("interact_with_job", { job_id, input: "anyone there?" })).toMatch(/stdin/);
    // The server is still up and the job unaffected.
    expect(await s.ok("get_job_status", { job_id })).toMatchObject({ status: "running" });
    expect(await s.ok("kill_job", { job_id, grace_seconds: 1 })).toEqual({ status: "killed" });
  });

  it("gives the job a pipe as stdin", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: '[ -p /dev/stdin ] && echo pipe; read line; echo "got $line"',
    });
    await s.ok("wait_for_job", { job_id, until: "^pipe$", timeout_seconds: 45 });
    const reply = await s.ok<{ stdout: string }>("interact_with_job", { job_id, input: "hi" });
    expect(reply.stdout).toBe("got hi\n");
  });

  it("sets MCP_BG_JOB_ID in the job's environment", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: 'echo "$MCP_BG_JOB_ID"' });
    await ended(job_id);
    expect(await s.ok("get_job_output", { job_id })).toMatchObject({ stdout: `${job_id}\n` });
  });

  it("applies interact_with_job's eof and raw options", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: "wc -l" });
    await s.ok("interact_with_job", { job_id, input: "a\nb", raw: true });
    const reply = await s.ok<{ stdout: string }>("interact_with_job", { job_id, input: "\nc", eof: true });
    expect(reply.stdout.trim()).toBe("3");
    expect(await ended(job_id)).toMatchObject({ status: "completed" });
  });
});
