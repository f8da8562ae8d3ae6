import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { BIN, cleanEnv } from "./harness.js";

/** Debian's Chromium (.ci/run installs it), or CHROMIUM_PATH; undefined where there is none. */
export const CHROMIUM = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find(
  (p): p is string => p !== undefined && p !== "" && existsSync(p),
);

/** A running `mcp-bg-jobs ui`. */
export interface UiProcess {
  url: string;
  child: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts `mcp-bg-jobs ui` on a free port for a state dir; resolves once it says where it answers. */
export function startUi(stateDir: string, args: string[] = [], env: Record<string, string> = {}): Promise<UiProcess> {
  const child = spawn(process.execPath, [BIN, "ui", "--port", "0", ...args], {
    env: { ...cleanEnv(), MCP_BG_STATE_DIR: stateDir, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ui did not start: ${stderr}`)), 15_000);
    child.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString();
      const m = / at (http:\/\/\S+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1] as string,
          child,
          stderr: () => stderr,
          stop: () =>
            new Promise<void>((done) => {
              if (child.exitCode !== null) return done();
              child.once("exit", () => done());
              child.kill("SIGTERM");
            }),
        });
      }
    });
    child.once("exit", (code) => reject(new Error(`ui exited ${code}: ${stderr}`)));
  });
}
