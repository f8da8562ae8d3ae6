/**
 * The server as third-party MCP client libraries see it: the Vercel AI SDK's MCP client (`@ai-sdk/mcp` 1.x,
 * which goes with AI SDK 6, and 2.x, which goes with AI SDK 7) and LangChain's `@langchain/mcp-adapters`.
 * Each is driven the way its users drive it (the library starts the stdio server itself, or is pointed at
 * an HTTP URL) and answers with what the library hands on to the model or agent.
 */
import { spawnSync } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createMCPClient as createMCPClient6 } from "@ai-sdk/mcp";
import { Experimental_StdioMCPTransport as StdioTransport6 } from "@ai-sdk/mcp/mcp-stdio";
import type { DynamicStructuredTool } from "@langchain/core/tools";
import { MultiServerMCPClient } from "@langchain/mcp-adapters";
import { BIN, cleanEnv } from "./harness.js";
import { isAlive, tempDir, waitFor } from "./helpers.js";
import { startHttpServer } from "./http-harness.js";

/**
 * AI SDK 7's MCP client (`@ai-sdk/mcp` 2.x), or why it is not here. It wants Node >= 22, so it is not a
 * dev dependency (`npm ci` printed EBADENGINE for it on the Node 20 the package supports): it is
 * installed into the test cache by scripts/install-test-deps.mjs (a second when it is there) and
 * imported from there. Its API is 1.x's.
 */
export const AI_SDK7: { createMCPClient: typeof createMCPClient6; StdioTransport: typeof StdioTransport6 } | string =
  await (async () => {
    const script = fileURLToPath(new URL("../../scripts/install-test-deps.mjs", import.meta.url));
    const r = spawnSync(process.execPath, [script, "--json", "ai-sdk7"], { encoding: "utf8", timeout: 10 * 60_000 });
    let found: { folder?: string; error?: string } | undefined;
    try {
      found = JSON.parse((r.stdout ?? "").trim().split("\n").at(-1) ?? "")["ai-sdk7"];
    } catch {}
    if (!found?.folder) return found?.error ?? `install-test-deps.mjs failed: ${(r.stderr ?? "").slice(-300)}`;
    const dist = join(found.folder, "node_modules", "@ai-sdk", "mcp", "dist");
    const main = await import(pathToFileURL(join(dist, "index.js")).href);
    const stdio = await import(pathToFileURL(join(dist, "mcp-stdio", "index.js")).href);
    return { createMCPClient: main.createMCPClient, StdioTransport: stdio.Experimental_StdioMCPTransport };
  })();

/** The nine tools every client must be offered. */
export const TOOL_NAMES = [
  "execute_command",
  "get_job_output",
  "get_job_status",
  "interact_with_job",
  "kill_job",
  "list_jobs",
  "search_job_output",
  "tail_job_output",
  "wait_for_job",
];

/** What a tool call gave, as the library hands it on to the model or agent. */
export interface Seen {
  /** The text the model would be shown. */
  text: string;
  isError: boolean;
}

/** One library connected to one server. */
export interface InteropClient {
  /** Names of the tools the library built from tools/list (after its own schema conversion). */
  toolNames: string[];
  /** The protocol revision in use, where the library tells it. */
  protocolVersion: string | undefined;
  call(name: string, args: Record<string, unknown>): Promise<Seen>;
  /** Closes the library's client, stops the server (stdio: the library does; HTTP: SIGTERM) and checks that
   * every process of the server and its jobs is gone (SIGKILLing and reporting any that is not). */
  close(): Promise<void>;
}

export type Transport = "stdio" | "http";

/**
 * Every process started for one server carries this variable (the server passes its environment on to its
 * shepherds and jobs): how the tests find what was left running, whichever library started the server.
 */
const MARK_VAR = "INTEROP_TEST_MARK";

function newMark(): string {
  return `interop-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Live (not zombie) processes whose environment carries the mark. */
function markedProcesses(mark: string): number[] {
  const entry = `${MARK_VAR}=${mark}`;
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, "latin1").split("\0").includes(entry) && isAlive(Number(name))) {
        found.push(Number(name));
      }
    } catch {}
  }
  return found;
}

/** Waits (generously: a loaded machine) until no marked process is left; SIGKILLs stragglers and throws. */
async function reap(mark: string, what: string): Promise<void> {
  try {
    await waitFor(() => markedProcesses(mark).length === 0, 20_000, 50);
  } catch {
    const left = markedProcesses(mark);
    const lines = left.map((pid) => `${pid}: ${readCmdline(pid)}`);
    for (const pid of left) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    throw new Error(`${what}: processes still running 20 s after the close (now SIGKILLed):\n${lines.join("\n")}`);
  }
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
  } catch {
    return "?";
  }
}

/** Runs every step in order, whatever fails, then throws the first failure. */
async function inOrder(steps: (() => unknown)[]): Promise<void> {
  let failure: unknown;
  for (const step of steps) {
    try {
      await step();
    } catch (e) {
      failure ??= e;
    }
  }
  if (failure) throw failure;
}

/** A state dir and a log file for a stdio server that a library starts. */
function stdioSetup() {
  const state = tempDir("mcp-bg-state-");
  const logs = tempDir("mcp-bg-interop-log-");
  const logPath = join(logs.path, "stderr.log");
  const mark = newMark();
  const env = { MCP_BG_STATE_DIR: state.path, [MARK_VAR]: mark };
  const log = () => {
    try {
      return readFileSync(logPath, "utf8");
    } catch {
      return "";
    }
  };
  const remove = () => {
    state.remove();
    logs.remove();
  };
  return { env, mark, logPath, log, remove };
}

/** The HTTP server on a free port, stopped as an operator would stop it (SIGTERM), then checked. */
async function httpSetup() {
  const mark = newMark();
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  try {
    server = await startHttpServer([], { [MARK_VAR]: mark });
  } catch (e) {
    await reap(mark, "HTTP server that did not start").catch(() => {}); // what it started, if anything
    throw e;
  }
  return {
    url: server.url,
    async stop() {
      await inOrder([
        async () => {
          if (server.proc.exitCode !== null || server.proc.signalCode !== null) return;
          const exited = new Promise((r) => server.proc.once("close", r));
          server.proc.kill("SIGTERM");
          let timer: NodeJS.Timeout | undefined;
          const deadline = new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`the HTTP server did not stop on SIGTERM: ${server.stderr()}`)),
              20_000,
            );
          });
          await Promise.race([exited, deadline]).finally(() => clearTimeout(timer));
        },
        () => reap(mark, "HTTP server"),
        () => server.close(),
      ]);
    },
  };
}

const noCallOptions = (toolCallId: string) => ({ toolCallId, messages: [] });

/** What the AI SDK shows the model for a tool result: the text parts of `toModelOutput`. */
async function aiSdkSeen(
  tool: { toModelOutput?: (o: never) => unknown },
  toolCallId: string,
  input: unknown,
  output: { isError?: boolean },
): Promise<Seen> {
  if (!tool.toModelOutput) throw new Error("the AI SDK tool has no toModelOutput");
  const model = (await tool.toModelOutput({ toolCallId, input, output } as never)) as {
    type: string;
    value: unknown;
  };
  if (model.type !== "content") throw new Error(`unexpected model output ${JSON.stringify(model)}`);
  const text = (model.value as { type: string; text?: string }[]).map((p) => p.text ?? "").join("");
  return { text, isError: output.isError === true };
}

let callCounter = 0;

type AiSdkTool = {
  execute?: (input: never, options: never) => unknown;
  toModelOutput?: (o: never) => unknown;
};

/** An AI SDK client of either major, as far as these tests use it. */
interface AiSdkClient {
  tools(): Promise<Record<string, AiSdkTool>>;
  close(): Promise<void>;
}

/**
 * A stdio server that an AI SDK client starts itself (`connect` creates the client on the transport it is
 * given a log fd for); closing the client stops the server (the transport SIGTERMs it).
 */
async function aiSdkStdio(
  what: string,
  connect: (
    env: Record<string, string>,
    stderrFd: number,
  ) => Promise<{
    client: AiSdkClient;
    version: () => string | undefined;
  }>,
): Promise<InteropClient> {
  const setup = stdioSetup();
  const fd = openSync(setup.logPath, "a");
  let connected: Awaited<ReturnType<typeof connect>> | undefined;
  const close = () =>
    inOrder([
      () => connected?.client.close(),
      () => reap(setup.mark, `${what} (${setup.log()})`),
      () => setup.remove(),
    ]);
  try {
    connected = await connect(setup.env, fd);
    const tools = await connected.client.tools();
    return aiSdkTools(tools, connected.version(), close);
  } catch (e) {
    await close().catch(() => {});
    throw e;
  } finally {
    closeSync(fd); // the server has its own copy
  }
}

/**
 * AI SDK 6 (`@ai-sdk/mcp` 1.x): 2025 era only (initialize; it offers 2025-11-25). Over stdio it starts the
 * server itself; over HTTP it speaks Streamable HTTP.
 */
export async function connectAiSdk6(transport: Transport): Promise<InteropClient> {
  if (transport === "stdio") {
    return aiSdkStdio("AI SDK 6 stdio server", async (env, stderr) => {
      const stdio = new StdioTransport6({ command: process.execPath, args: [BIN], env, stderr });
      const client = await createMCPClient6({ transport: stdio, name: "interop-ai-sdk-6" });
      // The client records the negotiated version on the transport (MCPTransport.protocolVersion).
      return { client, version: () => (stdio as { protocolVersion?: string }).protocolVersion };
    });
  }
  const server = await httpSetup();
  // The version this client sends in MCP-Protocol-Version after initialize (it keeps no public record of it).
  let sentVersion: string | undefined;
  const recordingFetch: typeof fetch = (input, init) => {
    const version = new Headers(init?.headers).get("mcp-protocol-version");
    if (version) sentVersion = version;
    return fetch(input, init);
  };
  let client: AiSdkClient | undefined;
  const close = () => inOrder([() => client?.close(), () => server.stop()]);
  try {
    client = await createMCPClient6({ transport: { type: "http", url: server.url, fetch: recordingFetch } });
    return aiSdkTools(await client.tools(), sentVersion, close);
  } catch (e) {
    await close().catch(() => {});
    throw e;
  }
}

/**
 * AI SDK 7 (`@ai-sdk/mcp` 2.x). `era`: "modern" makes it use 2026-07-28 (it probes with server/discover);
 * "legacy" turns the probe off (initialize, 2025-11-25); "default" is its default configuration, where
 * over stdio the probe gives up after 1 s and falls back to initialize (so either era may come out).
 */
export async function connectAiSdk7(
  transport: Transport,
  era: "modern" | "legacy" | "default",
): Promise<InteropClient> {
  if (typeof AI_SDK7 === "string") throw new Error(`AI SDK 7 is not here: ${AI_SDK7}`);
  const { createMCPClient: createMCPClient7, StdioTransport: StdioTransport7 } = AI_SDK7;
  const options = {
    clientName: "interop-ai-sdk-7",
    protocolVersionDiscovery: era !== "legacy",
    // It reports each server notification (list_changed) and a late discovery answer here: not failures.
    onUncaughtError: () => {},
  };
  if (transport === "stdio") {
    return aiSdkStdio("AI SDK 7 stdio server", async (env, stderr) => {
      const stdio = new StdioTransport7({ command: process.execPath, args: [BIN], env, stderr });
      // The stdio transport gives server/discover 1 s, then assumes a 2025-era server; a server start on a
      // loaded machine can take longer. A transport that always gets an answer may say so (a documented
      // MCPTransport property, which the HTTP transport sets): the client then waits for the answer.
      if (era === "modern") Object.assign(stdio, { waitsForProtocolVersionDiscovery: true });
      const client = await createMCPClient7({ transport: stdio, ...options });
      return { client, version: () => versionOf7(client) };
    });
  }
  const server = await httpSetup();
  let client: Awaited<ReturnType<typeof createMCPClient7>> | undefined;
  const close = () => inOrder([() => client?.close(), () => server.stop()]);
  try {
    client = await createMCPClient7({ transport: { type: "http", url: server.url }, ...options });
    return aiSdkTools(await client.tools(), versionOf7(client), close);
  } catch (e) {
    await close().catch(() => {});
    throw e;
  }
}

// The protocol version a 2.x client ended up on (typed with 1.x's API, which does not say it).
const versionOf7 = (client: unknown) =>
  (client as { initializeResult: { protocolVersion: string } }).initializeResult.protocolVersion;

function aiSdkTools(
  tools: Record<string, AiSdkTool>,
  protocolVersion: string | undefined,
  close: () => Promise<void>,
): InteropClient {
  return {
    toolNames: Object.keys(tools),
    protocolVersion,
    async call(name, args) {
      const tool = tools[name];
      if (!tool?.execute) throw new Error(`no AI SDK tool ${name}`);
      const id = `call-${++callCounter}`;
      const output = (await tool.execute(args as never, noCallOptions(id) as never)) as { isError?: boolean };
      return aiSdkSeen(tool, id, args, output);
    },
    close,
  };
}

/**
 * LangChain (`@langchain/mcp-adapters`, on the official SDK 1.x client: 2025 era only). Tools are called as
 * an agent calls them (a tool call in, a ToolMessage out); a result with isError comes out as a thrown
 * ToolException, which an agent's tool node turns into an error message.
 */
export async function connectLangChain(transport: Transport): Promise<InteropClient> {
  let stdio: ReturnType<typeof stdioSetup> | undefined;
  let server: Awaited<ReturnType<typeof httpSetup>> | undefined;
  let stderr = "";
  if (transport === "stdio") stdio = stdioSetup();
  else server = await httpSetup();
  const client = new MultiServerMCPClient({
    mcpServers: {
      jobs: stdio
        ? {
            transport: "stdio",
            command: process.execPath,
            args: [BIN],
            env: { ...cleanEnv(), ...stdio.env },
            stderr: "pipe",
          }
        : { transport: "http", url: server?.url ?? "" },
    },
    useStandardContentBlocks: false,
  });
  const close = () =>
    inOrder([
      () => client.close(),
      () => (stdio ? reap(stdio.mark, `LangChain stdio server (${stderr})`) : undefined),
      () => stdio?.remove(),
      () => server?.stop(),
    ]);
  let tools: DynamicStructuredTool[];
  let protocolVersion: string | undefined;
  try {
    tools = (await client.getTools()) as DynamicStructuredTool[];
    const sdkClient = await client.getClient("jobs");
    const sdkTransport = sdkClient?.transport as
      | { protocolVersion?: string; stderr?: NodeJS.ReadableStream | null }
      | undefined;
    sdkTransport?.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    // The SDK 1.x stdio transport keeps no record of the version (it offers 2025-11-25); HTTP's does.
    protocolVersion = sdkTransport?.protocolVersion;
  } catch (e) {
    await close().catch(() => {});
    throw e;
  }
  return {
    toolNames: tools.map((t) => t.name),
    protocolVersion,
    async call(name, args) {
      const tool = tools.find((t) => t.name === name);
      if (!tool) throw new Error(`no LangChain tool ${name}`);
      try {
        const message = await tool.invoke({ type: "tool_call", id: `call-${++callCounter}`, name, args });
        const content = (message as { content: unknown }).content;
        return { text: typeof content === "string" ? content : JSON.stringify(content), isError: false };
      } catch (e) {
        return { text: `${(e as Error).name}: ${(e as Error).message}`, isError: true };
      }
    },
    close,
  };
}

/**
 * The server's JSON result inside what the model is shown. The AI SDK shows the server's text block as it
 * is; LangChain, when a result has structuredContent, shows its text block as an object
 * (`{"type":"text","text":"<the server's JSON>","structuredContent":{...}}`) serialised to a string.
 */
export function serverJson(seen: Seen): Record<string, unknown> {
  const outer = JSON.parse(seen.text) as Record<string, unknown>;
  if (outer.type === "text" && typeof outer.text === "string") return JSON.parse(outer.text);
  return outer;
}
