import { type ChildProcess, spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { BIN } from "../support/harness.js";
import { tempDir } from "../support/helpers.js";

// The first answer of a stdio connection is given before the server loads the SDK (src/cli/first-answer.ts),
// from answers the build recorded by asking the server itself. These tests hold it to the server's
// own answers (MCP_BG_EARLY_ANSWER=0), byte for byte, for every kind it answers, every kind it must
// leave to the server, and what comes after.

interface Run {
  proc: ChildProcess;
  lines: string[];
  stderr: () => string;
  /** Resolves once `n` lines came on stdout. */
  next(n: number): Promise<string[]>;
  exited: Promise<number | null>;
}

function start(env: Record<string, string>, args: string[] = []): Run {
  const proc = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, MCP_BG_STATE_DIR: tempDir().path, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines: string[] = [];
  let rest = "";
  let err = "";
  const waiting: { n: number; resolve: (l: string[]) => void }[] = [];
  proc.stdout?.on("data", (chunk: Buffer) => {
    const parts = (rest + chunk.toString("utf8")).split("\n");
    rest = parts.pop() ?? "";
    lines.push(...parts);
    for (const w of waiting.splice(0)) {
      if (lines.length >= w.n) w.resolve(lines.slice(0, w.n));
      else waiting.push(w);
    }
  });
  proc.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString("utf8");
  });
  const exited = new Promise<number | null>((resolve) => proc.on("close", (code) => resolve(code)));
  return {
    proc,
    lines,
    stderr: () => err,
    next: (n) =>
      lines.length >= n ? Promise.resolve(lines.slice(0, n)) : new Promise((resolve) => waiting.push({ n, resolve })),
    exited,
  };
}

// The first line a server answers to `input` (written at once), with the early answer on or off.
async function firstLine(input: string, env: Record<string, string>, early: boolean) {
  const run = start({ MCP_BG_DEBUG: "1", ...env, ...(early ? {} : { MCP_BG_EARLY_ANSWER: "0" }) });
  run.proc.stdin?.write(input);
  const [line] = await run.next(1);
  run.proc.stdin?.end();
  await run.exited;
  return { line, early: run.stderr().includes("answered before the server was loaded") };
}

const request = (method: string, params: unknown, id: unknown = 1) =>
  `${JSON.stringify({ jsonrpc: "2.0", id, method, params })}\n`;
const initialize = (protocolVersion: string, extra: Record<string, unknown> = {}) =>
  request("initialize", { protocolVersion, capabilities: {}, clientInfo: { name: "t", version: "1" }, ...extra });
const discoverMeta = (revision: string) => ({
  "io.modelcontextprotocol/protocolVersion": revision,
  "io.modelcontextprotocol/clientInfo": { name: "t", version: "1" },
  "io.modelcontextprotocol/clientCapabilities": {},
});

describe("the first answer, given before the server is loaded", () => {
  const answered: [string, string, Record<string, string>][] = [
    ["initialize 2025-11-25", initialize("2025-11-25"), {}],
    ["initialize 2025-06-18", initialize("2025-06-18"), {}],
    ["initialize 2024-11-05 with keep-jobs", initialize("2024-11-05"), { MCP_BG_KEEP_JOBS: "1" }],
    ["initialize 2025-11-25 with a channel", initialize("2025-11-25"), { MCP_BG_NOTIFY_CHANNEL: "1" }],
    ["initialize of a version the server does not know", initialize("2099-01-01"), {}],
    [
      "initialize with a string id and client capabilities",
      request(
        "initialize",
        {
          protocolVersion: "2025-03-26",
          capabilities: { roots: { listChanged: true }, sampling: {} },
          clientInfo: { name: "t", version: "1", title: "T" },
        },
        "first",
      ),
      {},
    ],
    ["server/discover 2026-07-28", request("server/discover", { _meta: discoverMeta("2026-07-28") }), {}],
    [
      "server/discover with keep-jobs",
      request("server/discover", { _meta: discoverMeta("2026-07-28") }),
      { MCP_BG_KEEP_JOBS: "1" },
    ],
  ];
  for (const [what, input, env] of answered) {
    it(`${what}: answered early, exactly as the server answers it`, async () => {
      const [early, late] = await Promise.all([firstLine(input, env, true), firstLine(input, env, false)]);
      expect(early.early).toBe(true);
      expect(late.early).toBe(false);
      expect(early.line).toBe(late.line);
      expect(JSON.parse(early.line as string).result).toBeDefined();
    });
  }

  const leftAlone: [string, string][] = [
    ["an initialize with an envelope", initialize("2025-11-25", { _meta: discoverMeta("2026-07-28") })],
    ["an initialize without clientInfo", request("initialize", { protocolVersion: "2025-11-25", capabilities: {} })],
    ["an initialize with a capability that is not an object", initialize("2025-11-25", { capabilities: { roots: 1 } })],
    ["an initialize with a field the server does not know", initialize("2025-11-25", { extra: 1 })],
    ["an initialize with a fractional id", request("initialize", { protocolVersion: "2025-11-25" }, 1.5)],
    [
      "a discover of a revision the server does not serve",
      request("server/discover", { _meta: discoverMeta("2099-01-01") }),
    ],
    ["a 2026-era tools/list first", request("tools/list", { _meta: discoverMeta("2026-07-28") })],
    ["a batch", `[${initialize("2025-11-25").trim()}]\n`],
    ["a line that is not JSON", "{ not json\n"],
    ["a first line of 100 KB", initialize("2025-11-25", { clientInfo: { name: "x".repeat(100_000), version: "1" } })],
  ];
  for (const [what, input] of leftAlone) {
    it(`${what}: left to the server, answered as without the early answer`, async () => {
      // What the server answers nothing to is followed by an initialize: the first answer is then its.
      const then =
        input +
        request(
          "initialize",
          { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
          7,
        );
      const [early, late] = await Promise.all([firstLine(then, {}, true), firstLine(then, {}, false)]);
      expect(early.early).toBe(false);
      expect(early.line).toBe(late.line);
    });
  }

  it("what follows the first request in the same write is answered once each, in order", async () => {
    const run = start({});
    run.proc.stdin?.write(
      initialize("2025-11-25") +
        `${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n` +
        request("tools/list", {}, 2) +
        request(
          "tools/call",
          { name: "execute_command", arguments: { command: "echo early-$((40+2))", wait_seconds: 30 } },
          3,
        ),
    );
    // The three answers, among notifications (the job list changed).
    type Answer = {
      id?: unknown;
      result: { tools: unknown[]; structuredContent: { status: string; output?: string }; content: { text: string }[] };
    };
    let lines: Answer[] = [];
    for (let n = 3; lines.length < 3; n++)
      lines = (await run.next(n)).map((l) => JSON.parse(l)).filter((m) => "id" in m);
    expect(lines.map((m) => m.id)).toEqual([1, 2, 3]);
    const [, tools, call] = lines as [Answer, Answer, Answer];
    expect(tools.result.tools.length).toBe(9);
    expect(call.result.structuredContent.status).toBe("completed");
    expect(JSON.stringify(call.result)).toContain("early-42");
    run.proc.stdin?.end();
    expect(await run.exited).toBe(0);
    // Nothing more than the three answers (a notification that the job list changed aside): the
    // server's own answer to the first was dropped.
    expect(run.lines.map((l) => JSON.parse(l)).filter((m) => "id" in m)).toHaveLength(3);
  });

  it("a client that sends the rest later is served as usual", async () => {
    const run = start({});
    run.proc.stdin?.write(initialize("2025-11-25"));
    await run.next(1);
    run.proc.stdin?.write(request("tools/list", {}, 2));
    const [, second] = await run.next(2);
    expect(JSON.parse(second as string).id).toBe(2);
    run.proc.stdin?.end();
    expect(await run.exited).toBe(0);
  });

  it("stdin closed before a whole line: the server stops, answering nothing", async () => {
    for (const input of ["", '{"jsonrpc":"2.0","id":1,"method":"initial']) {
      const run = start({});
      run.proc.stdin?.end(input);
      expect(await run.exited).toBe(0);
      expect(run.lines.join("")).toBe("");
    }
  });

  it("a setting in error stops the server with one line and exit code 2, answering nothing", async () => {
    const run = start({ MCP_BG_MAX_JOBS: "lots" });
    run.proc.stdin?.write(initialize("2025-11-25"));
    expect(await run.exited).toBe(2);
    expect(run.lines.join("")).toBe("");
    expect(run.stderr()).toMatch(/^mcp-bg-jobs: .*MCP_BG_MAX_JOBS/);
  });
});
