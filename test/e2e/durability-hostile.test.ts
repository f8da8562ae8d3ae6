import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type Status, useDurableFixture } from "../support/durable-fixture.js";
import { runCli } from "../support/harness.js";
import { isAlive, markedLoop, processesMatching, steadyCount, waitFor } from "../support/helpers.js";

// Cases found by a hostile review of durability: each failed before its fix.

const { newState, mark, server, crash, status } = useDurableFixture();

async function sql(state: string, text: string, ...params: unknown[]) {
  const { default: Database } = await import("libsql");
  const db = new Database(join(state, "state.db"));
  try {
    db.prepare(text).run(...params);
  } finally {
    db.close();
  }
}

// A pid that was a process and is no more.
function deadPid(): number {
  const child = spawn("true");
  const pid = child.pid as number;
  return pid;
}

describe("a server killed in the middle of a start", () => {
  it("leaves a job whose processes are recorded by the next server, which kills it gracefully", async () => {
    const state = newState();
    const m = mark();
    const a = await server(state);
    const flag = join(state, "got-term");
    const job = await a.ok<Status>("execute_command", {
      command: `trap 'echo term > ${flag}; exit 0' TERM; ${markedLoop(m)} & wait`,
    });
    await waitFor(() => processesMatching(m).length === 1);
    await crash(a);
    // As if the server died before it could record the processes: only the pid file knows them.
    await sql(state, "UPDATE jobs SET pid = NULL, pid_start = NULL, shepherd_pid = NULL, shepherd_start = NULL");
    const b = await server(state);
    expect(await status(b, job.job_id)).toMatchObject({ status: "running", pid: job.pid });
    expect(await b.ok("kill_job", { job_id: job.job_id, grace_seconds: 10 })).toEqual({ status: "killed" });
    // SIGTERM came first (the trap ran), not SIGKILL after the grace.
    expect(readFileSync(flag, "utf8")).toBe("term\n");
  });

  it("a start whose processes are not known yet is not judged lost at once, but is after the grace", async () => {
    const state = newState();
    const s = await server(state);
    const owner = deadPid();
    await waitFor(() => !isAlive(owner));
    const insert = (id: string, startedMs: number) =>
      sql(
        state,
        "INSERT INTO jobs (job_id, command, cwd, status, started_ms, owner_pid, owner_start) VALUES (?, 'sleep 1', '/', 'running', ?, ?, 12345)",
        id,
        startedMs,
        owner,
      );
    const fresh = "00000000-0000-4000-8000-00000000000a";
    const old = "00000000-0000-4000-8000-00000000000b";
    await insert(fresh, Date.now());
    await insert(old, Date.now() - 60_000);
    expect(await status(s, fresh)).toMatchObject({ status: "running" });
    expect(await status(s, old)).toMatchObject({ status: "failed", lost: true, exit_code: null });
  });
});

describe("a server on the state dir when another one dies", () => {
  it("takes its jobs over within seconds, unasked: their timeouts still hold", async () => {
    const state = newState();
    const m = mark();
    const b = await server(state);
    const a = await server(state);
    const job = await a.ok<Status>("execute_command", { command: markedLoop(m), timeout_seconds: 2 });
    await waitFor(() => processesMatching(m).length === 1);
    await crash(a);
    // Nobody asks b anything: it notices by itself.
    await waitFor(() => processesMatching(m).length === 0, 10_000);
    await waitFor(async () => (await status(b, job.job_id)).status !== "running", 5000);
    expect(await status(b, job.job_id)).toMatchObject({ status: "killed" });
  });

  it("carries through a kill that the dead server had begun", async () => {
    const state = newState();
    const m = mark();
    const a = await server(state);
    const job = await a.ok<Status>("execute_command", { command: `trap '' TERM; ${markedLoop(m, 'trap "" TERM; ')}` });
    await waitFor(() => processesMatching(m).length === 1);
    // a's kill would escalate to SIGKILL after 3 s, but a dies before; the next server keeps that time.
    void a.call("kill_job", { job_id: job.job_id, grace_seconds: 3 }).catch(() => {});
    await new Promise((r) => setTimeout(r, 300));
    await crash(a);
    const b = await server(state);
    await waitFor(() => processesMatching(m).length === 0, 10_000);
    await waitFor(async () => (await status(b, job.job_id)).status !== "running", 5000);
    expect(await status(b, job.job_id)).toMatchObject({ status: "killed" });
  });

  it("finishes a kill that another server began on its job and did not live to finish", async () => {
    const state = newState();
    const m = mark();
    const owner = await server(state);
    const killer = await server(state);
    const job = await owner.ok<Status>("execute_command", {
      command: `trap '' TERM; ${markedLoop(m, 'trap "" TERM; ')}`,
    });
    await waitFor(() => processesMatching(m).length === 1);
    // TERM is ignored; the killer would send SIGKILL after 2 s, but dies before.
    void killer.call("kill_job", { job_id: job.job_id, grace_seconds: 2 }).catch(() => {});
    await new Promise((r) => setTimeout(r, 300));
    await crash(killer);
    expect(await steadyCount(m)).toBe(1);
    await waitFor(() => processesMatching(m).length === 0, 10_000);
    // Its end is recorded once its shepherd has reported it, a moment after the processes are gone.
    await waitFor(async () => (await status(owner, job.job_id)).status !== "running", 5000);
    expect(await status(owner, job.job_id)).toMatchObject({ status: "killed" });
  });

  it("ends a taken-over job whose shepherd died (nothing captures it any more) as lost", async () => {
    const state = newState();
    const m = mark();
    const a = await server(state);
    const job = await a.ok<Status>("execute_command", { command: markedLoop(m) });
    await waitFor(() => processesMatching(m).length === 1);
    await crash(a);
    const b = await server(state);
    expect(await status(b, job.job_id)).toMatchObject({ status: "running" });
    const shepherd = Number(readFileSync(join(state, "jobs", job.job_id, "pid"), "utf8").split(" ")[2]);
    process.kill(shepherd, "SIGKILL");
    await waitFor(async () => (await status(b, job.job_id)).status !== "running", 10_000);
    expect(await status(b, job.job_id)).toMatchObject({ status: "failed", lost: true });
    expect(processesMatching(m)).toEqual([]);
  });
});

describe("a state dir tampered with", () => {
  it("a garbled exit file does not break list_jobs or get_job_status", async () => {
    const state = newState();
    const a = await server(state);
    const good = await a.ok<Status>("execute_command", { command: "echo fine" });
    await a.ok("wait_for_job", { job_id: good.job_id });
    const job = await a.ok<Status>("execute_command", { command: "sleep 1" });
    await crash(a);
    const exit = join(state, "jobs", job.job_id, "exit");
    await waitFor(() => existsSync(exit), 5000);
    for (const garbage of ["0 0 99999999999999999", "99999999999999999999 0 1795627074379", "x y z"]) {
      writeFileSync(exit, garbage);
      const b = await server(state);
      const { jobs } = await b.ok<{ jobs: Status[] }>("list_jobs", {});
      expect(jobs.map((j) => j.job_id)).toContain(good.job_id);
      expect(await status(b, job.job_id)).toMatchObject({ status: "failed", lost: true });
      await sql(state, "UPDATE jobs SET status = 'running', lost = 0 WHERE job_id = ?", job.job_id);
      await crash(b);
    }
  });

  it("a FIFO in place of the exit file does not hang the command line or a server", async () => {
    const state = newState();
    const a = await server(state);
    const job = await a.ok<Status>("execute_command", { command: "sleep 0.5" });
    await crash(a);
    const exit = join(state, "jobs", job.job_id, "exit");
    await waitFor(() => existsSync(exit), 5000);
    rmSync(exit);
    const { execFileSync } = await import("node:child_process");
    execFileSync("mkfifo", [exit]);
    const r = await runCli(state, ["list", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).jobs[0]).toMatchObject({ job_id: job.job_id, status: "failed" });
    const b = await server(state);
    expect(await b.ok("list_jobs", {})).toMatchObject({ total: 1 });
  });

  it("a state database moved away: a job still running gets its record back from its folder, not deleted", async () => {
    const state = newState();
    const m = mark();
    const a = await server(state, { env: { MCP_BG_KEEP_JOBS: "1" } });
    const job = await a.ok<Status>("execute_command", { command: `echo hello; ${markedLoop(m)}` });
    await a.ok("wait_for_job", { job_id: job.job_id, until: "hello" });
    a.transport.close();
    await waitFor(() => !isAlive(a.pid), 10_000);
    for (const f of ["state.db", "state.db-wal", "state.db-shm"]) {
      if (existsSync(join(state, f))) renameSync(join(state, f), join(state, `${f}.moved`));
    }
    // Older than a start under way.
    const dir = join(state, "jobs", job.job_id);
    const past = new Date(Date.now() - 120_000);
    utimesSync(dir, past, past);
    const b = await server(state);
    expect(existsSync(join(dir, "stdout"))).toBe(true);
    const st = await status(b, job.job_id);
    expect(st).toMatchObject({ status: "running", pid: job.pid });
    expect(await b.ok("get_job_output", { job_id: job.job_id })).toMatchObject({ stdout: "hello\n" });
    expect(await b.ok("kill_job", { job_id: job.job_id, grace_seconds: 1 })).toEqual({ status: "killed" });
    expect(processesMatching(m)).toEqual([]);
    // A dead job's folder without a record is removed.
    const stray = join(state, "jobs", "11111111-2222-4333-8444-555555555555");
    mkdirSync(stray);
    utimesSync(stray, past, past);
    const c = await server(state, { env: { MCP_BG_CLEANUP_INTERVAL: "0.2" } });
    await waitFor(() => !existsSync(stray), 5000);
    void c;
  });
});

describe("the state database's schema", () => {
  it("a database of schema 1 is migrated in place, keeping its jobs", async () => {
    const state = newState();
    const { MIGRATIONS } = await import("../../src/store/migrations.js");
    const { default: Database } = await import("libsql");
    const db = new Database(join(state, "state.db"));
    db.exec(MIGRATIONS[0] as string);
    db.exec("PRAGMA user_version = 1");
    // Recent enough not to be past retention.
    db.prepare(
      "INSERT INTO jobs (job_id, command, cwd, status, started_ms, completed_ms, exit_code) VALUES ('22222222-0000-4000-8000-000000000001', 'echo old', '/', 'completed', ?, ?, 0)",
    ).run(Date.now() - 2000, Date.now() - 1000);
    db.close();
    const s = await server(state);
    expect(await s.ok("list_jobs", {})).toMatchObject({
      total: 1,
      jobs: [{ job_id: "22222222-0000-4000-8000-000000000001", command: "echo old", status: "completed" }],
    });
    const check = new Database(join(state, "state.db"));
    expect(check.prepare("PRAGMA user_version").get()).toMatchObject({ user_version: MIGRATIONS.length });
    check.close();
  });

  it("a database of schema 7 is made anew for queued jobs (8), keeping every row, column and rowid", async () => {
    const state = newState();
    const { MIGRATIONS } = await import("../../src/store/migrations.js");
    const { default: Database } = await import("libsql");
    const db = new Database(join(state, "state.db"));
    for (const step of MIGRATIONS.slice(0, 7)) db.exec(step);
    db.exec("PRAGMA user_version = 7");
    const now = Date.now();
    const insert = db.prepare(
      `INSERT INTO jobs (rowid, job_id, command, name, cwd, status, started_ms, completed_ms, exit_code, executor, confinement, usage, limit_hit)
       VALUES (?, ?, ?, ?, '/', 'failed', ?, ?, 137, 'local', ?, ?, 'memory')`,
    );
    const confinement = JSON.stringify({
      sandbox: "workspace",
      network: false,
      writable: ["/w"],
      limits: { memory_bytes: 1, cpu: null, processes: null },
      via: ["x"],
      cgroups: [],
    });
    const usage = JSON.stringify({
      cpu_seconds: 1.5,
      memory_bytes: null,
      peak_memory_bytes: 9,
      processes: null,
      peak_processes: null,
    });
    insert.run(
      40,
      "33333333-0000-4000-8000-000000000040",
      "echo a",
      "first",
      now - 3000,
      now - 2000,
      confinement,
      usage,
    );
    insert.run(7, "33333333-0000-4000-8000-000000000007", "echo b", "second", now - 3000, now - 2000, null, null);
    const before = db.prepare("SELECT rowid, * FROM jobs ORDER BY rowid").all();
    db.close();
    const s = await server(state);
    const list = await s.ok<{ total: number; jobs: { job_id: string; peak_memory_bytes?: number }[] }>("list_jobs", {});
    expect(list.total).toBe(2);
    expect(await s.ok("get_job_status", { job_id: "33333333-0000-4000-8000-000000000040" })).toMatchObject({
      status: "failed",
      sandbox: "workspace",
      limit_hit: "memory",
      restarts: 0,
      restart: "no",
    });
    const check = new Database(join(state, "state.db"));
    expect(check.prepare("PRAGMA user_version").get()).toMatchObject({ user_version: 8 });
    const after = check
      .prepare(
        `SELECT rowid, ${Object.keys(before[0] as object)
          .filter((k) => k !== "rowid")
          .join(", ")} FROM jobs ORDER BY rowid`,
      )
      .all();
    expect(after).toEqual(before);
    expect(
      check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' ORDER BY name").all(),
    ).toEqual([{ name: "jobs_by_start" }, { name: "jobs_by_status" }, { name: "sqlite_autoindex_jobs_1" }]);
    check.close();
    // The new status is taken.
    const q = await s.ok<{ status: string }>("execute_command", {
      command: "true",
      after: ["33333333-0000-4000-8000-000000000007"],
      after_condition: "ended",
    });
    expect(["queued", "running", "completed"]).toContain(q.status);
  });

  it("a database from a newer version is refused with one line naming it", async () => {
    const state = newState();
    const { default: Database } = await import("libsql");
    const db = new Database(join(state, "state.db"));
    db.exec("PRAGMA user_version = 99");
    db.close();
    const r = await runCli(state, []);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/state\.db: it was made by a newer mcp-bg-jobs \(schema 99/);
  });

  it("after a reboot, a job's pid and start time name no process of it, even if they match one", async () => {
    const state = newState();
    const s = await server(state);
    // Two live processes of this test stand in for the job and its shepherd, start times and all.
    const stand = spawn("sleep", ["30"]);
    const pid = stand.pid as number;
    const { processStartTime } = await import("../../src/process/proc.js");
    const start = processStartTime(pid);
    const insert = (id: string, boot: string) =>
      sql(
        state,
        "INSERT INTO jobs (job_id, command, cwd, status, started_ms, pid, pid_start, shepherd_pid, shepherd_start, keep, boot_id) VALUES (?, 'x', '/', 'running', 1, ?, ?, ?, ?, 1, ?)",
        id,
        pid,
        start,
        pid,
        start,
        boot,
      );
    await insert("33333333-0000-4000-8000-000000000001", "an-earlier-boot");
    expect(await status(s, "33333333-0000-4000-8000-000000000001")).toMatchObject({ status: "failed", lost: true });
    expect(isAlive(pid)).toBe(true);
    stand.kill("SIGKILL");
  });
});

describe("second review round", () => {
  it("a taken-over start that never shows its processes is lost once the start grace has passed", async () => {
    const state = newState();
    const s = await server(state);
    const owner = deadPid();
    await waitFor(() => !isAlive(owner));
    const id = "44444444-0000-4000-8000-000000000001";
    // Started 8.5 s ago by a server that is gone; no pid file will ever come.
    await sql(
      state,
      "INSERT INTO jobs (job_id, command, cwd, status, started_ms, owner_pid, owner_start) VALUES (?, 'x', '/', 'running', ?, ?, 1)",
      id,
      Date.now() - 8500,
      owner,
    );
    expect(await status(s, id)).toMatchObject({ status: "running" });
    await waitFor(async () => (await status(s, id)).status !== "running", 8000);
    expect(await status(s, id)).toMatchObject({ status: "failed", lost: true });
    // Its slot is free again.
    await s.ok("execute_command", { command: "true" });
  });

  it("a start cut short is judged by the shepherd its record names: starting while it lives, lost at once when gone", async () => {
    const state = newState();
    const s = await server(state);
    const owner = deadPid();
    await waitFor(() => !isAlive(owner));
    // A process standing in for a shepherd that got the job but has not shown its processes yet.
    const standIn = spawn("sleep", ["300"]);
    const pid = standIn.pid as number;
    const start = Number(readFileSync(`/proc/${pid}/stat`, "latin1").split(") ")[1]?.split(" ")[19]);
    const live = "44444444-0000-4000-8000-000000000002";
    const gone = "44444444-0000-4000-8000-000000000003";
    const insert = (id: string, shepherd: number, shepherdStart: number) =>
      sql(
        state,
        "INSERT INTO jobs (job_id, command, cwd, status, started_ms, owner_pid, owner_start, shepherd_pid, shepherd_start) VALUES (?, 'x', '/', 'running', ?, ?, 1, ?, ?)",
        id,
        Date.now(),
        owner,
        shepherd,
        shepherdStart,
      );
    await insert(live, pid, start);
    // Its shepherd is gone (a pid that is no process, or another process by now): no grace to wait out.
    await insert(gone, deadPid(), 12345);
    expect(await status(s, gone)).toMatchObject({ status: "failed", lost: true });
    expect(await status(s, live)).toMatchObject({ status: "running" });
    standIn.kill("SIGKILL");
    await waitFor(async () => (await status(s, live)).status !== "running", 5000);
    expect(await status(s, live)).toMatchObject({ status: "failed", lost: true });
  });

  it("the leftovers of a taken-over job end at the taking server's stop", async () => {
    const state = newState();
    const m = mark();
    const a = await server(state);
    await a.ok<Status>("execute_command", { command: `setsid ${markedLoop(m)} & sleep 300` });
    await waitFor(() => processesMatching(m).length === 1);
    await crash(a);
    const b = await server(state);
    await waitFor(async () => (await b.ok<{ jobs: Status[] }>("list_jobs", {})).jobs[0]?.status === "running");
    b.transport.close();
    await waitFor(() => !isAlive(b.pid), 10_000);
    expect(processesMatching(m)).toEqual([]);
  });

  it("a pid file naming pid 1 is not believed", async () => {
    const state = newState();
    const a = await server(state);
    const job = await a.ok<Status>("execute_command", { command: "sleep 300" });
    await crash(a);
    const dir = join(state, "jobs", job.job_id);
    const shepherd = Number(readFileSync(join(dir, "pid"), "utf8").split(" ")[2]);
    process.kill(shepherd, "SIGKILL");
    process.kill(-(job.pid as number), "SIGKILL");
    writeFileSync(join(dir, "pid"), "1 2 3 4\n");
    await sql(
      state,
      "UPDATE jobs SET pid = NULL, pid_start = NULL, shepherd_pid = NULL, shepherd_start = NULL, started_ms = ?",
      Date.now() - 60_000,
    );
    const b = await server(state);
    const st = await status(b, job.job_id);
    expect(st).toMatchObject({ status: "failed", lost: true });
    expect(st.pid).not.toBe(1);
    expect(isAlive(1)).toBe(true);
  });

  it("a FIFO in place of a ring file does not hang a read", async () => {
    const state = newState();
    const s = await server(state);
    const job = await s.ok<Status>("execute_command", { command: "echo hi" });
    await s.ok("wait_for_job", { job_id: job.job_id });
    const stdout = join(state, "jobs", job.job_id, "stdout");
    rmSync(stdout);
    const { execFileSync } = await import("node:child_process");
    execFileSync("mkfifo", [stdout]);
    expect(await s.ok("get_job_output", { job_id: job.job_id })).toMatchObject({ stdout: "" });
    expect(await s.ok("tail_job_output", { job_id: job.job_id })).toMatchObject({ stdout: "" });
    const r = await runCli(state, ["logs", job.job_id]);
    expect(r.code).toBe(0);
  });

  it("waiting for a line of a job that prints faster than it can be scanned does not hold the server", async () => {
    const state = newState();
    const s = await server(state);
    const job = await s.ok<Status>("execute_command", { command: "seq 1 1000000000" });
    const waiting = s.ok("wait_for_job", { job_id: job.job_id, until: "^never$", timeout_seconds: 4 });
    await new Promise((r) => setTimeout(r, 500));
    // Other requests are answered meanwhile (before the fix: not for the whole run of the job).
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      await s.ok("list_jobs", {});
      expect(Date.now() - t0).toBeLessThan(1500);
    }
    expect(await waiting).toMatchObject({ matched: false, timed_out: true });
    await s.ok("kill_job", { job_id: job.job_id, grace_seconds: 1 });
  });
});

describe("a full disk", () => {
  it("output that cannot be stored is dropped and said so; reading never loops", async (ctx) => {
    const state = newState();
    const { execFileSync } = await import("node:child_process");
    try {
      // A 1 MB file system to fill (needs root and a kernel that lets it mount tmpfs here).
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", state], { stdio: "ignore" });
    } catch {
      ctx.skip();
    }
    try {
      const s = await server(state);
      const job = await s.ok<Status>("execute_command", { command: "seq 1 1000000" });
      expect(await s.ok("wait_for_job", { job_id: job.job_id, timeout_seconds: 45 })).toMatchObject({
        status: "completed",
      });
      const out = await s.ok<{ stdout: string; cursor: string }>("get_job_output", { job_id: job.job_id });
      expect(out.stdout).toMatch(/could not be stored \(the disk was full\)/);
      // Paging from the start ends: every page moves the cursor on, the last says nothing follows.
      let cursor = "0:0";
      for (let page = 0; ; page++) {
        expect(page).toBeLessThan(100);
        const r = await s.ok<{ stdout: string; cursor: string }>("get_job_output", {
          job_id: job.job_id,
          since: cursor,
        });
        if (r.cursor === cursor) break;
        cursor = r.cursor;
        if (!r.stdout.includes("more bytes follow")) break;
      }
      const tail = await s.ok<{ stdout: string }>("tail_job_output", { job_id: job.job_id, lines: 2 });
      expect(tail.stdout.trim().split("\n").length).toBeGreaterThan(0);
      await crash(s);
    } finally {
      execFileSync("umount", ["-l", state]);
    }
  });
});

describe("a disk that fills up while a job runs", () => {
  it("loses no status: every view agrees on the end, which is recorded once there is room, and survives a restart", async (ctx) => {
    const state = newState();
    const { execFileSync } = await import("node:child_process");
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", state], { stdio: "ignore" });
    } catch {
      ctx.skip();
    }
    try {
      const s = await server(state);
      const job = await s.ok<Status>("execute_command", { command: "read x; exit 3" });
      // Fill the disk to the last block: the database can no longer record anything.
      try {
        execFileSync("dd", ["if=/dev/zero", `of=${join(state, "fill")}`, "bs=4k"], { stdio: "ignore" });
      } catch {} // "No space left on device" is the point
      await s.ok("interact_with_job", { job_id: job.job_id, input: "go", wait_ms: 500 });
      expect(await s.ok("wait_for_job", { job_id: job.job_id, timeout_seconds: 45 })).toMatchObject({
        status: "failed",
        exit_code: 3,
      });
      const views = async () => ({
        status: (await status(s, job.job_id)).status,
        list: (await s.ok<{ jobs: Status[] }>("list_jobs", {})).jobs[0]?.status,
        listFailed: (await s.ok<{ total: number }>("list_jobs", { status: "failed" })).total === 1 ? "failed" : "other",
        listRunning: (await s.ok<{ total: number }>("list_jobs", { status: "running" })).total,
        cli: /failed\s+3\s/.test((await runCli(state, ["list"])).stdout) ? "failed" : "other",
        cliStatus: JSON.parse((await runCli(state, ["status", job.job_id, "--json"])).stdout).status,
      });
      expect(await views()).toEqual({
        status: "failed",
        list: "failed",
        listFailed: "failed",
        listRunning: 0,
        cli: "failed",
        cliStatus: "failed",
      });
      // Its end is in its exit file (room for it was taken at the start), whole.
      expect(readFileSync(join(state, "jobs", job.job_id, "exit"), "latin1")).toMatch(/^3 0 \d+\n$/);
      // Room again: the server records the end it could not record before.
      rmSync(join(state, "fill"));
      const recorded = async () => {
        const { default: Database } = await import("libsql");
        const db = new Database(join(state, "state.db"));
        try {
          return (db.prepare("SELECT status, exit_code FROM jobs WHERE job_id = ?").get(job.job_id) as Status).status;
        } finally {
          db.close();
        }
      };
      await waitFor(async () => (await recorded()) === "failed", 10_000);
      await crash(s);
      const again = await server(state);
      expect(await status(again, job.job_id)).toMatchObject({ status: "failed", exit_code: 3, lost: false });
      expect(JSON.parse((await runCli(state, ["prune", "--json"])).stdout)).toEqual({ removed: 1 });
      await crash(again);
    } finally {
      execFileSync("umount", ["-l", state]);
    }
  });

  it("a job that cannot have its files (the disk is already full) does not start, and says why", async (ctx) => {
    const state = newState();
    const { execFileSync } = await import("node:child_process");
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", state], { stdio: "ignore" });
    } catch {
      ctx.skip();
    }
    try {
      const s = await server(state);
      try {
        execFileSync("dd", ["if=/dev/zero", `of=${join(state, "fill")}`, "bs=4k"], { stdio: "ignore" });
      } catch {}
      expect(await s.error("execute_command", { command: "echo hi" })).toMatch(/Could not start|space|disk/i);
      await crash(s);
    } finally {
      execFileSync("umount", ["-l", state]);
    }
  });
});

describe("a server started inside a job", () => {
  it("does not pass the outer job's id to its own jobs' shepherds", async () => {
    const state = newState();
    const s = await server(state, { env: { MCP_BG_JOB_ID: "outer-job-id" } });
    const job = await s.ok<Status>("execute_command", { command: "sleep 5" });
    const shepherd = Number(readFileSync(join(state, "jobs", job.job_id, "pid"), "utf8").split(" ")[2]);
    expect(readFileSync(`/proc/${shepherd}/environ`, "latin1")).not.toContain("outer-job-id");
    await s.ok("kill_job", { job_id: job.job_id, grace_seconds: 1 });
  });
});
