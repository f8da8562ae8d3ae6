import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { type Harness, useServer } from "../support/harness.js";

// What a hostile review found: one job's output or one caller's pattern could hold the whole server
// for minutes. Each test runs the hostile thing while another client keeps asking for a job's
// status, and checks that every one of those answers came quickly.

/** Longest an unrelated call may wait while something hostile runs (far below the stalls found: 20 s to minutes). */
const ANSWER_BOUND_MS = 2000;

/** Calls get_job_status on `job_id` over and over until `work` settles; returns the slowest answer in ms. */
async function slowestAnswerDuring(s: Harness, job_id: string, work: Promise<unknown>): Promise<number> {
  let done = false;
  void work.finally(() => {
    done = true;
  });
  let slowest = 0;
  while (!done) {
    const t0 = Date.now();
    await s.ok("get_job_status", { job_id });
    slowest = Math.max(slowest, Date.now() - t0);
    await new Promise((r) => setTimeout(r, 20));
  }
  await work.catch(() => {});
  return slowest;
}

const rssMB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) / 1024;

describe("no job output can stall the server", () => {
  const s = useServer({ env: { MCP_BG_MAX_JOBS: "20" } });
  let idle: string;
  beforeAll(async () => {
    idle = (await s.ok<{ job_id: string }>("execute_command", { command: "sleep 600" })).job_id;
  });

  it("a PTY job printing control sequences with huge counts is rendered within bounds, time and memory", async () => {
    // Scroll up/down, insert/delete lines and characters, repeat, tab: each with a count of a
    // billion, many times over; then, a lot of the same with counts a screen can hold.
    const huge = ["S", "T", "L", "M", "@", "P", "X", "b", "I", "Z", "E", "F"]
      .map((f) => `\\033[999999999${f}`)
      .join("");
    const many = "\\033[40S\\033[40L\\033[120b".repeat(3000);
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: `printf 'x${huge}'; for i in 1 2 3 4 5 6 7 8; do printf '${huge}'; done; printf '${many}'; echo; echo END; sleep 600`,
      pty: true,
    });
    await s.ok("wait_for_job", { job_id, until: "END", timeout_seconds: 30 });
    const reads = Promise.all([
      s.ok<{ stdout: string }>("get_job_output", { job_id }),
      s.ok<{ stdout: string }>("tail_job_output", { job_id, lines: 5 }),
    ]);
    const slowest = await slowestAnswerDuring(s, idle, reads);
    expect(slowest).toBeLessThan(ANSWER_BOUND_MS);
    const [out, tail] = await reads;
    // Rendered, or, where rendering was too costly, shown cleaned: either way an answer, bounded.
    expect(out.stdout).toContain("END");
    expect(out.stdout.length).toBeLessThan(60_000);
    expect(tail.stdout).toContain("END");
    expect(rssMB(s.pid)).toBeLessThan(1024);
    await s.ok("kill_job", { job_id, grace_seconds: 0 });
  });

  it("waits on a line redrawn with \\r (a 1 MB progress bar) do not grow in cost with the line", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: `head -c 1000000 /dev/zero | tr '\\0' '='; i=0; while :; do i=$((i+1)); printf '\\r[%s] %d' '=====' $i; sleep 0.01; done`,
    });
    await s.ok("wait_for_job", { job_id, until: "\\[=====\\] 5", timeout_seconds: 30 });
    // Several waiters on a line that never comes, while the bar keeps redrawing.
    const waits = Promise.all(
      [1, 2, 3].map(() => s.ok("wait_for_job", { job_id, until: "^never printed$", timeout_seconds: 4 })),
    );
    const slowest = await slowestAnswerDuring(s, idle, waits);
    expect(slowest).toBeLessThan(ANSWER_BOUND_MS);
    for (const w of await waits) expect(w).toMatchObject({ matched: false, timed_out: true, status: "running" });
    // A prompt-like end of the line is still seen.
    expect(await s.ok("wait_for_job", { job_id, until: "\\] [0-9]+$", timeout_seconds: 45 })).toMatchObject({
      matched: true,
    });
    await s.ok("kill_job", { job_id, grace_seconds: 0 });
  });
});

describe("no accepted pattern can stall the server", () => {
  const s = useServer();
  let idle: string;
  let target: string;
  beforeAll(async () => {
    idle = (await s.ok<{ job_id: string }>("execute_command", { command: "sleep 600" })).job_id;
    // Lines that make backtracking patterns explode: runs of a's (and x's, and words) ending badly.
    target = (
      await s.ok<{ job_id: string }>("execute_command", {
        command:
          "for i in $(seq 1 200); do printf 'a%.0s' $(seq 1 60); echo b; printf 'x%.0s' $(seq 1 40); echo; echo 'word word word word word word word word word word word word word !'; done; sleep 600",
      })
    ).job_id;
    await s.ok("wait_for_job", { job_id: target, until: "!$", timeout_seconds: 30 });
  });

  // The worst we could build within the rules (at most 1,000 characters, no backreferences or
  // lookaround, repeat counts up to 16): optional parts under a repeat, alternatives that overlap,
  // nested repeats.
  const optional = (n: number) => `(${"a?".repeat(n)})*${"a".repeat(n)}$`;
  const worst: [string, string][] = [
    ["(a?a?...)*aaa...$, 300 characters", optional(99)],
    ["(a?a?...)*aaa...$, 1,000 characters", optional(332)],
    ["overlapping alternatives", `(${Array.from({ length: 60 }, () => "a|aa").join("|")})*c$`],
    ["nested repeats", "((a+)+)+$"],
    ["words and spaces", "^(\\w+\\s?)*$"],
    ["any, repeated", `(.*){16}${"x".repeat(40)}y`],
    ["optional classes", `(${"[ax]?".repeat(150)})*[ax]{16}z$`],
  ];
  for (const [what, pattern] of worst) {
    it(`${what}: wait_for_job and search_job_output answer (or cut it off, saying so) while others are served`, async () => {
      expect(pattern.length).toBeLessThanOrEqual(1000);
      const calls = Promise.all([
        s.call("wait_for_job", { job_id: target, until: pattern, timeout_seconds: 3 }),
        s.call("search_job_output", { job_id: target, pattern }),
      ]);
      const slowest = await slowestAnswerDuring(s, idle, calls);
      expect(slowest).toBeLessThan(ANSWER_BOUND_MS);
      for (const r of await calls) {
        const text = r.content.map((c) => c.text ?? "").join("");
        if (r.isError) expect(text).toMatch(/cut off|cannot run in linear time|repeats more than 16/);
      }
    });
  }

  it("the server still matches ordinary patterns after cutting costly ones off", async () => {
    expect(await s.ok("wait_for_job", { job_id: target, until: "^a+b$" })).toMatchObject({ matched: true });
    expect(await s.ok("search_job_output", { job_id: target, pattern: "!$" })).toMatchObject({ total_matches: 200 });
  });
});
