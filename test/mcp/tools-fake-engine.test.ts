import { Client, InMemoryTransport } from "@modelcontextprotocol/client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_MAX_MATCHES, DEFAULT_REPLY_WAIT_MS, DEFAULT_TAIL_LINES } from "../../src/domain/defaults.js";
import { JobError, type WaitOptions } from "../../src/engine/index.js";
import { createServer } from "../../src/mcp/server.js";
import { FakeJobs } from "../support/fake-jobs.js";

// Each tool against a fake engine (test/support/fake-jobs.ts), through the interface the tools are
// written against (JobsForTools): what each tool asks of the engine for a call's arguments, and what
// it makes of the engine's answers and failures. No process runs; tools.test.ts runs them on a real
// engine and test/e2e on the built server.

let jobs: FakeJobs;
let client: Client;

beforeEach(async () => {
  jobs = new FakeJobs();
  const [serverSide, clientSide] = InMemoryTransport.createLinkedPair();
  await createServer(jobs).connect(serverSide);
  client = new Client({ name: "fake-engine-test", version: "1.0.0" });
  await client.connect(clientSide);
});

afterEach(async () => {
  await client.close();
});

type Answer = { value: Record<string, unknown>; error?: string; code?: unknown };

async function call(name: string, args: Record<string, unknown>): Promise<Answer> {
  const r = await client.callTool({ name, arguments: args });
  const text = (r.content as { text: string }[])[0]?.text ?? "";
  if (!r.isError) return { value: r.structuredContent as Record<string, unknown> };
  return { value: {}, error: text, code: (r._meta as Record<string, unknown>)["mcp-bg-jobs/error_code"] };
}

const ended = (id: string, code: number) => {
  const job = jobs.add(id);
  job.end({ code, signal: null, endedMs: Date.UTC(2026, 11, 6, 0, 1), lost: false });
  return job;
};

describe("execute_command", () => {
  it("hands the engine each option under its own name and answers at once without a wait", async () => {
    const { value } = await call("execute_command", {
      command: "npm run dev",
      cwd: "web",
      env: { PORT: "5173" },
      timeout_seconds: 90,
      name: "dev",
      pty: true,
      executor: "local",
      queue: true,
      after: ["job-0"],
      after_condition: "ended",
      restart: "on-failure",
      max_restarts: 3,
    });
    expect(jobs.callsTo("start")).toEqual([
      [
        {
          command: "npm run dev",
          cwd: "web",
          env: { PORT: "5173" },
          timeoutSeconds: 90,
          name: "dev",
          pty: true,
          executor: "local",
          queue: true,
          after: ["job-0"],
          afterCondition: "ended",
          restart: "on-failure",
          maxRestarts: 3,
        },
      ],
    ]);
    expect(value).toEqual({ job_id: "job-1", pid: null, status: "running" });
    expect(jobs.callsTo("wait")).toEqual([]);
  });

  it("refuses a bad pattern or a URL that is not local before anything starts", async () => {
    expect((await call("execute_command", { command: "x", wait_until: "(" })).code).toBe("invalid_pattern");
    expect((await call("execute_command", { command: "x", wait_until: "a{100}" })).code).toBe("invalid_pattern");
    expect((await call("execute_command", { command: "x", wait_http: "http://example.com/" })).code).toBe(
      "invalid_input",
    );
    expect(jobs.callsTo("start")).toEqual([]);
  });

  it("waits no longer than one call may, and says how to wait on", async () => {
    jobs.callTimeoutMs = 1_500;
    const { value } = await call("execute_command", { command: "x", wait_until: "ready", wait_seconds: 600 });
    const [id, opts] = jobs.callsTo("wait")[0] as [string, WaitOptions];
    expect(id).toBe("job-1");
    expect(opts).toMatchObject({ until: "ready", timeoutMs: 1_500 });
    // What the start waits for is kept as the job's readiness probe.
    expect(jobs.callsTo("start")[0]?.[0]).toMatchObject({ ready: { until: "ready" } });
    expect(value).toMatchObject({ status: "running", timed_out: true });
    expect(value.hint).toMatch(/1\.5 s, the longest one call waits.*since="0:0"/);
    expect(value).not.toHaveProperty("tail");
  });

  it("once the job has ended, answers its last lines, each stream cut to 1,000 characters", async () => {
    jobs.answers.start = async () => ended("job-9", 2).record();
    jobs.answers.tail = async () => ({ stdout: `${"x".repeat(5_000)}\nlast line`, stderr: "oops" });
    const { value } = await call("execute_command", { command: "x", wait_seconds: 5 });
    expect(jobs.callsTo("tail")).toEqual([["job-9", 5]]);
    const tail = value.tail as { stdout: string; stderr: string };
    expect(tail.stdout).toMatch(/^\[4010 chars before\] …x+\nlast line$/);
    expect(tail.stdout.length).toBeLessThan(1_100);
    expect(tail.stderr).toBe("oops");
    expect(value).toMatchObject({ status: "failed", exit_code: 2 });
    expect(value.outcome).toContain("2");
  });

  it("passes the engine's refusal on with its code", async () => {
    jobs.answers.start = async () => {
      throw new JobError("denied", "Refused: rm -rf /");
    };
    expect(await call("execute_command", { command: "rm -rf /" })).toMatchObject({
      error: "Refused: rm -rf /",
      code: "denied",
    });
  });
});

describe("list_jobs", () => {
  it("passes status and limit, and keeps a huge list inside its budget, saying so", async () => {
    for (let i = 0; i < 600; i++) jobs.add(`job-${String(i).padStart(3, "0")}`, { command: "c".repeat(5_000) });
    const { value } = await call("list_jobs", { status: "running", limit: 600 });
    expect(jobs.callsTo("list")).toEqual([[{ status: "running", limit: 600 }]]);
    const shown = value.jobs as { command: string }[];
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.length).toBeLessThan(600);
    expect(shown[0]?.command).toBe(`${"c".repeat(200)}… [4800 more chars]`);
    expect(JSON.stringify(value.jobs).length).toBeLessThanOrEqual(50_000);
    expect(value.total).toBe(600);
    expect(value.hint).toContain(`Only the newest ${shown.length} of 600`);
  });
});

describe("get_job_status", () => {
  it("asks for ports only while the job runs, and says when Slurm still queues it", async () => {
    jobs.add("run", { command: "y".repeat(10_000) });
    jobs.answers.waiting = () => "Priority";
    const { value: running } = await call("get_job_status", { job_id: "run" });
    expect(running).toMatchObject({ status: "running", ports: [5173] });
    expect(running.hint).toContain("Queued in Slurm, not started yet: Priority");
    expect(running.command).toBe(`${"y".repeat(2_000)}… [8000 more chars]`);
    ended("done", 0);
    const { value: done } = await call("get_job_status", { job_id: "done" });
    expect(done).toMatchObject({ status: "completed", exit_code: 0, ports: [] });
    expect(jobs.callsTo("ports")).toEqual([[["run"]]]);
  });

  it("answers not_found from the engine's lookup", async () => {
    expect(await call("get_job_status", { job_id: "nope" })).toMatchObject({ code: "not_found" });
  });
});

describe("get_job_output", () => {
  it("reads a cursor into offsets, and refuses a bad one before reading", async () => {
    jobs.add("a");
    await call("get_job_output", { job_id: "a", since: "12:7" });
    expect(jobs.callsTo("output")).toEqual([["a", { stdout: 12, stderr: 7 }, undefined]]);
    expect(await call("get_job_output", { job_id: "a", since: "12" })).toMatchObject({ code: "invalid_input" });
    expect(jobs.callsTo("output")).toHaveLength(1);
  });

  it("adds the status and the words for it", async () => {
    ended("b", 4);
    const { value } = await call("get_job_output", { job_id: "b" });
    expect(value).toMatchObject({ stdout: "out\n", cursor: "4:0", status: "failed" });
    expect(value.outcome).toContain("4");
  });
});

describe("tail_job_output", () => {
  it("asks for the default number of lines, and hints at waiting while the job runs", async () => {
    jobs.add("a");
    const { value } = await call("tail_job_output", { job_id: "a" });
    expect(jobs.callsTo("tail")).toEqual([["a", DEFAULT_TAIL_LINES]]);
    expect(value).toMatchObject({ stdout: "last", status: "running" });
    expect(value.hint).toContain("wait_for_job");
  });
});

describe("interact_with_job", () => {
  it("passes input, raw and eof, and never waits past one call", async () => {
    jobs.add("a");
    jobs.callTimeoutMs = 1_000;
    await call("interact_with_job", { job_id: "a", input: "q", raw: true, eof: true, wait_ms: 60_000 });
    await call("interact_with_job", { job_id: "a", input: "hi" });
    expect(jobs.callsTo("interact")).toEqual([
      ["a", "q", { waitMs: 1_000, raw: true, eof: true }],
      ["a", "hi", { waitMs: Math.min(DEFAULT_REPLY_WAIT_MS, 1_000), raw: undefined, eof: undefined }],
    ]);
  });

  it("passes a closed stdin on with its code", async () => {
    jobs.add("a");
    jobs.answers.interact = async () => {
      throw new JobError("stdin_closed", "stdin of job a is closed");
    };
    expect(await call("interact_with_job", { job_id: "a", input: "x" })).toMatchObject({ code: "stdin_closed" });
  });
});

describe("kill_job", () => {
  it("passes the signal and the grace in milliseconds", async () => {
    expect((await call("kill_job", { job_id: "a", signal: "SIGINT", grace_seconds: 0.5 })).value).toEqual({
      status: "killed",
    });
    expect(jobs.callsTo("kill")).toEqual([["a", { signal: "SIGINT", graceMs: 500 }]]);
  });

  it("answers `killing` when the kill outlasts one call, and lets it go on", async () => {
    jobs.callTimeoutMs = 200;
    let finish: (r: "killed") => void = () => {};
    jobs.answers.kill = () => new Promise((r) => (finish = r));
    const { value } = await call("kill_job", { job_id: "a", grace_seconds: 60 });
    expect(value.status).toBe("killing");
    expect(value.hint).toContain("60 s grace");
    finish("killed");
  });
});

describe("wait_for_job", () => {
  it("wants job_id or job_ids, one of the two, and since only with job_id", async () => {
    for (const args of [{}, { job_id: "a", job_ids: ["a"] }, { job_ids: ["a"], since: "0:0" }]) {
      expect((await call("wait_for_job", args)).code).toBe("invalid_input");
    }
    expect(jobs.callsTo("wait")).toEqual([]);
  });

  it("waits on each job once, and with mode any stops the others when one is done", async () => {
    jobs.add("slow");
    ended("fast", 0);
    jobs.answers.wait = (job, opts) =>
      job.running
        ? new Promise((resolve) =>
            opts.signal?.addEventListener("abort", () =>
              resolve({
                status: "running",
                matched: false,
                match: null,
                stream: null,
                timed_out: false,
                exit_code: null,
                cursor: "0:0",
              }),
            ),
          )
        : Promise.resolve({
            status: "completed",
            matched: false,
            match: null,
            stream: null,
            timed_out: false,
            exit_code: 0,
            cursor: "9:0",
          });
    const { value } = await call("wait_for_job", { job_ids: ["slow", "fast", "slow"], timeout_seconds: 600 });
    expect(jobs.callsTo("wait").map(([id]) => id)).toEqual(["slow", "fast"]);
    expect(value).toMatchObject({ done: ["fast"], timed_out: false });
    expect((value.jobs as { job_id: string }[]).map((j) => j.job_id)).toEqual(["slow", "fast"]);
  });
});

describe("search_job_output", () => {
  it("passes the defaults, and refuses a pattern it cannot run safely before searching", async () => {
    jobs.add("a");
    await call("search_job_output", { job_id: "a", pattern: "FAIL" });
    const [id, pattern, opts] = jobs.callsTo("search")[0] as [string, string, Record<string, unknown>];
    expect([id, pattern]).toEqual(["a", "FAIL"]);
    expect(opts).toMatchObject({ contextLines: 0, maxMatches: DEFAULT_MAX_MATCHES });
    expect(opts.signal).toBeInstanceOf(AbortSignal);
    expect((await call("search_job_output", { job_id: "a", pattern: "[0-9]{1,64}" })).code).toBe("invalid_pattern");
    expect(jobs.callsTo("search")).toHaveLength(1);
  });
});

describe("every tool", () => {
  const calls: [string, Record<string, unknown>][] = [
    ["execute_command", { command: "true" }],
    ["list_jobs", {}],
    ["get_job_status", { job_id: "a" }],
    ["get_job_output", { job_id: "a" }],
    ["tail_job_output", { job_id: "a" }],
    ["interact_with_job", { job_id: "a", input: "x" }],
    ["kill_job", { job_id: "a" }],
    ["wait_for_job", { job_id: "a" }],
    ["search_job_output", { job_id: "a", pattern: "x" }],
  ];

  it("answers why jobs cannot run here, with code unavailable, and asks the engine nothing", async () => {
    jobs.why = "mcp-bg-jobs runs jobs on Linux only";
    for (const [name, args] of calls) {
      expect(await call(name, args)).toMatchObject({ error: jobs.why, code: "unavailable" });
    }
    expect(jobs.calls).toEqual([]);
  });

  it("turns an unexpected failure of the engine into an internal error, and goes on serving", async () => {
    jobs.add("a");
    jobs.answers.lookup = () => {
      throw new TypeError("boom");
    };
    jobs.answers.list = () => {
      throw new TypeError("boom");
    };
    jobs.answers.start = async () => {
      throw new TypeError("boom");
    };
    jobs.answers.kill = async () => {
      throw new TypeError("boom");
    };
    for (const [name, args] of calls) {
      expect(await call(name, args), name).toMatchObject({ error: "Internal error: boom", code: "internal" });
    }
    delete jobs.answers.lookup;
    expect((await call("tail_job_output", { job_id: "a" })).value.stdout).toBe("last");
  });
});
