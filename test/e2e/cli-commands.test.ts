import { spawn } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, cleanEnv, type Harness, runCli, startServer } from "../support/harness.js";
import { isAlive, markedLoop, marker, processesMatching, tempDir, waitFor } from "../support/helpers.js";

type Status = { job_id: string; status: string; exit_code: number | null };

describe("the command line for people, on a server's state", () => {
  let s: Harness;
  let state: string;
  let done: Status;
  let failed: Status;
  const mark = marker();

  beforeAll(async () => {
    s = await startServer();
    state = s.stateDir;
    done = await s.ok<Status>("execute_command", {
      command: "for i in 1 2 3 4 5; do echo line $i; done; printf '\\033[31mred\\033[0m\\n'; echo oops >&2",
      name: "five lines",
    });
    failed = await s.ok<Status>("execute_command", { command: "exit 4" });
    await s.ok("wait_for_job", { job_id: done.job_id });
    await s.ok("wait_for_job", { job_id: failed.job_id });
  });
  afterAll(async () => {
    for (const pid of processesMatching(mark)) process.kill(pid, "SIGKILL");
    await s.close();
  });

  it("list: a table of jobs, newest first, while the server runs", async () => {
    const r = await runCli(state, ["list"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+EXIT\s+STARTED\s+TIME\s+COMMAND$/);
    expect(lines[1]).toMatch(new RegExp(`^${failed.job_id.slice(0, 8)}\\s+failed\\s+4\\s`));
    expect(lines[2]).toMatch(new RegExp(`^${done.job_id.slice(0, 8)}\\s+completed\\s+0\\s.*five lines: for i in`));
  });

  it("list and status show a job's name, command and cwd with its terminal controls escaped, never obeyed", async () => {
    // A window title (OSC 0), a clipboard write (OSC 52), clear screen, a one-byte CSI, a bell, a
    // right-to-left override, and newlines that would forge a row or a field.
    const evil = "\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\x1b[2J\x9b31m\u202e\nFORGED  running";
    const dir = join(state, `cwd\x1b[31m-${marker()}`);
    mkdirSync(dir);
    const job = await s.ok<Status>("execute_command", { command: `true '${evil}'`, name: evil, cwd: dir });
    await s.ok("wait_for_job", { job_id: job.job_id });
    for (const args of [["list"], ["status", job.job_id]]) {
      const r = await runCli(state, args);
      expect(r.code).toBe(0);
      // Nothing a terminal acts on but the newlines that end our own rows.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: no control character may be printed
      expect(r.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/);
      expect(r.stdout).toContain("\\e]0;pwned\\x07");
      expect(r.stdout).toContain("\\x9b31m\\u202e");
      expect(r.stdout.split("\n").filter((l) => l.startsWith("FORGED"))).toEqual([]);
    }
    expect((await runCli(state, ["status", job.job_id])).stdout).toContain("cwd\\e[31m-");
  });

  it("list --json and --status", async () => {
    const r = await runCli(state, ["list", "--json", "--status", "failed"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ jobs: [{ job_id: failed.job_id, exit_code: 4 }], total: 1 });
    expect((await runCli(state, ["list", "--status", "killed"])).stdout).toBe("No killed jobs.\n");
  });

  it("status by an ID prefix of 8 characters, in words and in JSON", async () => {
    const r = await runCli(state, ["status", done.job_id.slice(0, 8)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`job:\\s+${done.job_id}`));
    expect(r.stdout).toMatch(/status:\s+completed/);
    expect(r.stdout).toMatch(/outcome:\s+exited with code 0 \(success\)/);
    const j = await runCli(state, ["status", failed.job_id, "--json"]);
    expect(JSON.parse(j.stdout)).toMatchObject({ job_id: failed.job_id, status: "failed", exit_code: 4, lost: false });
  });

  it("logs: the job's bytes as printed, each stream to its own; --tail N; --json cleaned", async () => {
    const r = await runCli(state, ["logs", done.job_id.slice(0, 10)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("line 1\nline 2\nline 3\nline 4\nline 5\n\x1b[31mred\x1b[0m\n");
    expect(r.stderr).toBe("oops\n");
    const t = await runCli(state, ["logs", done.job_id, "--tail", "2"]);
    expect(t.stdout).toBe("line 5\n\x1b[31mred\x1b[0m\n");
    expect(await runCli(state, ["logs", done.job_id, "--tail", "0"])).toMatchObject({
      code: 0,
      stdout: "",
      stderr: "",
    });
    const j = await runCli(state, ["logs", done.job_id, "--json", "--tail", "1"]);
    expect(JSON.parse(j.stdout)).toEqual({
      job_id: done.job_id,
      status: "completed",
      stdout: "red\n",
      stderr: "oops\n",
    });
  });

  it("logs --follow streams until the job ends, then exits 0", async () => {
    // The job goes on only once the follower has shown its first line: it must arrive as printed.
    const flag = join(state, `${marker()}.go`);
    const job = await s.ok<Status>("execute_command", {
      command: `echo start; while [ ! -e ${flag} ]; do sleep 0.05; done; echo middle; sleep 0.2; echo end`,
    });
    const child = spawn(process.execPath, [BIN, "logs", job.job_id, "--follow"], {
      env: { ...cleanEnv(), MCP_BG_STATE_DIR: state },
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
      if (out.includes("start")) writeFileSync(flag, "");
    });
    const code = await new Promise((r) => child.on("close", r));
    expect(code).toBe(0);
    expect(out).toBe("start\nmiddle\nend\n");
  });

  it("kill: ends a running job and its tree; the server sees it killed", async () => {
    const job = await s.ok<Status>("execute_command", { command: `setsid ${markedLoop(mark)} & sleep 300` });
    await waitFor(() => processesMatching(mark).length === 1);
    // A grace in fractions of a second, as kill_job takes it.
    const r = await runCli(state, ["kill", job.job_id.slice(0, 8), "--grace", "0.2"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`killed ${job.job_id}\n`);
    expect(processesMatching(mark)).toEqual([]);
    expect(await s.ok("get_job_status", { job_id: job.job_id })).toMatchObject({ status: "killed" });
    const again = await runCli(state, ["kill", job.job_id, "--json"]);
    expect(JSON.parse(again.stdout)).toEqual({ job_id: job.job_id, status: "already_terminated" });
  });

  it("exit codes: 1 for an unknown or too short ID, 2 for bad usage", async () => {
    const unknown = await runCli(state, ["status", "ffffffff-0000"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/Job ffffffff-0000 not found/);
    const short = await runCli(state, ["logs", done.job_id.slice(0, 7)]);
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/8\+ characters/);
    const usage = await runCli(state, ["list", "--status", "sleeping"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/usage: mcp-bg-jobs list/);
    expect((await runCli(state, ["status"])).code).toBe(2);
    expect((await runCli(state, ["logs", done.job_id, "--tail", "x"])).code).toBe(2);
    expect((await runCli(state, ["list", "--bogus", "1"])).code).toBe(2);
  });
});

describe("the command line without a server", () => {
  it("sees, follows and kills jobs kept from a server that stopped, and prunes finished ones", async () => {
    const mark = marker();
    const st = tempDir("mcp-bg-state-");
    const s = await startServer({ stateDir: st.path, args: ["--keep-jobs"] });
    const kept = await s.ok<Status>("execute_command", { command: `echo kept; ${markedLoop(mark)}` });
    const finished = await s.ok<Status>("execute_command", { command: "echo finished" });
    await s.ok("wait_for_job", { job_id: finished.job_id });
    s.transport.close();
    await waitFor(() => !isAlive(s.pid), 10_000);

    const list = JSON.parse((await runCli(st.path, ["list", "--json"])).stdout);
    expect(list.jobs.map((j: Status) => [j.job_id, j.status])).toEqual([
      [finished.job_id, "completed"],
      [kept.job_id, "running"],
    ]);
    expect((await runCli(st.path, ["logs", kept.job_id])).stdout).toBe("kept\n");
    // A follower ends when the job is killed by someone else.
    const follower = runCli(st.path, ["logs", kept.job_id, "-f"]);
    await new Promise((r) => setTimeout(r, 300));
    expect((await runCli(st.path, ["kill", kept.job_id, "--grace", "1"])).code).toBe(0);
    expect(processesMatching(mark)).toEqual([]);
    expect(await follower).toMatchObject({ code: 0, stdout: "kept\n" });

    const pruned = await runCli(st.path, ["prune"]);
    expect(pruned).toMatchObject({ code: 0, stdout: "Removed 2 finished jobs and their output.\n" });
    expect(JSON.parse((await runCli(st.path, ["list", "--json"])).stdout)).toEqual({ jobs: [], total: 0 });
    await s.close();
    st.remove();
  });

  it("an ambiguous prefix is refused, naming the candidates", async () => {
    const st = tempDir("mcp-bg-state-");
    const s = await startServer({ stateDir: st.path });
    await s.close();
    const { default: Database } = await import("libsql");
    const db = new Database(join(st.path, "state.db"));
    for (const id of ["abcdef12-0000-4000-8000-000000000001", "abcdef12-0000-4000-8000-000000000002"]) {
      db.prepare(
        "INSERT INTO jobs (job_id, command, cwd, status, started_ms, completed_ms, exit_code) VALUES (?, 'true', '/', 'completed', 1, 2, 0)",
      ).run(id);
      mkdirSync(join(st.path, "jobs", id));
    }
    db.close();
    const r = await runCli(st.path, ["status", "abcdef12"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ambiguous.*abcdef12-0000-4000-8000-000000000001.*000000000002/);
    expect((await runCli(st.path, ["status", "abcdef12-0000-4000-8000-000000000002"])).code).toBe(0);
    st.remove();
  });
});

describe("a state dir that cannot be used", () => {
  it("one the user may not write: one line naming the path and saying why", async () => {
    const st = tempDir("mcp-bg-state-");
    const s = await startServer({ stateDir: st.path });
    await s.close();
    // Owned by another user, open to its owner only: refused to this one (see runCli's unprivileged).
    const asRoot = process.getuid?.() === 0;
    if (asRoot) chownSync(st.path, 65534, 65534);
    chmodSync(st.path, asRoot ? 0o700 : 0o500);
    for (const args of [[], ["list"]]) {
      const r = await runCli(st.path, args, {}, { unprivileged: true });
      expect(r.code).toBe(args.length ? 1 : 2);
      expect(r.stderr).toMatch(new RegExp(`^mcp-bg-jobs.*: cannot use the state dir ${st.path}: permission denied`));
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
    // The database file itself.
    chmodSync(st.path, 0o777);
    if (asRoot) chownSync(join(st.path, "state.db"), 65534, 65534);
    else chmodSync(join(st.path, "state.db"), 0o400);
    chmodSync(join(st.path, "state.db"), asRoot ? 0o600 : 0o400);
    const db = await runCli(st.path, ["list"], {}, { unprivileged: true });
    expect(db.stderr).toMatch(/cannot use the state database .*state\.db: permission denied/);
    chmodSync(st.path, 0o700);
    st.remove();
  });

  const cases: [string, (dir: string) => void][] = [
    ["a corrupt database file", (dir) => writeFileSync(join(dir, "state.db"), Buffer.alloc(8192, "garbage!"))],
    ["a database path that is a directory", (dir) => mkdirSync(join(dir, "state.db"))],
    ["a state dir that is a file", (dir) => writeFileSync(join(dir, "state-file"), "x")],
  ];
  for (const [what, spoil] of cases) {
    it(`${what}: the server exits 2 and the command line 1, each with one line naming the path`, async () => {
      const st = tempDir("mcp-bg-state-");
      spoil(st.path);
      const dir = what.includes("is a file") ? join(st.path, "state-file") : st.path;
      const server = await runCli(dir, []);
      expect(server.code).toBe(2);
      expect(server.stderr.trim().split("\n")).toHaveLength(1);
      expect(server.stderr).toContain(dir);
      expect(server.stderr).not.toMatch(/\n\s+at /);
      const cli = await runCli(dir, ["list"]);
      expect(cli.code).toBe(1);
      expect(cli.stderr.trim().split("\n")).toHaveLength(1);
      expect(cli.stderr).toContain(dir);
      st.remove();
    });
  }
});
