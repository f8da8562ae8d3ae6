import { spawn } from "node:child_process";
import { accessSync, chmodSync, constants, existsSync, readFileSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { cleanEnv } from "./harness.js";

/** Names a build may call a compiler or build tool by. */
const COMPILERS = ["cc", "gcc", "c++", "g++", "clang", "make", "musl-gcc", "aarch64-linux-gnu-gcc"];

/** Whether `name` is an executable on PATH. */
export function onPath(name: string, path = process.env.PATH ?? ""): boolean {
  return path.split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * An environment with no usable compiler: a folder first on PATH whose `cc`, `gcc`, `make`, ... exit 1
 * (noting each call in a log, so a test can tell whether anything tried to compile), and CC=/bin/false.
 * The rest of PATH stays (sh, ps and node live in /usr/bin and beside it).
 */
export function noCompilerEnv(dir: string): { env: Record<string, string>; calls: () => string[] } {
  const log = join(dir, "calls.log");
  for (const name of COMPILERS) {
    const shim = join(dir, name);
    writeFileSync(shim, `#!/bin/sh\necho "$0 $*" >> '${log}'\nexit 1\n`);
    chmodSync(shim, 0o755);
  }
  return {
    env: { ...npmFreeEnv(), PATH: `${dir}${delimiter}${process.env.PATH ?? ""}`, CC: "/bin/false" },
    calls: () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []),
  };
}

/** The test runner's environment without MCP_BG_ and npm_ variables (`npm test` sets the latter; a nested npm reads them). */
export function npmFreeEnv(): Record<string, string> {
  const env = cleanEnv();
  for (const k of Object.keys(env)) if (/^npm_/i.test(k) || k === "INIT_CWD") delete env[k];
  return env;
}

/** What a command gave. */
export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to its end (at most `timeoutMs`), collecting its output. */
export function run(
  argv: string[],
  opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), {
      cwd: opts.cwd,
      env: opts.env ?? npmFreeEnv(),
      stdio: ["ignore", "pipe", "pipe"],
      timeout: opts.timeoutMs ?? 120_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}
