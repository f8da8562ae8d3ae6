import { describe, expect, it } from "vitest";
import { useServer } from "../support/harness.js";
import { marker, processesMatching, splitWord, waitFor } from "../support/helpers.js";

// Carriage returns or escape sequences left in text that should read as a screen does.
const hasTerminalCodes = (text: string) => text.includes("\r") || text.includes("\u001b");

type Out = { stdout: string; stderr: string; status: string; hint?: string; outcome?: string };

describe("PTY jobs", () => {
  const s = useServer();
  const start = async (command: string) =>
    (await s.ok<{ job_id: string }>("execute_command", { command, pty: true })).job_id;

  it("run under a terminal: the job sees a tty, and what tools return is what the terminal shows", async () => {
    const job_id = await start(
      "[ -t 0 ] && [ -t 1 ] && echo tty; printf '\\033[32mgreen\\033[0m\\n'; printf 'step 1\\rstep 2\\rstep 3\\n'; printf 'abc\\b\\bX\\n'",
    );
    await s.ok("wait_for_job", { job_id });
    const out = await s.ok<Out>("get_job_output", { job_id });
    expect(out.stdout).toBe("tty\ngreen\nstep 3\naXc\n");
    expect(hasTerminalCodes(out.stdout)).toBe(false);
    const tail = await s.ok<Out>("tail_job_output", { job_id, lines: 2 });
    expect(tail.stdout).toBe("step 3\naXc");
  });

  it("drive a real REPL: python3 -i prompts, answers, and takes Ctrl-C as a raw control character", async () => {
    const job_id = await start("python3 -i -q");
    const ready = await s.ok<{ matched: boolean }>("wait_for_job", { job_id, until: ">>>", timeout_seconds: 45 });
    expect(ready.matched).toBe(true);
    const answer = await s.ok<Out>("interact_with_job", { job_id, input: "6 * 7" });
    expect(answer.stdout).toContain("42");
    expect(hasTerminalCodes(answer.stdout)).toBe(false);
    await s.ok("interact_with_job", { job_id, input: "import time; time.sleep(30)", wait_ms: 300 });
    const interrupted = await s.ok<Out>("interact_with_job", { job_id, input: "\u0003", raw: true });
    expect(interrupted.stdout).toContain("KeyboardInterrupt");
    const still = await s.ok<Out>("interact_with_job", { job_id, input: "print('alive')" });
    expect(still.stdout).toContain("alive");
    // eof on a terminal is Ctrl-D: the REPL exits (with 1 here: its last statement was interrupted).
    await s.ok("interact_with_job", { job_id, input: "", raw: true, eof: true });
    const end = await s.ok<{ status: string; timed_out: boolean }>("wait_for_job", { job_id, timeout_seconds: 45 });
    expect(end.timed_out).toBe(false);
    expect(end.status).not.toBe("running");
  });

  it("keep the start of a line that wraps over many terminal rows", async () => {
    const job_id = await start("seq -s, 1 4000; echo");
    await s.ok("wait_for_job", { job_id });
    const out = await s.ok<Out>("get_job_output", { job_id });
    const expected = `${Array.from({ length: 4000 }, (_, i) => i + 1).join(",")}\n`;
    expect(out.stdout).toBe(expected);
  });

  it("are killed with their whole process group", async () => {
    const mark = marker();
    const job_id = await start(`sh -c 'while :; do sleep 1; done' ${splitWord(mark)} & python3 -q`);
    await waitFor(() => processesMatching(mark).length === 1);
    expect(await s.ok("kill_job", { job_id, grace_seconds: 1 })).toEqual({ status: "killed" });
    expect(processesMatching(mark)).toEqual([]);
  });
});

describe("options on execute_command, and words for the agent", () => {
  const s = useServer({ env: { MCP_BG_MAX_JOBS: "50" } });

  it("merges env over the server's environment and shows name in list_jobs", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: 'echo "$GREETING $TARGET"; command -v sh >/dev/null && echo path-kept',
      env: { GREETING: "hello", TARGET: "world" },
      name: "greeter",
    });
    await s.ok("wait_for_job", { job_id });
    expect(await s.ok("get_job_output", { job_id })).toMatchObject({ stdout: "hello world\npath-kept\n" });
    const { jobs } = await s.ok<{ jobs: { job_id: string; name: string | null }[] }>("list_jobs", { limit: 1 });
    expect(jobs[0]).toMatchObject({ job_id, name: "greeter" });
  });

  it("says a job is still running and points to wait_for_job instead of a sleep loop", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: "sleep 300" });
    for (const tool of ["get_job_status", "get_job_output", "tail_job_output"]) {
      const r = await s.ok<Out>(tool, { job_id });
      expect(r.hint, tool).toMatch(/wait_for_job/);
      expect(r.outcome, tool).toBeUndefined();
    }
    await s.ok("kill_job", { job_id });
    const killed = await s.ok<Out>("get_job_status", { job_id });
    expect(killed.outcome).toBe("ended by SIGTERM on request (terminated)");
    expect(killed.hint).toBeUndefined();
  });

  it("explains exit codes and signals in words beside the numbers", async () => {
    const cases: [string, RegExp][] = [
      ["exit 0", /^exited with code 0 \(success\)$/],
      ["exit 1", /^exited with code 1 \(general error\)$/],
      ["no-such-command-xyz", /^exited with code 127 \(command not found\)$/],
      ["exit 137", /^exited with code 137 \(the shell reports SIGKILL: killed/],
      ["kill -SEGV $$", /^ended by SIGSEGV \(crashed: segmentation fault\)$/],
    ];
    for (const [command, words] of cases) {
      const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command });
      await s.ok("wait_for_job", { job_id });
      expect((await s.ok<Out>("get_job_status", { job_id })).outcome, command).toMatch(words);
    }
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: "sleep 300",
      timeout_seconds: 0.3,
    });
    await s.ok("wait_for_job", { job_id });
    expect((await s.ok<Out>("get_job_status", { job_id })).outcome).toMatch(/after its timeout/);
  });

  it("keeps list_jobs lean: limit (newest first) and total", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++)
      ids.push((await s.ok<{ job_id: string }>("execute_command", { command: "true" })).job_id);
    const r = await s.ok<{ jobs: { job_id: string }[]; total: number }>("list_jobs", { limit: 5 });
    expect(r.jobs.map((j) => j.job_id)).toEqual(ids.slice(-5).reverse());
    expect(r.total).toBeGreaterThanOrEqual(12);
    expect(await s.error("list_jobs", { limit: 0 })).toMatch(/limit/);
  });

  it("answers in compact JSON and keeps tool descriptions short", async () => {
    const r = await s.call("list_jobs", { limit: 1 });
    expect(r.content[0]?.text).not.toMatch(/\n/);
    const { tools } = await s.client.listTools();
    expect(tools).toHaveLength(9);
    for (const tool of tools) expect(tool.description?.length, tool.name).toBeLessThanOrEqual(260);
  });
});
