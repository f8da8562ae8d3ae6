import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Harness, runCli, startServer } from "../support/harness.js";
import { freePort, marker, processesMatching, tempDir, waitFor } from "../support/helpers.js";

// Issue 25: a queue, an order (after), restarts, and health at a glance, through the built server,
// with two servers on one state dir and across a SIGKILL of the server.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dir(prefix = "mcp-bg-sup-"): string {
  const d = tempDir(prefix);
  cleanups.push(() => d.remove());
  return d.path;
}

async function server(stateDir: string, env: Record<string, string> = {}): Promise<Harness> {
  const s = await startServer({ stateDir, env });
  cleanups.push(() => s.close());
  return s;
}

type Status = {
  job_id: string;
  status: string;
  name: string | null;
  pid: number | null;
  started: string;
  exit_code: number | null;
  outcome?: string;
  hint?: string;
  restarts: number;
  last_exit: { exit_code: number | null; signal: string | null } | null;
  next_start_at: string | null;
  ready_at: string | null;
  last_output_at: string | null;
  place_in_queue: number | null;
  after: string[];
  not_started?: string;
};
type Row = { job_id: string; status: string; ready?: boolean | null; restarts?: number };

const status = (s: Harness, id: string) => s.ok<Status>("get_job_status", { job_id: id });
const start = async (s: Harness, args: Record<string, unknown>) =>
  (await s.ok<{ job_id: string; status: string; pid: number | null }>("execute_command", args)).job_id;
const until = (s: Harness, id: string, pred: (st: Status) => boolean) =>
  waitFor(async () => {
    const st = await status(s, id);
    return pred(st) ? st : undefined;
  }, 60_000);

// The most jobs of a log that were between their `s` and `e` lines at once.
function mostAtOnce(log: string): number {
  let now = 0;
  let most = 0;
  for (const line of log.split("\n")) {
    if (line.startsWith("s ")) most = Math.max(most, ++now);
    if (line.startsWith("e ")) now--;
  }
  return most;
}

// A command that fails its first `fails` runs (counted in `file`), then prints `holding` and stays.
const crashThenHold = (file: string, fails: number, hold = "sleep 300") =>
  `n=$(cat ${file} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${file}; echo "run $n"; if [ $n -le ${fails} ]; then echo "crash $n" >&2; exit 3; fi; echo holding; ${hold}`;

describe("a queue", () => {
  it("20 jobs on a limit of 3, started through two servers, run first in first out, never more than 3 at once", async () => {
    const state = dir("mcp-bg-state-");
    const work = dir();
    const env = { MCP_BG_MAX_JOBS: "3", MCP_BG_QUEUE: "1" };
    const a = await server(state, env);
    const b = await server(state, env);
    const log = join(work, "log");
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      ids.push(await start(i % 2 ? b : a, { command: `echo "s ${i}" >> ${log}; sleep 0.2; echo "e ${i}" >> ${log}` }));
    }
    const first = await status(a, ids[19] as string);
    expect(first.status).toBe("queued");
    expect(first.place_in_queue).toBeGreaterThan(0);
    expect(first.hint).toMatch(/Queued/);
    const queued = await a.ok<{ jobs: Row[]; total: number }>("list_jobs", { status: "queued" });
    expect(queued.jobs.every((j) => j.status === "queued")).toBe(true);
    // A wait on the last one waits through the queue.
    const waited = await b.ok<{ status: string }>("wait_for_job", { job_id: ids[19], timeout_seconds: 120 });
    expect(waited.status).toBe("completed");
    const all = await Promise.all(ids.map((id) => status(a, id)));
    expect(all.map((j) => j.status)).toEqual(ids.map(() => "completed"));
    expect(mostAtOnce(readFileSync(log, "utf8"))).toBeLessThanOrEqual(3);
    expect(
      readFileSync(log, "utf8")
        .split("\n")
        .filter((l) => l.startsWith("s ")).length,
    ).toBe(20);
    // Let go in the order they came: each one's start (SQLite's clock, under its write lock) is no
    // earlier than the one before it.
    const starts = all.map((j) => Date.parse(j.started));
    for (let i = 1; i < starts.length; i++) expect(starts[i]).toBeGreaterThanOrEqual(starts[i - 1] as number);
  }, 180_000);

  it("keeps a job's env in the state database only when the job may start later", async () => {
    const state = dir("mcp-bg-state-");
    const s = await server(state);
    const plain = await start(s, { command: "echo $S", env: { S: "plain-secret" }, wait_seconds: 10 });
    const queued = await start(s, { command: "echo $S", env: { S: "queued-secret" }, queue: true, wait_seconds: 10 });
    expect((await s.ok<{ stdout: string }>("get_job_output", { job_id: plain })).stdout).toBe("plain-secret\n");
    expect((await s.ok<{ stdout: string }>("get_job_output", { job_id: queued })).stdout).toBe("queued-secret\n");
    const { default: Database } = await import("libsql");
    const db = new Database(join(state, "state.db"), { readonly: true });
    const plans = db.prepare("SELECT job_id, plan FROM jobs").all() as { job_id: string; plan: string }[];
    db.close();
    expect(plans.find((p) => p.job_id === plain)?.plan).not.toContain("plain-secret");
    expect(plans.find((p) => p.job_id === queued)?.plan).toContain("queued-secret");
  });

  it("kill_job takes a queued job out: it never runs, and the queue goes on", async () => {
    const state = dir("mcp-bg-state-");
    const work = dir();
    const s = await server(state, { MCP_BG_MAX_JOBS: "1" });
    const m = marker();
    const blocker = await start(s, { command: `sleep 300 # ${m}` });
    const out = join(work, "ran");
    const queued = await start(s, { command: `touch ${out}`, queue: true });
    const next = await start(s, { command: "echo next", queue: true });
    expect((await status(s, queued)).place_in_queue).toBe(1);
    expect((await status(s, next)).place_in_queue).toBe(2);
    // One waiting for another job (not for a slot) is taken out the same way.
    const waiting = await start(s, { command: `touch ${out}`, after: [blocker] });
    expect(await status(s, waiting)).toMatchObject({ status: "queued", place_in_queue: null, after: [blocker] });
    expect(await s.ok("kill_job", { job_id: waiting })).toEqual({ status: "killed" });
    expect(await s.ok("kill_job", { job_id: queued })).toEqual({ status: "killed" });
    expect(await status(s, queued)).toMatchObject({ status: "killed", pid: null });
    expect(await s.ok("kill_job", { job_id: queued })).toEqual({ status: "already_terminated" });
    expect((await status(s, next)).place_in_queue).toBe(1);
    expect(await s.ok("kill_job", { job_id: blocker, grace_seconds: 1 })).toEqual({ status: "killed" });
    await until(s, next, (j) => j.status === "completed");
    expect(existsSync(out)).toBe(false);
    expect(processesMatching(m)).toEqual([]);
    // Without queueing, the limit still refuses, saying how to queue.
    const again = await start(s, { command: `sleep 300 # ${m}` });
    expect(await s.error("execute_command", { command: "true" })).toMatch(/Job limit reached.*queue: true/);
    await s.ok("kill_job", { job_id: again, grace_seconds: 1 });
  }, 90_000);
});

describe("an order", () => {
  it("build -> test -> deploy: a failed build ends the other two failed, saying why, without running them", async () => {
    const state = dir("mcp-bg-state-");
    const work = dir();
    const s = await server(state);
    const m = marker();
    const build = await start(s, { command: `sleep 0.5; echo compiling; exit 2 # ${m}`, name: "build" });
    const test = await start(s, { command: `touch ${join(work, "tested")}`, name: "test", after: [build] });
    const deploy = await start(s, { command: `touch ${join(work, "deployed")}`, name: "deploy", after: [test] });
    expect(await status(s, test)).toMatchObject({ status: "queued", after: [build] });
    const t = await until(s, test, (j) => j.status !== "queued");
    const d = await until(s, deploy, (j) => j.status !== "queued");
    expect(t).toMatchObject({ status: "failed", pid: null, exit_code: null });
    expect(t.outcome).toMatch(/not started: build \([0-9a-f]{8}\), which it comes after, failed: exited with code 2/);
    expect(d.status).toBe("failed");
    expect(d.outcome).toMatch(/not started: test \([0-9a-f]{8}\), which it comes after, failed: not started/);
    expect(existsSync(join(work, "tested")) || existsSync(join(work, "deployed"))).toBe(false);
  }, 60_000);

  it("a chain that succeeds runs in order; `ended` goes on after a failure; an unknown id is refused before anything starts", async () => {
    const state = dir("mcp-bg-state-");
    const work = dir();
    const s = await server(state);
    const log = join(work, "log");
    const one = await start(s, { command: `sleep 0.3; echo one >> ${log}; exit 1` });
    const two = await start(s, { command: `echo two >> ${log}`, after: [one], after_condition: "ended" });
    const three = await start(s, { command: `echo three >> ${log}`, after: [two] });
    // Jobs waiting for others hold no slot: a queued start behind them goes at once.
    const free = await s.ok<{ status: string; pid: number | null }>("execute_command", {
      command: "true",
      queue: true,
    });
    expect(free.status).not.toBe("queued");
    expect(free.pid).not.toBeNull();
    await until(s, three, (j) => j.status === "completed");
    expect(readFileSync(log, "utf8")).toBe("one\ntwo\nthree\n");
    const total = (await s.ok<{ total: number }>("list_jobs", {})).total;
    expect(await s.error("execute_command", { command: "true", after: ["no-such-job"] })).toMatch(
      /after: job no-such-job not found/,
    );
    expect(await s.error("execute_command", { command: "true", after: [one], after_condition: "ready" })).toMatch(
      /no readiness probe/,
    );
    expect((await s.ok<{ total: number }>("list_jobs", {})).total).toBe(total);
  }, 60_000);

  it("a web server starts once its database's port is ready (ready_at), and list rows say ready", async () => {
    const state = dir("mcp-bg-state-");
    const s = await server(state);
    const port = await freePort();
    const m = marker();
    // The database listens after a second; its start does not wait (wait_seconds 0.1), but its
    // wait_port is its readiness probe.
    const db = await start(s, {
      command: `sleep 1; exec python3 -m http.server ${port} --bind 127.0.0.1 # ${m}`,
      name: "db",
      wait_port: port,
      wait_seconds: 0.1,
    });
    const web = await start(s, {
      command: `python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:${port}/").status)'`,
      name: "web",
      after: [db],
      after_condition: "ready",
    });
    const w = await until(s, web, (j) => j.status !== "queued" && j.status !== "running");
    expect(w).toMatchObject({ status: "completed", exit_code: 0 });
    const d = await status(s, db);
    expect(d.ready_at).not.toBeNull();
    expect(Date.parse(w.started)).toBeGreaterThanOrEqual(Date.parse(d.ready_at as string));
    expect((await s.ok<{ stdout: string }>("get_job_output", { job_id: web })).stdout).toBe("200\n");
    const rows = (await s.ok<{ jobs: Row[] }>("list_jobs", {})).jobs;
    expect(rows.find((r) => r.job_id === db)?.ready).toBe(true);
    expect(rows.find((r) => r.job_id === web)).not.toHaveProperty("ready");
    await s.ok("kill_job", { job_id: db, grace_seconds: 1 });
    expect(processesMatching(m)).toEqual([]);
  }, 60_000);
});

describe("restarts", () => {
  it("a job that crashes three times comes back each time, in the same output, and then holds", async () => {
    const state = dir("mcp-bg-state-");
    const work = dir();
    const s = await server(state);
    const m = marker();
    const id = await start(s, {
      command: `${crashThenHold(join(work, "n"), 3, `sleep 300 # ${m}`)}`,
      restart: "on-failure",
    });
    const r = await s.ok<{ matched: boolean }>("wait_for_job", { job_id: id, until: "^holding", timeout_seconds: 120 });
    expect(r.matched).toBe(true);
    const st = await status(s, id);
    expect(st).toMatchObject({ status: "running", restarts: 3, last_exit: { exit_code: 3, signal: null } });
    expect(st.last_output_at).not.toBeNull();
    const out = await s.ok<{ stdout: string; stderr: string }>("get_job_output", { job_id: id });
    expect(out.stdout).toBe(
      [
        "run 1",
        "[mcp-bg-jobs: restart 1 of 5 after exit code 3]",
        "run 2",
        "[mcp-bg-jobs: restart 2 of 5 after exit code 3]",
        "run 3",
        "[mcp-bg-jobs: restart 3 of 5 after exit code 3]",
        "run 4",
        "holding",
        "",
      ].join("\n"),
    );
    expect(out.stderr).toContain("crash 3\n[mcp-bg-jobs: restart 3 of 5 after exit code 3]\n");
    expect((await s.ok<{ jobs: Row[] }>("list_jobs", {})).jobs[0]).toMatchObject({ job_id: id, restarts: 3 });
    // kill_job stops it for good.
    expect(await s.ok("kill_job", { job_id: id, grace_seconds: 1 })).toEqual({ status: "killed" });
    expect(processesMatching(m)).toEqual([]);
    expect((await status(s, id)).status).toBe("killed");
  }, 120_000);

  it("stops after max_restarts, ending as its last run did; `always` restarts a success too", async () => {
    const state = dir("mcp-bg-state-");
    const work = dir();
    const s = await server(state);
    const id = await start(s, { command: "echo try; exit 4", restart: "always", max_restarts: 2 });
    const st = await until(s, id, (j) => j.status === "failed");
    expect(st).toMatchObject({ restarts: 2, exit_code: 4 });
    const out = await s.ok<{ stdout: string }>("get_job_output", { job_id: id });
    expect(out.stdout.match(/^try$/gm)?.length).toBe(3);
    const ok = await start(s, { command: `echo x >> ${join(work, "ok")}`, restart: "always", max_restarts: 1 });
    expect(await until(s, ok, (j) => j.status === "completed")).toMatchObject({ restarts: 1 });
    expect(readFileSync(join(work, "ok"), "utf8")).toBe("x\nx\n");
  }, 60_000);

  it("kill_job of a job waiting to restart ends it for good", async () => {
    const state = dir("mcp-bg-state-");
    const work = dir();
    const s = await server(state);
    const count = join(work, "n");
    const id = await start(s, { command: crashThenHold(count, 100), restart: "always" });
    const waiting = await until(s, id, (j) => j.status === "queued" && j.restarts >= 1);
    expect(waiting.next_start_at).not.toBeNull();
    expect(await s.ok("kill_job", { job_id: id })).toEqual({ status: "killed" });
    const runs = readFileSync(count, "utf8");
    // Its restart is off the record (a queued job goes only while its record says queued).
    expect(await status(s, id)).toMatchObject({ status: "killed", next_start_at: null });
    // A job started now runs to its end: the server's queue has had its turn since.
    const probe = await start(s, { command: "true" });
    await until(s, probe, (j) => j.status === "completed");
    expect(readFileSync(count, "utf8")).toBe(runs);
    expect((await status(s, id)).status).toBe("killed");
  }, 60_000);
});

describe("across a SIGKILL of the server", () => {
  it("queued, ordered and restarting jobs carry on under the next server", async () => {
    const state = dir("mcp-bg-state-");
    const work = dir();
    const env = { MCP_BG_MAX_JOBS: "1" };
    const a = await server(state, env);
    const log = join(work, "log");
    const first = await start(a, { command: `sleep 1; echo first >> ${log}` });
    const second = await start(a, { command: `echo second $X >> ${log}`, queue: true, env: { X: "x" } });
    const third = await start(a, { command: `echo third >> ${log}`, after: [second] });
    const restarting = await start(a, {
      command: crashThenHold(join(work, "n"), 2, "exit 0"),
      restart: "on-failure",
      queue: true,
    });
    expect((await status(a, second)).status).toBe("queued");
    process.kill(a.pid, "SIGKILL");
    await waitFor(() => {
      try {
        process.kill(a.pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    const b = await server(state, env);
    await until(b, third, (j) => j.status === "completed");
    expect(readFileSync(log, "utf8")).toBe("first\nsecond x\nthird\n");
    expect((await status(b, first)).status).toBe("completed");
    const r = await until(b, restarting, (j) => j.status === "completed");
    expect(r.restarts).toBe(2);
    const out = await b.ok<{ stdout: string }>("get_job_output", { job_id: restarting });
    expect(out.stdout).toContain("[mcp-bg-jobs: restart 2 of 5 after exit code 3]\nrun 3\nholding\n");
  }, 120_000);

  it("an end first seen in a look at a dead server's job is written down all the same: its slot frees", async () => {
    const state = dir("mcp-bg-state-");
    const b = await server(state, { MCP_BG_MAX_JOBS: "1" });
    const a = await server(state);
    const id = await start(a, { command: "sleep 0.3" });
    process.kill(a.pid, "SIGKILL");
    // Looked at once it has ended, before the owner check has settled it (it looks every 2 s).
    await waitFor(async () => (await status(b, id)).status === "completed");
    // Queued behind it: it starts only once the end is written down (the state dir's count).
    const next = await start(b, { command: "true", queue: true });
    await until(b, next, (j) => j.status === "completed");
    const { default: Database } = await import("libsql");
    const db = new Database(join(state, "state.db"), { readonly: true });
    expect(db.prepare("SELECT status FROM jobs WHERE job_id = ?").get(id)).toMatchObject({ status: "completed" });
    db.close();
  }, 60_000);

  it("a restart happens when the server that started the job is gone", async () => {
    const state = dir("mcp-bg-state-");
    const work = dir();
    const a = await server(state);
    const id = await start(a, { command: crashThenHold(join(work, "n"), 1, "exit 0"), restart: "on-failure" });
    // It crashes once while its server is gone (SIGKILL, no stop); the next server restarts it.
    process.kill(a.pid, "SIGKILL");
    const b = await server(state);
    const done = await until(b, id, (j) => j.status === "completed");
    expect(done.restarts).toBe(1);
    expect(readFileSync(join(work, "n"), "utf8")).toBe("2\n");
  }, 60_000);
});

describe("for people: run, up and down", () => {
  it("run --queue, --after and --restart; list --status queued", async () => {
    const state = dir("mcp-bg-state-");
    const work = dir();
    const s = await server(state, { MCP_BG_MAX_JOBS: "1" });
    const m = marker();
    const blocker = await start(s, { command: `sleep 300 # ${m}` });
    // A server's limit counts its own jobs; a queued job waits while the state dir runs as many.
    const q = await runCli(state, ["run", "--queue", "--max-jobs", "1", "--", "echo", "queued-ran"]);
    expect(q.code).toBe(0);
    const qid = q.stdout.trim();
    expect(q.stderr).toMatch(/queued: a server on this state dir starts it/);
    const after = await runCli(state, ["run", "--after", qid.slice(0, 8), "--", "echo", "after-ran"]);
    expect(after.code).toBe(0);
    const aid = after.stdout.trim();
    const listed = await runCli(state, ["list", "--status", "queued"]);
    expect(listed.stdout).toContain(qid.slice(0, 8));
    expect(listed.stdout).toContain(aid.slice(0, 8));
    await s.ok("kill_job", { job_id: blocker, grace_seconds: 1 });
    await until(s, aid, (j) => j.status === "completed");
    const r = await runCli(state, [
      "run",
      "--restart",
      "on-failure",
      "--max-restarts",
      "1",
      "--",
      crashThenHold(join(work, "n"), 1, "exit 0"),
    ]);
    expect(r.code).toBe(0);
    // Its leftovers are ended before its next run starts, never after (a late look would take the
    // next run's processes for them: run 2 was SIGKILLed so, 2 times in 5 here).
    expect(await until(s, r.stdout.trim(), (j) => j.status === "completed")).toMatchObject({ restarts: 1 });
    expect((await runCli(state, ["run", "--restart", "sometimes", "--", "true"])).code).toBe(2);
  }, 90_000);

  it("up starts each line of a Procfile as a named job in its folder, with --ready; down stops them", async () => {
    const state = dir("mcp-bg-state-");
    const work = dir();
    const s = await server(state);
    const m = marker();
    const port = await freePort();
    writeFileSync(
      join(work, "Procfile"),
      [
        "# a comment",
        `web: sleep 300 # ${m}`,
        "",
        `db: echo "port=$PORT cwd=$PWD"; exec python3 -m http.server ${port} --bind 127.0.0.1 # ${m}`,
      ].join("\n"),
    );
    const up = await runCli(state, ["up", join(work, "Procfile"), "--ready", `db=${port}`, "--json"]);
    expect(up.code).toBe(0);
    const { jobs } = JSON.parse(up.stdout) as { jobs: { job_id: string; name: string; status: string }[] };
    expect(jobs.map((j) => [j.name, j.status])).toEqual([
      ["web", "running"],
      ["db", "running"],
    ]);
    const db = jobs[1]?.job_id as string;
    await waitFor(async () => (await status(s, db)).ready_at !== null);
    expect((await s.ok<{ stdout: string }>("get_job_output", { job_id: db })).stdout).toContain(
      `port=5100 cwd=${work}`,
    );
    // Again: what is up stays up.
    const again = await runCli(state, ["up", join(work, "Procfile")]);
    expect(again.stdout).toMatch(/web\s+\S+\s+already running/);
    expect((await runCli(state, ["up", join(work, "nope")])).code).toBe(1);
    writeFileSync(join(work, "Bad"), "web npm start\n");
    expect(await runCli(state, ["up", join(work, "Bad")])).toMatchObject({ code: 2 });
    const down = await runCli(state, ["down", join(work, "Procfile")]);
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(/web\s+\S+\s+killed/);
    expect(down.stdout).toMatch(/db\s+\S+\s+killed/);
    expect(processesMatching(m)).toEqual([]);
    expect((await runCli(state, ["down", join(work, "Procfile")])).stdout).toMatch(/Nothing of .* is up/);
  }, 90_000);
});
