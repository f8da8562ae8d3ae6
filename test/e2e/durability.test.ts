import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type Status, useDurableFixture } from "../support/durable-fixture.js";
import type { Harness } from "../support/harness.js";
import { isAlive, markedLoop, processesMatching, steadyCount, waitFor } from "../support/helpers.js";

type Output = { stdout: string; stderr: string; cursor: string };

const { newState, mark, server, stop, crash, status } = useDurableFixture();

// A job that prints `tick N` every 0.2 s, and echoes its input as `got LINE`.
const ticker = (m: string) =>
  `i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.2; done & while read line; do echo "got $line"; done; : ${m}`;

describe("history survives restarts", () => {
  it("after a restart every tool gives the same answers for the jobs of the earlier run", async () => {
    const state = newState();
    const a = await server(state);
    const ok = await a.ok<Status>("execute_command", {
      command: "echo out line 1; echo out line 2; echo err line >&2",
      name: "ok",
    });
    const bad = await a.ok<Status>("execute_command", { command: "echo failing; exit 3" });
    const long = await a.ok<Status>("execute_command", { command: `sleep 300; : ${mark()}` });
    await a.ok("wait_for_job", { job_id: ok.job_id });
    await a.ok("wait_for_job", { job_id: bad.job_id });
    await a.ok("kill_job", { job_id: long.job_id, grace_seconds: 1 });
    const ask = async (s: Harness) => ({
      list: await s.ok("list_jobs", {}),
      statuses: await Promise.all([ok, bad, long].map((j) => status(s, j.job_id))),
      output: await s.ok("get_job_output", { job_id: ok.job_id }),
      since: await s.ok("get_job_output", { job_id: ok.job_id, since: "9:0" }),
      tail: await s.ok("tail_job_output", { job_id: ok.job_id, lines: 1 }),
      search: await s.ok("search_job_output", { job_id: ok.job_id, pattern: "line [12]" }),
      wait: await s.ok("wait_for_job", { job_id: bad.job_id, until: "fail" }),
      kill: await s.ok("kill_job", { job_id: ok.job_id }),
    });
    const before = await ask(a);
    // Control: the answers hold the jobs' data, so that comparing them means something.
    expect(before.statuses.map((st) => st.status)).toEqual(["completed", "failed", "killed"]);
    expect(before.output).toMatchObject({ stdout: "out line 1\nout line 2\n", stderr: "err line\n" });
    await stop(a);

    const b = await server(state);
    expect(await ask(b)).toEqual(before);
    // Input to a job that ended before the restart is refused as before.
    expect(await b.error("interact_with_job", { job_id: ok.job_id, input: "x" })).toMatch(/not running/);
  });

  it("a normal stop kills running jobs and records them as killed; their output stays", async () => {
    const state = newState();
    const m = mark();
    const a = await server(state);
    const job = await a.ok<Status>("execute_command", { command: `echo before stop; ${markedLoop(m)}` });
    await a.ok("wait_for_job", { job_id: job.job_id, until: "before stop" });
    await stop(a);
    expect(processesMatching(m)).toEqual([]);
    const b = await server(state);
    expect(await status(b, job.job_id)).toMatchObject({ status: "killed", lost: false, signal: "SIGTERM" });
    expect(await b.ok("get_job_output", { job_id: job.job_id })).toMatchObject({ stdout: "before stop\n" });
  });
});

describe("crash truth: after a SIGKILL of the server", () => {
  it("a job still alive is running: readable, waitable, takes input, and killable by the next server", async () => {
    const state = newState();
    const m = mark();
    const a = await server(state);
    const job = await a.ok<Status>("execute_command", { command: ticker(m) });
    await a.ok("wait_for_job", { job_id: job.job_id, until: "tick 2" });
    await crash(a);
    // What it prints while no server runs is kept.
    await new Promise((r) => setTimeout(r, 600));

    const b = await server(state);
    const st = await status(b, job.job_id);
    expect(st).toMatchObject({ status: "running", pid: job.pid, lost: false });
    expect(isAlive(job.pid as number)).toBe(true);
    // A line printed after the restart is waited for.
    const seen = (await b.ok<Output>("get_job_output", { job_id: job.job_id })).stdout;
    const last = Number(/tick (\d+)\n$/.exec(seen)?.[1]);
    expect(last).toBeGreaterThanOrEqual(4);
    const waited = await b.ok<{ matched: boolean }>("wait_for_job", {
      job_id: job.job_id,
      until: `tick ${last + 2}$`,
      timeout_seconds: 45,
    });
    expect(waited.matched).toBe(true);
    // Its stdin still works, through the job's FIFO.
    const reply = await b.ok<Output>("interact_with_job", { job_id: job.job_id, input: "hello", wait_ms: 3000 });
    expect(reply.stdout).toContain("got hello");
    expect(await b.ok("kill_job", { job_id: job.job_id, grace_seconds: 1 })).toEqual({ status: "killed" });
    expect(processesMatching(m)).toEqual([]);
    expect(await status(b, job.job_id)).toMatchObject({ status: "killed" });
  });

  it("a job that ended while no server ran has its real exit code and all its output", async () => {
    const state = newState();
    const a = await server(state);
    const job = await a.ok<Status>("execute_command", { command: "echo first; sleep 1; echo after the crash; exit 3" });
    await a.ok("wait_for_job", { job_id: job.job_id, until: "first" });
    await crash(a);
    await waitFor(() => readdirSync(join(state, "jobs", job.job_id)).includes("exit"), 5000);
    const b = await server(state);
    expect(await status(b, job.job_id)).toMatchObject({ status: "failed", exit_code: 3, lost: false });
    expect(await b.ok("get_job_output", { job_id: job.job_id })).toMatchObject({
      stdout: "first\nafter the crash\n",
    });
  });

  it("a job whose processes died with no one watching is failed, lost, with exit_code null", async () => {
    const state = newState();
    const m = mark();
    const a = await server(state);
    const job = await a.ok<Status>("execute_command", { command: `echo hi; ${markedLoop(m)}` });
    await a.ok("wait_for_job", { job_id: job.job_id, until: "hi" });
    const [pid, , shepherd] = readFileSync(join(state, "jobs", job.job_id, "pid"), "utf8")
      .split(" ")
      .map(Number);
    await crash(a);
    // The machine "reboots": the shepherd and the job die at once, before anything can be written.
    process.kill(shepherd as number, "SIGKILL");
    process.kill(-(pid as number), "SIGKILL");
    await waitFor(() => processesMatching(m).length === 0);
    const b = await server(state);
    const st = await status(b, job.job_id);
    expect(st).toMatchObject({ status: "failed", lost: true, exit_code: null, signal: null });
    expect(st.outcome).toMatch(/lost/);
    expect(await b.ok("list_jobs", {})).toMatchObject({ jobs: [{ job_id: job.job_id, status: "failed" }] });
    // Its output is still there, and waiting on it returns at once.
    expect(await b.ok("get_job_output", { job_id: job.job_id })).toMatchObject({ stdout: "hi\n" });
    expect(await b.ok("wait_for_job", { job_id: job.job_id })).toMatchObject({ status: "failed", exit_code: null });
  });

  it("a job's timeout still holds under the server that takes it over", async () => {
    const state = newState();
    const m = mark();
    const a = await server(state);
    const job = await a.ok<Status>("execute_command", { command: markedLoop(m), timeout_seconds: 2 });
    await crash(a);
    const b = await server(state);
    // Running, or killed already if b took longer to start than the 2 s (a loaded machine).
    expect(["running", "killed"]).toContain((await status(b, job.job_id)).status);
    expect(await b.ok("wait_for_job", { job_id: job.job_id, timeout_seconds: 45 })).toMatchObject({
      status: "killed",
    });
    expect(await status(b, job.job_id)).toMatchObject({ status: "killed", timed_out: true });
    expect(processesMatching(m)).toEqual([]);
  });

  it("a pid reused by another process is not taken for the job", async () => {
    const state = newState();
    const a = await server(state);
    const job = await a.ok<Status>("execute_command", { command: `sleep 300; : ${mark()}` });
    const dir = join(state, "jobs", job.job_id);
    await crash(a);
    // The job and its shepherd die; the record now names a pid that a live process (this test) has, with
    // another start time.
    const [pid, , shepherd] = readFileSync(join(dir, "pid"), "utf8").split(" ").map(Number);
    process.kill(shepherd as number, "SIGKILL");
    process.kill(-(pid as number), "SIGKILL");
    await waitFor(() => !isAlive(pid as number));
    const { default: Database } = await import("libsql");
    const db = new Database(join(state, "state.db"));
    db.prepare("UPDATE jobs SET pid = ?, shepherd_pid = ? WHERE job_id = ?").run(process.pid, process.pid, job.job_id);
    db.close();
    const b = await server(state);
    expect(await status(b, job.job_id)).toMatchObject({ status: "failed", lost: true, pid: process.pid });
  });
});

describe("keep-jobs", () => {
  it("--keep-jobs: jobs outlive a normal stop, what they print meanwhile is kept, and the next server has them", async () => {
    const state = newState();
    const m = mark();
    const a = await server(state, { args: ["--keep-jobs"] });
    const job = await a.ok<Status>("execute_command", { command: ticker(m) });
    await a.ok("wait_for_job", { job_id: job.job_id, until: "tick 1" });
    await stop(a);
    expect(processesMatching(m).length).toBeGreaterThan(0);
    const before = readdirSync(join(state, "jobs", job.job_id));
    expect(before).toContain("stdout");
    await new Promise((r) => setTimeout(r, 1000));
    // The next server, without keep-jobs, adopts it but leaves it running when it stops: it was started to be kept.
    const b = await server(state);
    expect(await status(b, job.job_id)).toMatchObject({ status: "running" });
    const out = (await b.ok<Output>("get_job_output", { job_id: job.job_id })).stdout;
    expect(Number(/tick (\d+)\n$/.exec(out)?.[1])).toBeGreaterThanOrEqual(5);
    await stop(b);
    expect(processesMatching(m).length).toBeGreaterThan(0);
    const c = await server(state);
    expect(await c.ok("kill_job", { job_id: job.job_id, grace_seconds: 1 })).toEqual({ status: "killed" });
    expect(processesMatching(m)).toEqual([]);
  });

  it("MCP_BG_KEEP_JOBS=1 does the same", async () => {
    const state = newState();
    const m = mark();
    const a = await server(state, { env: { MCP_BG_KEEP_JOBS: "1" } });
    const job = await a.ok<Status>("execute_command", { command: markedLoop(m) });
    await waitFor(() => processesMatching(m).length === 1);
    await stop(a);
    expect(await steadyCount(m)).toBe(1);
    const b = await server(state);
    expect(await b.ok("kill_job", { job_id: job.job_id, grace_seconds: 1 })).toEqual({ status: "killed" });
  });
});

describe("several servers on one state dir", () => {
  it("each sees the others' jobs; any can read, wait, write to and kill them; the owner notices", async () => {
    const state = newState();
    const m = mark();
    const a = await server(state, { env: { MCP_BG_MAX_JOBS: "1" } });
    const b = await server(state);
    const job = await a.ok<Status>("execute_command", { command: ticker(m), name: "shared" });
    // a's only slot is taken.
    expect(await a.error("execute_command", { command: "true" })).toMatch(/limit/);
    expect(await b.ok("list_jobs", {})).toMatchObject({ jobs: [{ job_id: job.job_id, name: "shared" }], total: 1 });
    expect(await b.ok("wait_for_job", { job_id: job.job_id, until: "tick 2" })).toMatchObject({ matched: true });
    const reply = await b.ok<Output>("interact_with_job", { job_id: job.job_id, input: "from b", wait_ms: 3000 });
    expect(reply.stdout).toContain("got from b");
    expect(await b.ok("search_job_output", { job_id: job.job_id, pattern: "got from b" })).toMatchObject({
      total_matches: 1,
    });
    // a waits for the end; b kills.
    const waiting = a.ok("wait_for_job", { job_id: job.job_id, timeout_seconds: 45 });
    expect(await b.ok("kill_job", { job_id: job.job_id, grace_seconds: 1 })).toEqual({ status: "killed" });
    expect(processesMatching(m)).toEqual([]);
    expect(await waiting).toMatchObject({ status: "killed", timed_out: false });
    expect(await status(a, job.job_id)).toMatchObject({ status: "killed" });
    // a's slot is free again.
    await a.ok("execute_command", { command: "true" });
    // b's own jobs are a's to see too.
    const other = await b.ok<Status>("execute_command", { command: "echo from b" });
    await b.ok("wait_for_job", { job_id: other.job_id });
    expect(await a.ok("get_job_output", { job_id: other.job_id })).toMatchObject({ stdout: "from b\n" });
  });

  it("a server stopping does not kill the jobs of another server", async () => {
    const state = newState();
    const m = mark();
    const a = await server(state);
    const b = await server(state);
    const job = await b.ok<Status>("execute_command", { command: markedLoop(m) });
    await waitFor(() => processesMatching(m).length === 1);
    await stop(a);
    expect(await steadyCount(m)).toBe(1);
    expect(await status(b, job.job_id)).toMatchObject({ status: "running" });
  });
});

describe("retention", () => {
  it("drops finished jobs beyond MCP_BG_MAX_FINISHED, oldest first, with their folders; running ones stay", async () => {
    const state = newState();
    const m = mark();
    const s = await server(state, { env: { MCP_BG_MAX_FINISHED: "2", MCP_BG_CLEANUP_INTERVAL: "0.3" } });
    const running = await s.ok<Status>("execute_command", { command: markedLoop(m) });
    const done: string[] = [];
    for (let i = 0; i < 4; i++) {
      const j = await s.ok<Status>("execute_command", { command: `echo ${i}` });
      await s.ok("wait_for_job", { job_id: j.job_id });
      done.push(j.job_id);
    }
    await waitFor(async () => (await s.ok<{ total: number }>("list_jobs", {})).total === 3, 5000);
    const { jobs } = await s.ok<{ jobs: Status[] }>("list_jobs", {});
    expect(jobs.map((j) => j.job_id).sort()).toEqual([running.job_id, done[2], done[3]].sort());
    expect(readdirSync(join(state, "jobs")).sort()).toEqual([running.job_id, done[2], done[3]].sort());
    expect(await s.error("get_job_output", { job_id: done[0] })).toMatch(/not found/);
  });
});

describe("no corruption", () => {
  it("repeated SIGKILLs under heavy output from many jobs leave a state dir the next start uses", async () => {
    const state = newState();
    const m = mark();
    const ids: string[] = [];
    for (let round = 0; round < 4; round++) {
      const s = await server(state, { env: { MCP_BG_MAX_JOBS: "50", MCP_BG_MAX_OUTPUT_SIZE: "64KB" } });
      const calls = [];
      for (let i = 0; i < 4; i++) {
        calls.push(s.call("execute_command", { command: `yes ${m}-${round}-${i} | head -c 3000000; echo done` }));
      }
      calls.push(s.call("execute_command", { command: `while :; do echo ${m}; done` }));
      calls.push(s.call("list_jobs", {}));
      // Killed in the middle of starts, records being written and output pouring in.
      await new Promise((r) => setTimeout(r, 50 + round * 40));
      process.kill(s.pid, "SIGKILL");
      const results = await Promise.allSettled(calls);
      for (const r of results) {
        const v = r.status === "fulfilled" ? (r.value.structuredContent as { job_id?: string } | undefined) : undefined;
        if (v?.job_id) ids.push(v.job_id);
      }
      await waitFor(() => !isAlive(s.pid));
    }
    const s = await server(state);
    const { jobs, total } = await s.ok<{ jobs: Status[]; total: number }>("list_jobs", { limit: 1000 });
    expect(total).toBe(jobs.length);
    // Every job that was reported started is there; none is half-written.
    for (const id of ids) expect(jobs.map((j) => j.job_id)).toContain(id);
    for (const j of jobs) {
      expect(["running", "completed", "failed", "killed"]).toContain(j.status);
      await s.ok("get_job_output", { job_id: j.job_id });
    }
    // The endless ones are still running (adopted), and can be ended. A finite one that was still
    // draining its output when listed may have ended since: then it is already_terminated, truthfully.
    for (const j of jobs.filter((x) => x.status === "running")) {
      const endless = (j as Status & { command: string }).command.startsWith("while :");
      const { status } = await s.ok<{ status: string }>("kill_job", { job_id: j.job_id, grace_seconds: 1 });
      expect(endless ? ["killed"] : ["killed", "already_terminated"]).toContain(status);
      if (endless) expect((await s.ok<Status>("get_job_status", { job_id: j.job_id })).status).toBe("killed");
    }
    expect(processesMatching(m)).toEqual([]);
  });
});
