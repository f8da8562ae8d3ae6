import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { useServer } from "../support/harness.js";
import { freePort } from "../support/helpers.js";

// Readiness beyond log lines (until_port, until_http, the ports a job listens on) and waits on
// several jobs at once, through the SDK client against the built server.

type Wait = { status: string; matched: boolean; match: string | null; timed_out: boolean; exit_code: number | null };
type Many = {
  done: string[];
  timed_out: boolean;
  hint?: string;
  jobs: (Wait & { job_id: string; outcome?: string })[];
};

// A Python one-liner that listens on PORT (0: any) after DELAY seconds, prints the port, and sleeps.
const listener = (port: number, delay = 0, host = "127.0.0.1") =>
  `python3 -c 'import socket,time; time.sleep(${delay}); s=socket.socket(socket.AF_INET6 if ":" in "${host}" else socket.AF_INET); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("${host}", ${port})); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(300)'`;

describe("readiness and ports", () => {
  const s = useServer();
  const start = async (command: string) => (await s.ok<{ job_id: string }>("execute_command", { command })).job_id;

  it("waits until a port accepts connections, and says so", async () => {
    const port = await freePort();
    const job_id = await start(listener(port, 1));
    const r = await s.ok<Wait>("wait_for_job", { job_id, until_port: port, timeout_seconds: 45 });
    expect(r).toMatchObject({
      status: "running",
      matched: true,
      timed_out: false,
      match: `port ${port} accepts connections`,
    });
    await s.ok("kill_job", { job_id });
  });

  it("waits until a URL answers below 500 (a 404 counts: the server is up)", async () => {
    const port = await freePort();
    const job_id = await start(`sleep 1; exec python3 -m http.server ${port} --bind 127.0.0.1`);
    const url = `http://127.0.0.1:${port}/no-such-page`;
    const r = await s.ok<Wait>("wait_for_job", { job_id, until_http: url, timeout_seconds: 45 });
    expect(r).toMatchObject({ status: "running", matched: true, match: `${url} answered 404` });
    await s.ok("kill_job", { job_id });
  });

  it("starts and waits for a port in one call", async () => {
    const port = await freePort();
    const r = await s.ok<Wait & { job_id: string }>("execute_command", {
      command: listener(port, 0.5),
      wait_port: port,
      wait_seconds: 20,
    });
    expect(r).toMatchObject({ status: "running", matched: true, match: `port ${port} accepts connections` });
    await s.ok("kill_job", { job_id: r.job_id });
  });

  it("returns with the job's end when it ends before the port is up", async () => {
    const port = await freePort();
    const job_id = await start("sleep 0.3; exit 3");
    const r = await s.ok<Wait & { outcome: string }>("wait_for_job", { job_id, until_port: port, timeout_seconds: 45 });
    expect(r).toMatchObject({ status: "failed", matched: false, exit_code: 3, timed_out: false });
  });

  it("times out when nothing comes up", async () => {
    const job_id = await start("sleep 300");
    const r = await s.ok<Wait>("wait_for_job", { job_id, until_port: await freePort(), timeout_seconds: 1 });
    expect(r).toMatchObject({ status: "running", matched: false, timed_out: true });
    await s.ok("kill_job", { job_id });
  });

  it("refuses a URL that is not on this machine, or not http, before waiting", async () => {
    const job_id = await start("sleep 300");
    expect(await s.error("wait_for_job", { job_id, until_http: "http://example.com/" })).toMatch(/this machine/);
    expect(await s.error("wait_for_job", { job_id, until_http: "http://169.254.169.254/latest" })).toMatch(
      /this machine/,
    );
    expect(await s.error("wait_for_job", { job_id, until_http: "file:///etc/passwd" })).toMatch(/http:\/\/ or https/);
    expect(await s.error("wait_for_job", { job_id, until_http: "not a url" })).toMatch(/not a URL/);
    expect(await s.error("wait_for_job", { job_id, until_port: 70000 })).toMatch(/65535|too big/i);
    const before = await s.ok<{ total: number }>("list_jobs", {});
    expect(await s.error("execute_command", { command: "true", wait_http: "http://example.com" })).toMatch(
      /this machine/,
    );
    expect((await s.ok<{ total: number }>("list_jobs", {})).total).toBe(before.total);
    await s.ok("kill_job", { job_id });
  });

  it("lists the ports a job's processes listen on, a process that left its group included", async () => {
    // The dev server's case: 5173 is busy, so it takes the next one; the agent learns it without logs.
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
    const taken = (busy.address() as { port: number }).port;
    try {
      const job_id = await start(
        `python3 -c 'import socket,time
s=socket.socket(); p=${taken}
while True:
  try: s.bind(("127.0.0.1", p)); break
  except OSError: p+=1
s.listen(); print("listening", flush=True); time.sleep(300)' & setsid ${listener(0, 0, "::1")} & wait`,
      );
      await s.ok("wait_for_job", { job_id, until: "listening", timeout_seconds: 45 });
      let ports: number[] = [];
      for (let i = 0; i < 50 && ports.length < 2; i++) {
        ports = (await s.ok<{ ports: number[] }>("get_job_status", { job_id })).ports;
        if (ports.length < 2) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ports).toHaveLength(2);
      expect(ports).not.toContain(taken);
      expect(ports.some((p) => p > taken && p < taken + 50)).toBe(true);
      await s.ok("kill_job", { job_id });
      expect((await s.ok<{ ports: number[] }>("get_job_status", { job_id })).ports).toEqual([]);
    } finally {
      busy.close();
    }
  });

  it("lists no ports for a job that listens on none", async () => {
    const job_id = await start("sleep 300");
    expect((await s.ok<{ ports: number[] }>("get_job_status", { job_id })).ports).toEqual([]);
    await s.ok("kill_job", { job_id });
  });
});

describe("wait_for_job on several jobs", () => {
  const s = useServer();
  const start = async (command: string) => (await s.ok<{ job_id: string }>("execute_command", { command })).job_id;

  it("mode any returns when the first job ends, the others as they stand", async () => {
    const quick = await start("sleep 0.3; exit 2");
    const slow = await start("sleep 300");
    const r = await s.ok<Many>("wait_for_job", { job_ids: [slow, quick], timeout_seconds: 45 });
    expect(r.done).toEqual([quick]);
    expect(r.timed_out).toBe(false);
    expect(r.jobs.map((j) => [j.job_id, j.status])).toEqual([
      [slow, "running"],
      [quick, "failed"],
    ]);
    expect(r.jobs[1]).toMatchObject({ exit_code: 2, outcome: expect.stringContaining("code 2") });
    await s.ok("kill_job", { job_id: slow });
  });

  it("mode any counts a matching line as done", async () => {
    const build = await start("echo 'build ok'; sleep 300");
    const tests = await start("sleep 300");
    const r = await s.ok<Many>("wait_for_job", { job_ids: [build, tests], until: "build ok", timeout_seconds: 45 });
    expect(r.done).toEqual([build]);
    expect(r.jobs[0]).toMatchObject({ matched: true, match: "build ok", status: "running" });
    await s.ok("kill_job", { job_id: build });
    await s.ok("kill_job", { job_id: tests });
  });

  it("mode all waits for every job", async () => {
    const a = await start("sleep 0.2; echo a");
    const b = await start("sleep 1; exit 1");
    const r = await s.ok<Many>("wait_for_job", { job_ids: [a, b], mode: "all", timeout_seconds: 45 });
    expect(r.done.sort()).toEqual([a, b].sort());
    expect(r.jobs.map((j) => j.status)).toEqual(["completed", "failed"]);
    expect(r.hint).toBeUndefined();
  });

  it("mode all that runs out says which are done and how to wait on", async () => {
    const a = await start("true");
    const b = await start("sleep 300");
    const r = await s.ok<Many>("wait_for_job", { job_ids: [a, b], mode: "all", timeout_seconds: 1 });
    expect(r).toMatchObject({ done: [a], timed_out: true, hint: expect.stringContaining("wait_for_job again") });
    await s.ok("kill_job", { job_id: b });
  });

  it("refuses unclear requests with a clear error", async () => {
    const a = await start("true");
    expect(await s.error("wait_for_job", {})).toMatch(/job_id, or job_ids/);
    expect(await s.error("wait_for_job", { job_id: a, job_ids: [a] })).toMatch(/job_id, or job_ids/);
    expect(await s.error("wait_for_job", { job_ids: [a], since: "0:0" })).toMatch(/since works with job_id only/);
    expect(await s.error("wait_for_job", { job_ids: [a, "nope"] })).toMatch(/nope not found/);
    expect(await s.error("wait_for_job", { job_ids: [] })).toMatch(/job_ids/);
    expect(await s.error("wait_for_job", { job_ids: [a], mode: "some" })).toMatch(/mode/);
  });
});

describe("everyday workflows in few calls and few characters (bench/workflows.mjs measures them)", () => {
  const s = useServer();
  const text = async (name: string, args: Record<string, unknown>) => {
    const r = await s.call(name, args);
    expect(r.isError).toBeFalsy();
    return { text: r.content.map((c) => c.text ?? "").join(""), value: r.structuredContent as Record<string, unknown> };
  };

  it("a 2,000-line test suite: its exit code and its 3 failure lines in 2 calls and at most 800 characters", async () => {
    const suite = `python3 -c 'import sys
for i in range(1, 1998):
  print("ok %d - test_case_%d passes" % (i, i))
  if i in (400, 1200, 1900): print("FAIL test_case_%d: expected 2, got 3 (tests/case_%d.py:17)" % (i, i))
print("1997 passed, 3 failed"); sys.exit(1)'`;
    const ran = await text("execute_command", { command: suite, wait_seconds: 50 });
    expect(ran.value).toMatchObject({ status: "failed", exit_code: 1 });
    expect((ran.value.tail as unknown as { stdout: string }).stdout).toMatch(/1997 passed, 3 failed$/);
    const found = await text("search_job_output", { job_id: ran.value.job_id, pattern: "^FAIL" });
    expect((found.value.matches as unknown as { text: string }[]).map((m) => m.text.split(":")[0])).toEqual([
      "FAIL test_case_400",
      "FAIL test_case_1200",
      "FAIL test_case_1900",
    ]);
    expect(ran.text.length + found.text.length).toBeLessThanOrEqual(800);
  });
});
