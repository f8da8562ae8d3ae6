import { spawn } from "node:child_process";
import { Client, StreamableHTTPClientTransport, type Transport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { JsonRpcResponseError, type TaskEnabledSession } from "@modelcontextprotocol/ext-tasks/client";
import type { JsonValue } from "@modelcontextprotocol/ext-tasks/core";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { BIN, cleanEnv } from "../support/harness.js";
import { tempDir } from "../support/helpers.js";
import { type HttpServer, startHttpServer } from "../support/http-harness.js";
import { CLIENT_INFO, MODERN, modernMeta, type RawWire, taskSession, until } from "../support/tasks-harness.js";

// MCP tasks, driven by @modelcontextprotocol/ext-tasks' own client (a client nobody here wrote),
// over stdio and HTTP, for the 2025-11-25 tasks and the 2026-07-28 extension.

type Kind = "stdio" | "http";
type Result = { structuredContent?: Record<string, unknown>; content: { text?: string }[]; isError?: boolean };

/** A server on a state dir, and a client with a task session on it. */
interface Connected {
  client: Client;
  transport: Transport;
  session: TaskEnabledSession;
  wire: RawWire;
  /** Plain tools/call, as any client makes it. */
  plain(name: string, args: Record<string, unknown>): Promise<Result>;
  /** Closes the task session and stops the server (SIGTERM, its normal stop); waits for it to exit. */
  stop(): Promise<void>;
  /** Stops the server first, as when it restarts under a client (its session is closed after). */
  restart(): Promise<void>;
}

const state = tempDir("mcp-bg-tasks-");
const servers: { stop(): Promise<void> }[] = [];
afterAll(() => state.remove());

async function connect(kind: Kind, modern: boolean, env: Record<string, string> = {}): Promise<Connected> {
  const client = new Client(CLIENT_INFO, modern ? { versionNegotiation: { mode: { pin: MODERN } } } : {});
  let transport: Transport;
  let stop: () => Promise<void>;
  const environment = { MCP_BG_STATE_DIR: state.path, MCP_BG_KEEP_JOBS: "1", ...env };
  if (kind === "stdio") {
    const stdio = new StdioClientTransport({
      command: process.execPath,
      args: [BIN],
      env: { ...cleanEnv(), ...environment },
      stderr: "pipe",
    });
    transport = stdio;
    await client.connect(stdio);
    const pid = stdio.pid as number;
    stop = async () => {
      if (alive(pid)) process.kill(pid, "SIGTERM");
      await until(() => !alive(pid), 10_000, "the server to stop");
      await client.close().catch(() => {});
    };
  } else {
    const server: HttpServer = await startHttpServer([], environment);
    transport = new StreamableHTTPClientTransport(new URL(server.url));
    await client.connect(transport);
    stop = async () => {
      await client.close().catch(() => {});
      server.proc.kill("SIGTERM");
      await new Promise((r) => (server.proc.exitCode === null ? server.proc.on("close", r) : r(null)));
      await server.close();
    };
  }
  const { session, wire } = taskSession(client, transport, modern);
  const connected: Connected = {
    client,
    transport,
    session,
    wire,
    plain: async (name, args) => (await client.callTool({ name, arguments: args })) as Result,
    stop: async () => {
      await session.close().catch(() => {});
      await stop();
    },
    restart: async () => {
      await stop();
      await session.close().catch(() => {});
    },
  };
  servers.push(connected);
  return connected;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Calls a tool through the task session: as a task where the server makes one. */
async function taskCall(c: Connected, name: string, args: Record<string, JsonValue>) {
  const execution = await c.session.callTool(name, args, { task: { preference: "prefer" } });
  if (execution.kind !== "task") throw new Error(`${name} did not run as a task`);
  return execution;
}

const started = async (c: Connected, command: string) =>
  (await c.plain("execute_command", { command })).structuredContent?.job_id as string;

/** A snapshot's status message. */
const statusOf = async (c: Connected, taskId: string) => {
  const view = await c.session.task(taskId as never).snapshot();
  return { status: view.status, message: view.statusMessage ?? "" };
};

afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop().catch(() => {});
});

describe.each([
  ["stdio", false],
  ["stdio", true],
  ["http", false],
  ["http", true],
] as [Kind, boolean][])("tasks over %s (2026-07-28: %s)", (kind, modern) => {
  const gen = modern ? "v2" : "v1";

  it("runs wait_for_job as a task that ends with its job, answering what the plain call answers", async () => {
    const c = await connect(kind, modern);
    expect(c.session.capabilities.execution).toBe(true);
    const job = await started(c, "sleep 1.5; echo finished");
    const execution = await taskCall(c, "wait_for_job", { job_id: job, timeout_seconds: 60 });
    const first = await statusOf(c, execution.handle.taskId);
    expect(first).toEqual({ status: "working", message: `Waiting for job ${job} to end` });
    const { outcome } = await execution.settle();
    expect(outcome.status).toBe("completed");
    const result = (outcome as { result: Result }).result;
    const plain = await c.plain("wait_for_job", { job_id: job, timeout_seconds: 60 });
    expect(result.structuredContent).toEqual(plain.structuredContent);
    expect(result.content).toEqual(plain.content);
    expect(result.structuredContent).toMatchObject({ status: "completed", exit_code: 0, timed_out: false });
    // Settled, it says how the job ended.
    expect(await statusOf(c, execution.handle.taskId)).toEqual({
      status: "completed",
      message: `Job ${job} completed: ${plain.structuredContent?.outcome}`,
    });
  });

  it("a task of execute_command has its job's id: the job's tools take it at once; settled, it says what matched", async () => {
    const c = await connect(kind, modern);
    const execution = await taskCall(c, "execute_command", {
      command: "echo starting; read go; echo ready; sleep 30",
      wait_until: "^ready$",
      wait_seconds: 20,
    });
    const id = execution.handle.taskId as string;
    // What a host shows of the task (Claude Code: only its id) is enough to act on the job.
    expect((await c.plain("get_job_status", { job_id: id })).structuredContent).toMatchObject({
      job_id: id,
      status: "running",
    });
    await c.plain("wait_for_job", { job_id: id, until: "^starting$", timeout_seconds: 45 });
    expect((await c.plain("tail_job_output", { job_id: id })).structuredContent).toMatchObject({ stdout: "starting" });
    await c.plain("interact_with_job", { job_id: id, input: "go" });
    const { outcome } = await execution.settle();
    expect((outcome as { result: Result }).result.structuredContent).toMatchObject({ job_id: id, matched: true });
    // Settled while the job runs on: the message says what the task did, not "Still running: ...".
    expect(await statusOf(c, id)).toEqual({ status: "completed", message: `Job ${id} is running; matched: ready` });
    await c.plain("kill_job", { job_id: id });
  });

  it("runs execute_command with wait_until as a task, and a wait past the call bound", async () => {
    // One call waits at most 2 s here; a task is not bound by a request.
    const c = await connect(kind, modern, { MCP_BG_CALL_TIMEOUT: "2" });
    const execution = await taskCall(c, "execute_command", {
      command: "sleep 3; echo ready; sleep 30",
      wait_until: "ready",
      wait_seconds: 20,
    });
    const { outcome } = await execution.settle();
    const answer = (outcome as { result: Result }).result.structuredContent ?? {};
    expect(answer).toMatchObject({ status: "running", matched: true, match: "ready", stream: "stdout" });
    expect(await statusOf(c, execution.handle.taskId)).toMatchObject({ status: "completed" });
    // The same call made plainly gives up at the bound and says how to wait on.
    const plain = await c.plain("execute_command", {
      command: "sleep 3; echo ready",
      wait_until: "ready",
      wait_seconds: 20,
    });
    expect(plain.structuredContent).toMatchObject({ status: "running", matched: false, timed_out: true });
    expect(Object.keys(answer).sort()).toEqual(Object.keys(plain.structuredContent ?? {}).sort());
    for (const id of [answer.job_id, plain.structuredContent?.job_id]) await c.plain("kill_job", { job_id: id });
  });

  it("cancelling a task stops its wait; the job keeps running", async () => {
    const c = await connect(kind, modern);
    const job = await started(c, "sleep 60");
    const execution = await taskCall(c, "wait_for_job", { job_id: job, timeout_seconds: 600 });
    await execution.cancel();
    const view = await statusOf(c, execution.handle.taskId);
    expect(view.status).toBe("cancelled");
    expect(view.message).toBe(`Cancelled: stopped waiting; job ${job} keeps running (kill_job stops it)`);
    expect((await c.plain("get_job_status", { job_id: job })).structuredContent).toMatchObject({ status: "running" });
    await c.plain("kill_job", { job_id: job });
    // Cancelled it stays, though the job has ended since.
    await new Promise((r) => setTimeout(r, 300));
    expect((await statusOf(c, execution.handle.taskId)).status).toBe("cancelled");
  });

  it("tells of a task's status as it settles", async () => {
    const c = await connect(kind, modern);
    const job = await started(c, "sleep 1; exit 3");
    const execution = await taskCall(c, "wait_for_job", { job_id: job });
    const taskId = execution.handle.taskId;
    let listen: Promise<unknown> | undefined;
    if (modern) {
      listen = c.wire.dispatch({
        method: "subscriptions/listen",
        params: { notifications: { taskIds: [taskId, "no-such-task"] }, _meta: modernMeta() },
      });
    }
    const method = modern ? "notifications/tasks" : "notifications/tasks/status";
    const seen = () => c.wire.notifications.find((n) => n.method === method) as { params: Record<string, unknown> };
    await until(() => seen() !== undefined, 15_000, method);
    expect(seen().params).toMatchObject({ taskId, status: "completed" });
    if (modern) {
      const ack = c.wire.notifications.find((n) => n.method === "notifications/subscriptions/acknowledged");
      expect(ack).toMatchObject({ params: { notifications: { taskIds: [taskId] } } });
      // The notification carries the result; once all its tasks settled, the listen ends.
      expect(seen().params.result).toMatchObject({ structuredContent: { status: "failed", exit_code: 3 } });
      expect(await listen).toMatchObject({ kind: "result" });
      // A listen for tasks from a client that did not declare them is refused.
      const refused = await c.wire.dispatch({
        method: "subscriptions/listen",
        params: { notifications: { taskIds: [taskId] }, _meta: modernMeta(false) },
      });
      expect(refused).toMatchObject({ kind: "error", error: { code: -32021 } });
    }
    await execution.settle();
  });

  it("a task one server runs is told of on another server on the same state dir (settled there, or cancelled here)", async () => {
    const a = await connect(kind, modern);
    const b = await connect(kind, modern);
    const job = await started(a, "sleep 1.5");
    const execution = await taskCall(a, "wait_for_job", { job_id: job });
    const taskId = execution.handle.taskId;
    if (modern) {
      // A listen on b for a's task: b sees it settle in the database, tells its listener, and ends.
      const listen = b.wire.dispatch({
        method: "subscriptions/listen",
        params: { notifications: { taskIds: [taskId] }, _meta: modernMeta() },
      });
      const seen = () => b.wire.notifications.find((n) => n.method === "notifications/tasks");
      await until(() => seen() !== undefined, 15_000, "notifications/tasks on the other server");
      expect(seen()).toMatchObject({ params: { taskId, status: "completed" } });
      expect(await listen).toMatchObject({ kind: "result" });
    } else {
      // b cancels a's task; a's wait ends (the job ends) before a looks at the database again: a still
      // tells its client that the task was cancelled.
      const ending = await started(a, "sleep 1");
      const other = await taskCall(a, "wait_for_job", { job_id: ending, timeout_seconds: 60 });
      await b.session.task(other.handle.taskId as never).cancel();
      const status = () =>
        a.wire.notifications.find(
          (n) =>
            n.method === "notifications/tasks/status" &&
            (n.params as { taskId?: string }).taskId === other.handle.taskId,
        ) as { params: { status: string } } | undefined;
      await until(() => status() !== undefined, 15_000, "the cancelled task's status on the server that ran it");
      expect(status()?.params.status).toBe("cancelled");
      expect((await statusOf(a, other.handle.taskId)).status).toBe("cancelled");
    }
    await execution.settle();
  });

  it("keeps tasks across a server restart, and takes up a wait under way", async () => {
    const a = await connect(kind, modern);
    const quick = await started(a, "echo quick");
    const done = await taskCall(a, "wait_for_job", { job_id: quick });
    const doneResult = (await done.settle()).outcome;
    const job = await started(a, "sleep 3; echo late");
    const waiting = await taskCall(a, "wait_for_job", { job_id: job, timeout_seconds: 120 });
    const reference = waiting.serializeReference();
    await a.restart();

    const b = await connect(kind, modern);
    expect((await b.session.task(done.handle.taskId).result()).status).toBe("completed");
    expect(await b.session.task(done.handle.taskId).result()).toMatchObject({
      result: (doneResult as { result: object }).result,
    });
    const resumed = await b.session.resumeTask(reference);
    const { outcome } = await resumed.settle();
    expect(outcome.status).toBe("completed");
    const plain = await b.plain("wait_for_job", { job_id: job });
    expect((outcome as { result: Result }).result.structuredContent).toEqual(plain.structuredContent);
    expect(plain.structuredContent).toMatchObject({ status: "completed", exit_code: 0 });
  });

  it("answers unknown task ids with a clear error", async () => {
    const c = await connect(kind, modern);
    for (const call of [
      () => c.session.task("no-such-task" as never).snapshot(),
      () => c.session.cancelTask("nope" as never),
    ]) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(JsonRpcResponseError);
      expect(err).toMatchObject({ code: -32602 });
      expect((err as Error).message).toMatch(/^Task no(-such-task|pe) not found/);
    }
    if (modern) {
      // Task requests from a client that did not declare the extension are refused.
      const refused = await c.wire.dispatch({
        method: "tasks/get",
        params: { taskId: "no-such-task", _meta: modernMeta(false) },
      });
      expect(refused).toMatchObject({ kind: "error", error: { code: -32021 } });
      // tasks/result is 2025-11-25's: method not found (over HTTP a 404, which the client reports as such).
      const result = await c.wire.dispatch({ method: "tasks/result", params: { taskId: "x", _meta: modernMeta() } });
      expect(result).toMatchObject({ kind: "error" });
      expect(JSON.stringify(result)).toMatch(/-32601|Method not found/);
    }
  });

  if (!modern && kind === "stdio")
    it("a client of an earlier protocol (2025-06-18) sees no tasks: no taskSupport, and `task` is ignored", async () => {
      // Spoken to line by line: the SDK client of this version negotiates 2025-11-25 at the least.
      const proc = spawn(process.execPath, [BIN], {
        env: { ...cleanEnv(), MCP_BG_STATE_DIR: state.path, MCP_BG_KEEP_JOBS: "1" },
        stdio: ["pipe", "pipe", "ignore"],
      });
      const answers = new Map<number, Record<string, unknown>>();
      let buffered = "";
      proc.stdout.on("data", (c: Buffer) => {
        buffered += c.toString();
        for (let at = buffered.indexOf("\n"); at !== -1; at = buffered.indexOf("\n")) {
          const m = JSON.parse(buffered.slice(0, at)) as { id?: number };
          if (typeof m.id === "number") answers.set(m.id, m);
          buffered = buffered.slice(at + 1);
        }
      });
      let id = 0;
      const ask = async (method: string, params: object) => {
        const n = ++id;
        proc.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: n, method, params })}\n`);
        await until(() => answers.has(n), 15_000, method);
        return answers.get(n) as { result: Record<string, unknown> };
      };
      try {
        const init = await ask("initialize", {
          protocolVersion: "2025-06-18",
          capabilities: {},
          clientInfo: CLIENT_INFO,
        });
        expect(init.result.protocolVersion).toBe("2025-06-18");
        // Offered neither the 2025-11-25 capability nor the 2026-07-28 extension.
        expect(init.result.capabilities).not.toHaveProperty("tasks");
        expect(init.result.capabilities).not.toHaveProperty("extensions");
        proc.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`);
        const { tools } = (await ask("tools/list", {})).result as unknown as { tools: object[] };
        expect(tools.filter((t) => "execution" in t)).toEqual([]);
        const job = (await ask("tools/call", { name: "execute_command", arguments: { command: "echo old" } })).result
          .structuredContent as unknown as { job_id: string };
        const call = await ask("tools/call", { name: "wait_for_job", arguments: { job_id: job.job_id }, task: {} });
        expect(call.result).not.toHaveProperty("task");
        expect(call.result).toMatchObject({ structuredContent: { status: "completed", exit_code: 0 } });
      } finally {
        proc.kill("SIGTERM");
      }
    });

  it("declares tasks as its era knows them; a null in `task` counts as absent, a wrong type is invalid params", async () => {
    const c = await connect(kind, modern);
    const caps = c.client.getServerCapabilities() as Record<string, unknown>;
    if (modern) {
      expect(caps).toMatchObject({ extensions: { "io.modelcontextprotocol/tasks": {} } });
      expect(caps).not.toHaveProperty("tasks");
      return;
    }
    expect(caps).toMatchObject({ tasks: { list: {}, cancel: {} } });
    expect(caps).not.toHaveProperty("extensions");
    const job = await started(c, "echo x");
    // Raw, past the SDK client's own checks of what it sends and gets.
    const call = (task: JsonValue) =>
      c.wire.dispatch({ method: "tools/call", params: { name: "wait_for_job", arguments: { job_id: job }, task } });
    expect(await call({ ttl: null })).toMatchObject({
      kind: "result",
      result: { task: { status: "working", ttl: 86_400_000 } },
    });
    expect(await call({ ttl: "soon" })).toMatchObject({
      kind: "error",
      error: { code: -32602, message: expect.stringMatching(/^Invalid params for tools\/call: params\.task\.ttl: /) },
    });
  });

  it("changes nothing for a client that takes no tasks", async () => {
    const c = await connect(kind, modern);
    const job = await started(c, "echo same");
    const args = { job_id: job };
    const plain = await c.plain("wait_for_job", args);
    expect(plain.structuredContent).toMatchObject({ status: "completed", exit_code: 0 });
    expect(plain).not.toHaveProperty("task");
    expect(plain).not.toHaveProperty("resultType", "task");
    // The session too calls a tool that makes no task plainly.
    const listed = await c.session.callTool("list_jobs", {});
    expect(listed.kind).toBe("immediate");
    if (modern) {
      // A 2026-07-28 request without the extension gets the plain answer, never a task.
      const raw = await c.wire.dispatch({
        method: "tools/call",
        params: { name: "wait_for_job", arguments: args, _meta: modernMeta(false) },
      });
      expect(raw).toMatchObject({ kind: "result", result: { resultType: "complete" } });
      expect((raw as unknown as { result: Result }).result.structuredContent).toEqual(plain.structuredContent);
    }
  });

  it(`${gen === "v1" ? "lists a connection's own tasks, and refuses a task for a tool without" : "never offers tasks/list"}`, async () => {
    const c = await connect(kind, modern);
    const job = await started(c, "sleep 30");
    const one = await taskCall(c, "wait_for_job", { job_id: job, timeout_seconds: 0.2 });
    const two = await taskCall(c, "wait_for_job", { job_id: job, timeout_seconds: 0.2 });
    await Promise.all([one.settle(), two.settle()]);
    if (modern) {
      await expect(c.session.listTasks()).rejects.toThrow(/not supported/);
    } else {
      const page = await c.session.listTasks();
      expect(page.tasks.map((t) => t.taskId).sort()).toEqual([one.handle.taskId, two.handle.taskId].sort());
      expect(page.tasks[0]).toMatchObject({ status: "completed", pollInterval: 1000 });
      const refused = await c.client
        .request({ method: "tools/call", params: { name: "list_jobs", arguments: {}, task: {} } })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(refused).toMatchObject({ code: -32601 });
      if (kind === "http") {
        // Another connection does not see them (but may read one by its id).
        const other = await connect(kind, modern);
        expect((await other.session.listTasks()).tasks).toEqual([]);
        expect((await other.session.task(one.handle.taskId).snapshot()).status).toBe("completed");
      }
    }
    await c.plain("kill_job", { job_id: job });
  });
});
