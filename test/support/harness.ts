import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { afterAll, beforeAll } from "vitest";
import { tempDir } from "./helpers.js";

/** The built server binary. */
export const BIN = fileURLToPath(new URL("../../dist/mcp-bg-jobs.mjs", import.meta.url));

/** A running server spoken to through the SDK client over stdio, as an MCP host does. */
export interface Harness {
  client: Client;
  transport: StdioClientTransport;
  /** Pid of the server process. */
  pid: number;
  stateDir: string;
  /** What the server wrote to stderr so far. */
  stderr(): string;
  /** Calls a tool and returns the raw result. */
  call(name: string, args?: Record<string, unknown>): Promise<ToolResult>;
  /** Calls a tool that must succeed and returns its structuredContent (checked against its text block). */
  ok<T = Record<string, unknown>>(name: string, args?: Record<string, unknown>): Promise<T>;
  /** Calls a tool that must fail and returns its error text. */
  error(name: string, args?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export interface ToolResult {
  content: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

/** The test runner's environment without any MCP_BG_ variable but MCP_BG_PORTABLE. */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    // Portable mode is the test run's (npm run test:portable), not a setting a test picks.
    if (v !== undefined && (!k.startsWith("MCP_BG_") || k === "MCP_BG_PORTABLE")) env[k] = v;
  }
  return env;
}

/**
 * Starts the built server (or `command`) with extra environment variables and flags, on a fresh state
 * dir that close() removes, or on `stateDir` (shared with other servers; left in place).
 */
export async function startServer(
  opts: { env?: Record<string, string>; args?: string[]; stateDir?: string; command?: string[] } = {},
): Promise<Harness> {
  const state = opts.stateDir ? { path: opts.stateDir, remove: () => {} } : tempDir("mcp-bg-state-");
  const env = cleanEnv();
  // `command`: what starts the server, when not this clone's build (an installed package's bin).
  const [command, ...first] = opts.command ?? [process.execPath, BIN];
  const transport = new StdioClientTransport({
    command: command as string,
    args: [...first, ...(opts.args ?? [])],
    env: { ...env, MCP_BG_STATE_DIR: state.path, ...opts.env },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: "mcp-bg-jobs-tests", version: "1.0.0" });
  await client.connect(transport);
  // The first answer comes before the server has loaded and opened its state dir
  // (src/cli/first-answer.ts); it answers a ping once it has.
  await client.ping();
  const pid = transport.pid;
  if (!pid) throw new Error("server did not start");
  const call = async (name: string, args: Record<string, unknown> = {}) =>
    (await client.callTool({ name, arguments: args })) as ToolResult;
  const text = (r: ToolResult) => r.content.map((c) => c.text ?? "").join("");
  return {
    client,
    transport,
    pid,
    stateDir: state.path,
    stderr: () => stderr,
    call,
    async ok(name, args) {
      const r = await call(name, args);
      if (r.isError) throw new Error(`${name} failed: ${text(r)}`);
      if (JSON.stringify(JSON.parse(text(r))) !== JSON.stringify(r.structuredContent)) {
        throw new Error(`${name}: text block differs from structuredContent`);
      }
      return r.structuredContent as never;
    },
    async error(name, args) {
      const r = await call(name, args);
      if (!r.isError) throw new Error(`${name} should have failed: ${text(r)}`);
      return text(r);
    },
    async close() {
      await client.close().catch(() => {});
      state.remove();
    },
  };
}

/** What a run of the command line gave. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Capabilities that let root past file permissions. */
const DAC_CAPS = "-dac_override,-dac_read_search,-fowner";

/**
 * Runs `mcp-bg-jobs ARGS` (the command line for people) on a state dir, to its end. `unprivileged`:
 * when the tests run as root (never refused a file), it runs without the capabilities that override
 * file permissions, so files owned by another user with mode 0700/0600 are refused to it as to any
 * user, while the checkout stays readable wherever it lies (running as user nobody would need every
 * folder above the checkout to be open to nobody).
 */
export function runCli(
  stateDir: string,
  args: string[],
  env: Record<string, string> = {},
  opts: { unprivileged?: boolean } = {},
): Promise<CliRun> {
  const asRoot = process.getuid?.() === 0;
  const argv = [process.execPath, BIN, ...args];
  if (opts.unprivileged && asRoot) argv.unshift("setpriv", `--bounding-set=${DAC_CAPS}`, `--inh-caps=${DAC_CAPS}`);
  return new Promise((resolve) => {
    const child = spawn(argv[0] as string, argv.slice(1), {
      env: { ...cleanEnv(), MCP_BG_STATE_DIR: stateDir, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * A server for the tests of one describe block (or file): started before them, closed after them.
 * Returns the harness (its properties are the running server's once the block's tests run).
 */
export function useServer(opts: Parameters<typeof startServer>[0] = {}): Harness {
  let current: Harness | undefined;
  beforeAll(async () => {
    current = await startServer(opts);
  });
  afterAll(async () => {
    await current?.close();
  });
  return new Proxy({} as Harness, {
    get(_, prop) {
      if (!current) throw new Error("useServer: the server is used before its block's tests run");
      const value = Reflect.get(current, prop, current);
      return typeof value === "function" ? value.bind(current) : value;
    },
  });
}
