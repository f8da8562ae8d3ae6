/**
 * Interop: the server through MCP client libraries other than the official SDK, as their users drive them
 * (see interop-harness.ts). Each library, transport and protocol era it supports gets the same checks:
 * the nine tools come through its schema conversion, a job runs start to kill, and an error reads as one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AI_SDK7,
  connectAiSdk6,
  connectAiSdk7,
  connectLangChain,
  type InteropClient,
  serverJson,
  TOOL_NAMES,
} from "../support/interop-harness.js";

interface Scenario {
  name: string;
  connect: () => Promise<InteropClient>;
  /** The protocol revision the library must end up on (a list: either), undefined where it does not say. */
  version: string | string[] | undefined;
  /** The library checks arguments against the advertised schema itself, and refuses null for an optional one. */
  refusesNull?: boolean;
}

const scenarios: Scenario[] = [
  { name: "AI SDK 6 (@ai-sdk/mcp 1.x) over stdio", connect: () => connectAiSdk6("stdio"), version: "2025-11-25" },
  { name: "AI SDK 6 (@ai-sdk/mcp 1.x) over HTTP", connect: () => connectAiSdk6("http"), version: "2025-11-25" },
  {
    name: "AI SDK 7 (@ai-sdk/mcp 2.x) over stdio, 2026-07-28",
    connect: () => connectAiSdk7("stdio", "modern"),
    version: "2026-07-28",
  },
  {
    name: "AI SDK 7 (@ai-sdk/mcp 2.x) over stdio, 2025 era (discovery off)",
    connect: () => connectAiSdk7("stdio", "legacy"),
    version: "2025-11-25",
  },
  {
    // Its default: server/discover, given up after 1 s (then initialize): which era depends on how fast the
    // server starts, and the server must serve whichever comes (also after answering the probe late).
    name: "AI SDK 7 (@ai-sdk/mcp 2.x) over stdio, default configuration",
    connect: () => connectAiSdk7("stdio", "default"),
    version: ["2026-07-28", "2025-11-25"],
  },
  {
    name: "AI SDK 7 (@ai-sdk/mcp 2.x) over HTTP, 2026-07-28 (its default)",
    connect: () => connectAiSdk7("http", "default"),
    version: "2026-07-28",
  },
  {
    name: "AI SDK 7 (@ai-sdk/mcp 2.x) over HTTP, 2025 era (discovery off)",
    connect: () => connectAiSdk7("http", "legacy"),
    version: "2025-11-25",
  },
  // The SDK 1.x stdio transport under LangChain keeps no record of the version (it offers 2025-11-25).
  {
    name: "LangChain (@langchain/mcp-adapters) over stdio",
    connect: () => connectLangChain("stdio"),
    version: undefined,
    refusesNull: true,
  },
  {
    name: "LangChain (@langchain/mcp-adapters) over HTTP",
    connect: () => connectLangChain("http"),
    version: "2025-11-25",
    refusesNull: true,
  },
];

// AI SDK 7 comes from the test cache (interop-harness.ts): where it cannot be installed, its rows are skipped.
const here = scenarios.filter((s) => typeof AI_SDK7 !== "string" || !s.name.startsWith("AI SDK 7"));
if (here.length < scenarios.length) console.log(`interop: AI SDK 7 tests skipped: ${AI_SDK7}`);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const COMMAND = "echo hello; sleep 30";

describe.each(here)("$name", ({ connect, version, refusesNull }) => {
  let client: InteropClient;
  beforeAll(async () => {
    client = await connect();
  }, 60_000);
  // Closes the library's client, stops the server and checks that nothing it started is left running.
  afterAll(() => client?.close(), 60_000);

  it("offers the nine tools, each through the library's own schema conversion", () => {
    expect([...client.toolNames].sort()).toEqual(TOOL_NAMES);
    if (Array.isArray(version)) expect(version).toContain(client.protocolVersion);
    else expect(client.protocolVersion).toBe(version);
  });

  it("runs a job: start, wait until its line, read it, kill it, list it", async () => {
    const started = await client.call("execute_command", { command: COMMAND });
    expect(started.isError).toBe(false);
    const { job_id: jobId, status } = serverJson(started);
    expect(jobId).toMatch(UUID);
    expect(status).toBe("running");

    const waited = await client.call("wait_for_job", { job_id: jobId, until: "hello", timeout_seconds: 30 });
    expect(waited.isError).toBe(false);
    expect(serverJson(waited)).toMatchObject({ status: "running", matched: true, match: "hello", timed_out: false });

    const output = await client.call("get_job_output", { job_id: jobId });
    expect(output.text).toContain("hello");
    expect(serverJson(output)).toMatchObject({ stdout: "hello\n", stderr: "", status: "running" });
    const tail = await client.call("tail_job_output", { job_id: jobId, lines: 10 });
    expect(serverJson(tail)).toMatchObject({ stdout: "hello", stderr: "" }); // lines, without the last newline

    const killed = await client.call("kill_job", { job_id: jobId });
    expect(killed.isError).toBe(false);
    expect(serverJson(killed)).toEqual({ status: "killed" });
    expect(serverJson(await client.call("get_job_status", { job_id: jobId }))).toMatchObject({
      job_id: jobId,
      status: "killed",
      exit_code: null,
      signal: "SIGTERM",
    });

    const listed = serverJson(await client.call("list_jobs", {}));
    expect(listed.jobs).toContainEqual(expect.objectContaining({ job_id: jobId, status: "killed", command: COMMAND }));
  });

  it("shows a failed call as an error with the server's message", async () => {
    const seen = await client.call("get_job_status", { job_id: "no-such-job" });
    expect(seen.isError).toBe(true);
    expect(seen.text).toContain("Job no-such-job not found");
  });

  // A model often sends null for an optional argument it means to leave out; the server reads it as absent.
  // LangChain refuses the null itself before sending (ToolInputParsingException: it validates the input
  // against the advertised inputSchema, where cwd is a plain string); the server does not advertise null
  // for every optional argument (that would make every tool definition longer for every host).
  (refusesNull ? it.fails : it)("treats null for an optional argument (cwd) as absent", async () => {
    const started = await client.call("execute_command", { command: "echo null-ok", cwd: null });
    expect(started.text).not.toContain("expected string, received null");
    expect(started.isError).toBe(false);
    const jobId = serverJson(started).job_id;
    expect(serverJson(await client.call("wait_for_job", { job_id: jobId, timeout_seconds: 30 }))).toMatchObject({
      status: "completed",
    });
  });
});
