import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { useServer } from "../support/harness.js";
import { waitFor } from "../support/helpers.js";

type Wait = {
  status: string;
  matched: boolean;
  match: string | null;
  stream: string | null;
  timed_out: boolean;
  exit_code: number | null;
  cursor: string;
  outcome?: string;
  hint?: string;
};

// inotify watches the server holds (one per wait or interaction in progress), from /proc fdinfo.
function inotifyWatches(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    try {
      n += (readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8").match(/^inotify wd:/gm) ?? []).length;
    } catch {}
  }
  return n;
}

describe("wait_for_job", () => {
  const s = useServer({ env: { MCP_BG_MAX_JOBS: "30" } });
  const start = async (command: string) => (await s.ok<{ job_id: string }>("execute_command", { command })).job_id;

  it("returns when a line matches, counting lines printed before the call", async () => {
    const job_id = await start("echo 'server listening on :8080'; sleep 300");
    const r = await s.ok<Wait>("wait_for_job", { job_id, until: "listening on :(\\d+)", timeout_seconds: 45 });
    expect(r).toMatchObject({ status: "running", matched: true, match: "server listening on :8080", stream: "stdout" });
    expect(r.timed_out).toBe(false);
    await s.ok("kill_job", { job_id });
  });

  it("returns when a later line matches, on either stream, and its cursor moves past it", async () => {
    const job_id = await start(
      "sleep 0.3; echo 'compiling'; echo 'ERROR: boom' >&2; sleep 0.3; echo 'ERROR: again' >&2; sleep 300",
    );
    const first = await s.ok<Wait>("wait_for_job", { job_id, until: "^ERROR", timeout_seconds: 45 });
    expect(first).toMatchObject({ matched: true, match: "ERROR: boom", stream: "stderr" });
    const second = await s.ok<Wait>("wait_for_job", {
      job_id,
      until: "^ERROR",
      since: first.cursor,
      timeout_seconds: 45,
    });
    expect(second).toMatchObject({ matched: true, match: "ERROR: again" });
    // With `since` at the end, earlier lines no longer count.
    const none = await s.ok<Wait>("wait_for_job", {
      job_id,
      until: "^ERROR",
      since: second.cursor,
      timeout_seconds: 0.3,
    });
    expect(none).toMatchObject({ matched: false, timed_out: true, status: "running" });
    expect(none.hint).toMatch(/wait_for_job again/);
    await s.ok("kill_job", { job_id });
  });

  it("returns when the job ends, with its exit code, whether or not anything matched", async () => {
    const job_id = await start("sleep 0.2; echo done; exit 4");
    const r = await s.ok<Wait>("wait_for_job", { job_id, until: "never printed", timeout_seconds: 45 });
    expect(r).toMatchObject({ status: "failed", matched: false, match: null, timed_out: false, exit_code: 4 });
    expect(r.outcome).toBe("exited with code 4 (failure)");
    const plain = await s.ok<Wait>("wait_for_job", { job_id: await start("sleep 0.2"), timeout_seconds: 45 });
    expect(plain).toMatchObject({ status: "completed", exit_code: 0, timed_out: false });
  });

  it("finds text deep inside a very long line (past the first 64 KiB)", async () => {
    const job_id = await start("head -c 200000 /dev/zero | tr '\\0' a; printf 'NEEDLE'; sleep 300");
    expect(await s.ok<Wait>("wait_for_job", { job_id, until: "NEEDLE", timeout_seconds: 45 })).toMatchObject({
      matched: true,
    });
    expect(await s.ok("search_job_output", { job_id, pattern: "NEEDLE$" })).toMatchObject({ total_matches: 1 });
    await s.ok("kill_job", { job_id });
  });

  it("matches the last line of a job that ended without a newline", async () => {
    const job_id = await start("printf 'ready'");
    expect(await s.ok<Wait>("wait_for_job", { job_id, until: "^ready$" })).toMatchObject({ matched: true });
  });

  it("sends progress notifications while it waits when the call has a progress token", async () => {
    const job_id = await start("sleep 2.5; echo up");
    const progress: number[] = [];
    const r = await s.client.callTool(
      { name: "wait_for_job", arguments: { job_id, until: "up", timeout_seconds: 45 } },
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(r.structuredContent).toMatchObject({ matched: true });
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });

  it("stops at once when the call is cancelled", async () => {
    const job_id = await start("sleep 300");
    const before = inotifyWatches(s.pid);
    const abort = new AbortController();
    const call = s.client.callTool(
      { name: "wait_for_job", arguments: { job_id, until: "never", timeout_seconds: 120 } },
      { signal: abort.signal },
    );
    await waitFor(() => inotifyWatches(s.pid) > before);
    abort.abort();
    await expect(call).rejects.toThrow();
    // The server let go of its watch: nothing is left waiting.
    await waitFor(() => inotifyWatches(s.pid) === before, 3000);
    expect(await s.ok("get_job_status", { job_id })).toMatchObject({ status: "running" });
    await s.ok("kill_job", { job_id });
  });

  it("refuses bad patterns with a clear error, and survives a catastrophic one", async () => {
    const job_id = await start(`printf '%s!\\n' "$(head -c 30000 /dev/zero | tr '\\0' a)"`);
    await s.ok("wait_for_job", { job_id });
    expect(await s.error("wait_for_job", { job_id, until: "(unclosed" })).toMatch(/Invalid regular expression/);
    const refused = await s.error("wait_for_job", { job_id, until: "(a)\\1" });
    expect(refused).toMatch(/^Pattern .*backreferences, lookaround/);
    expect(await s.error("wait_for_job", { job_id, since: "bogus" })).toMatch(/cursor/);
    // (a+)+$ against 30,000 a's and a '!' backtracks exponentially in a plain regex engine.
    const r = await s.ok<{ total_matches: number }>("search_job_output", { job_id, pattern: "(a+)+$" });
    expect(r.total_matches).toBe(0);
    expect(await s.ok("search_job_output", { job_id, pattern: "[Aa]+!" })).toMatchObject({ total_matches: 1 });
  });
});

describe("search_job_output", () => {
  const s = useServer();

  it("finds lines in both streams with 1-based line numbers, context, a cap and a total", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: "for i in 1 2 3 4 5 6 7 8 9 10; do echo line $i; done; echo 'warn: disk' >&2; echo 'warn: cpu' >&2",
    });
    await s.ok("wait_for_job", { job_id });
    const r = await s.ok<{ matches: unknown[]; total_matches: number; truncated: boolean }>("search_job_output", {
      job_id,
      pattern: "line [37]$|^warn",
    });
    expect(r.matches).toEqual([
      { stream: "stdout", line: 3, text: "line 3" },
      { stream: "stdout", line: 7, text: "line 7" },
      { stream: "stderr", line: 1, text: "warn: disk" },
      { stream: "stderr", line: 2, text: "warn: cpu" },
    ]);
    expect(r).toMatchObject({ total_matches: 4, truncated: false });
    const ctx = await s.ok<{ matches: unknown[] }>("search_job_output", {
      job_id,
      pattern: "line 5$",
      context_lines: 2,
    });
    expect(ctx.matches).toEqual([
      { stream: "stdout", line: 5, text: "line 5", before: ["line 3", "line 4"], after: ["line 6", "line 7"] },
    ]);
    const capped = await s.ok<{ matches: unknown[]; total_matches: number; truncated: boolean }>("search_job_output", {
      job_id,
      pattern: "line",
      max_matches: 2,
    });
    expect(capped.matches).toHaveLength(2);
    expect(capped).toMatchObject({ total_matches: 10, truncated: true });
    expect(await s.error("search_job_output", { job_id, pattern: "[" })).toMatch(/Invalid regular expression/);
    expect(await s.error("search_job_output", { job_id: "nope", pattern: "x" })).toMatch(/not found/);
  });
});
