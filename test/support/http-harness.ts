import { type ChildProcess, spawn } from "node:child_process";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { BIN, cleanEnv } from "./harness.js";
import { tempDir } from "./helpers.js";

/** The built server in HTTP mode on a free port, on a fresh state dir. */
export interface HttpServer {
  proc: ChildProcess;
  /** http://127.0.0.1:PORT/mcp */
  url: string;
  port: number;
  stderr: () => string;
  /** SIGKILLs the server if it still runs and removes its state dir. */
  close(): Promise<void>;
}

/** Starts `mcp-bg-jobs --http --port 0 ARGS` and waits until it listens. */
export async function startHttpServer(args: string[] = [], env: Record<string, string> = {}): Promise<HttpServer> {
  const state = tempDir("mcp-bg-state-");
  const proc = spawn(process.execPath, [BIN, "--http", "--port", "0", ...args], {
    env: { ...cleanEnv(), MCP_BG_STATE_DIR: state.path, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the HTTP server did not start: ${stderr}`)), 15_000);
    proc.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString();
      const m = /listening on http:\/\/[^ ]+:(\d+)\/mcp/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.on("exit", (code) => reject(new Error(`the HTTP server exited (${code}): ${stderr}`)));
  });
  return {
    proc,
    port,
    url: `http://127.0.0.1:${port}/mcp`,
    stderr: () => stderr,
    async close() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGKILL");
        await new Promise((r) => proc.on("close", r));
      }
      state.remove();
    },
  };
}

/** An SDK client connected over Streamable HTTP (2025 era unless pinned to 2026-07-28). */
export async function httpClient(url: string, opts: { modern?: boolean; token?: string } = {}) {
  const client = new Client(
    { name: "mcp-bg-jobs-http-tests", version: "1.0.0" },
    opts.modern ? { versionNegotiation: { mode: { pin: "2026-07-28" } } } : {},
  );
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: opts.token ? { headers: { authorization: `Bearer ${opts.token}` } } : undefined,
  });
  await client.connect(transport);
  return { client, transport };
}
