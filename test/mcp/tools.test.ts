import { Client, InMemoryTransport } from "@modelcontextprotocol/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openJobEngine } from "../../src/cli/compose.js";
import { loadConfig } from "../../src/config/config.js";
import {
  DEFAULT_GRACE_SECONDS,
  DEFAULT_TAIL_LINES,
  KILL_SIGNALS,
  MAX_CONTEXT_LINES,
  MAX_TAIL_LINES,
} from "../../src/domain/defaults.js";
import { JOB_STATUSES } from "../../src/domain/job-state.js";
import type { JobEngine } from "../../src/engine/job-engine.js";
import { createServer } from "../../src/mcp/server.js";
import { tempDir } from "../support/helpers.js";

// The tools over the SDK's in-memory transport, on an engine in this process: schemas, results and
// errors as a client sees them, without a server process (the end-to-end tests drive the binary).

let state: ReturnType<typeof tempDir>;
let engine: JobEngine;
let client: Client;

beforeAll(async () => {
  state = tempDir("mcp-bg-tools-");
  engine = openJobEngine(loadConfig(new Map([["--state-dir", state.path]]), process.env));
  const [serverSide, clientSide] = InMemoryTransport.createLinkedPair();
  await createServer(engine).connect(serverSide);
  client = new Client({ name: "tools-test", version: "1.0.0" });
  await client.connect(clientSide);
});

afterAll(async () => {
  await client?.close();
  await engine?.shutdown();
  state?.remove();
});

async function call<T>(name: string, args: Record<string, unknown>): Promise<{ value: T; error?: string }> {
  const r = await client.callTool({ name, arguments: args });
  const text = (r.content as { type: string; text: string }[])[0]?.text ?? "";
  return r.isError ? { value: undefined as T, error: text } : { value: r.structuredContent as T };
}

describe("the tools, in memory", () => {
  it("lists nine tools whose schemas carry the domain's values", async () => {
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    expect(byName.size).toBe(9);
    const prop = (tool: string, p: string) =>
      ((byName.get(tool)?.inputSchema.properties ?? {}) as Record<string, Record<string, unknown>>)[p] ?? {};
    expect(JSON.stringify(prop("kill_job", "signal"))).toContain(JSON.stringify([...KILL_SIGNALS]));
    expect(prop("kill_job", "grace_seconds").description).toContain(`default ${DEFAULT_GRACE_SECONDS}`);
    expect(prop("tail_job_output", "lines").maximum).toBe(MAX_TAIL_LINES);
    expect(prop("tail_job_output", "lines").description).toContain(`default ${DEFAULT_TAIL_LINES}`);
    expect(prop("search_job_output", "context_lines").maximum).toBe(MAX_CONTEXT_LINES);
    expect(JSON.stringify(byName.get("list_jobs")?.inputSchema)).toContain(JSON.stringify([...JOB_STATUSES]));
  });

  it("a failed call carries a code to branch on, beside its message", async () => {
    const code = async (name: string, args: Record<string, unknown>) => {
      const r = await client.callTool({ name, arguments: args });
      expect(r.isError).toBe(true);
      return (r._meta as Record<string, unknown> | undefined)?.["mcp-bg-jobs/error_code"];
    };
    expect(await code("get_job_status", { job_id: "no-such-job" })).toBe("not_found");
    expect(await code("execute_command", { command: "  " })).toBe("invalid_input");
    expect(await code("execute_command", { command: "rm -rf /" })).toBe("denied");
    const { value } = await call<{ job_id: string }>("execute_command", { command: "echo x" });
    expect(await code("search_job_output", { job_id: value.job_id, pattern: "(a)\\1" })).toBe("invalid_pattern");
  });

  it("starts, waits for a line, reads and ends a job", async () => {
    const { value: started } = await call<{ job_id: string }>("execute_command", {
      command: "echo ready; read line; echo got $line",
    });
    const { value: waited } = await call<{ matched: boolean; match: string }>("wait_for_job", {
      job_id: started.job_id,
      until: "^ready$",
    });
    expect(waited).toMatchObject({ matched: true, match: "ready" });
    const { value: reply } = await call<{ stdout: string }>("interact_with_job", {
      job_id: started.job_id,
      input: "hi",
    });
    expect(reply.stdout).toBe("got hi\n");
    const { value: ended } = await call<{ status: string; exit_code: number }>("wait_for_job", {
      job_id: started.job_id,
    });
    expect(ended).toMatchObject({ status: "completed", exit_code: 0 });
    const { value: tail } = await call<{ stdout: string }>("tail_job_output", { job_id: started.job_id, lines: 1 });
    expect(tail.stdout).toBe("got hi");
  });

  it("answers bad arguments with one clear error each", async () => {
    expect((await call("tail_job_output", { job_id: "x", lines: MAX_TAIL_LINES + 1 })).error).toContain(
      `from 1 to ${MAX_TAIL_LINES}`,
    );
    expect((await call("kill_job", { job_id: "x", signal: "SIGSTOP" })).error).toContain(KILL_SIGNALS.join(", "));
    expect((await call("get_job_status", { job_id: "no-such-job" })).error).toMatch(/not found/);
    expect((await call("execute_command", { command: "" })).error).toMatch(/command is empty/);
  });

  it("execute_command without a wait answers at once, as the seed's clients expect", async () => {
    const { value } = await call<Record<string, unknown>>("execute_command", { command: "sleep 5" });
    expect(Object.keys(value).sort()).toEqual(["job_id", "pid", "status"]);
    await call("kill_job", { job_id: value.job_id, grace_seconds: 0 });
  });

  it("starts and waits in one call: until a line, or to the end with the last lines", async () => {
    const { value: ready } = await call<{
      job_id: string;
      status: string;
      matched: boolean;
      match: string;
      hint: string;
    }>("execute_command", {
      command: "echo booting; sleep 0.2; echo 'listening on :5173'; sleep 30",
      wait_until: "listening on",
    });
    expect(ready).toMatchObject({ status: "running", matched: true, match: "listening on :5173" });
    expect(ready.hint).toContain("wait_for_job");
    await call("kill_job", { job_id: ready.job_id, grace_seconds: 0 });
    const { value: done } = await call<{
      status: string;
      exit_code: number;
      outcome: string;
      tail: { stdout: string };
    }>("execute_command", {
      command: "seq 1 2000; echo 'FAIL test_a'; echo 'FAIL test_b' >&2; exit 3",
      wait_seconds: 20,
    });
    expect(done).toMatchObject({ status: "failed", exit_code: 3, timed_out: false });
    expect(done.outcome).toContain("code 3");
    expect(done.tail.stdout.split("\n").slice(-2)).toEqual(["2000", "FAIL test_a"]);
    expect(done.tail).toMatchObject({ stderr: "FAIL test_b" });
    expect(JSON.stringify(done).length).toBeLessThan(800);
  });

  it("refuses a bad wait_until before anything starts", async () => {
    const before = (await call<{ total: number }>("list_jobs", {})).value.total;
    expect((await call("execute_command", { command: "true", wait_until: "(" })).error).toMatch(
      /Invalid regular expression/,
    );
    expect((await call<{ total: number }>("list_jobs", {})).value.total).toBe(before);
  });

  it("keeps the tool definitions lean: names, descriptions and input schemas at most 7,000 characters", async () => {
    const { tools } = await client.listTools();
    const size = tools.reduce(
      (n, t) => n + t.name.length + (t.description ?? "").length + JSON.stringify(t.inputSchema).length,
      0,
    );
    expect(size).toBeLessThanOrEqual(7000);
  });
});
