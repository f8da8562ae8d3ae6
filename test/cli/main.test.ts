import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MAIN = join(ROOT, "dist", "mcp-bg-jobs.mjs");
const PKG = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };

let tmp: string;

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
  tmp = mkdtempSync(join(tmpdir(), "mcp-bg-main-"));
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs the built binary with only the given MCP_BG_ variables (and a temp state dir and HOME). */
function run(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [MAIN, ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmp, MCP_BG_STATE_DIR: join(tmp, "state"), ...env },
    cwd: tmp,
    input: "",
    encoding: "utf8",
    timeout: 20_000,
  });
  if (result.error) throw result.error;
  return { code: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

const SETTINGS: [string, string][] = [
  ["MCP_BG_MAX_JOBS", "--max-jobs"],
  ["MCP_BG_MAX_OUTPUT_SIZE", "--max-output-size"],
  ["MCP_BG_JOB_TIMEOUT", "--job-timeout"],
  ["MCP_BG_CLEANUP_INTERVAL", "--cleanup-interval"],
  ["MCP_BG_ALLOWED_COMMANDS", "--allowed-commands"],
  ["MCP_BG_WORKING_DIR", "--working-dir"],
  ["MCP_BG_DENIED_COMMANDS", "--denied-commands"],
  ["MCP_BG_SHELL", "--shell"],
  ["MCP_BG_MAX_RESPONSE_CHARS", "--max-response-chars"],
  ["MCP_BG_STATE_DIR", "--state-dir"],
  ["MCP_BG_RETENTION", "--retention"],
  ["MCP_BG_MAX_FINISHED", "--max-finished"],
  ["MCP_BG_KEEP_JOBS", "--keep-jobs"],
  ["MCP_BG_HTTP", "--http"],
  ["MCP_BG_PORT", "--port"],
  ["MCP_BG_HOST", "--host"],
  ["MCP_BG_AUTH_TOKEN", "--auth-token"],
  ["MCP_BG_ALLOWED_HOSTS", "--allowed-hosts"],
  ["MCP_BG_MAX_REQUEST_SIZE", "--max-request-size"],
  ["MCP_BG_SESSION_IDLE", "--session-idle"],
  ["MCP_BG_MAX_SESSIONS", "--max-sessions"],
];

describe("mcp-bg-jobs --version", () => {
  it("prints the package.json version and exits 0", () => {
    const r = run(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(PKG.version);
    expect(r.stderr).toBe("");
  });
});

describe("mcp-bg-jobs --help", () => {
  let help: ReturnType<typeof run>;
  beforeAll(() => {
    help = run(["--help"]);
  });

  it("exits 0 and prints to stdout only", () => {
    expect(help.code).toBe(0);
    expect(help.stdout.length).toBeGreaterThan(0);
    expect(help.stderr).toBe("");
  });

  it("mentions --help and --version", () => {
    expect(help.stdout).toContain("--help");
    expect(help.stdout).toContain("--version");
  });

  it.each(SETTINGS)("lists %s together with its flag %s", (env, flag) => {
    const line = help.stdout.split("\n").find((l) => l.includes(env));
    expect(line, `no help line for ${env}`).toBeDefined();
    expect(line).toContain(flag);
  });
});

// [what is bad, arguments, environment, the name the error line must carry]
const BAD: [string, string[], Record<string, string>, string][] = [
  ["MCP_BG_MAX_JOBS=abc", [], { MCP_BG_MAX_JOBS: "abc" }, "MCP_BG_MAX_JOBS"],
  ["--max-output-size 12XB", ["--max-output-size", "12XB"], {}, "--max-output-size"],
  ["MCP_BG_WORKING_DIR=/nonexistent", [], { MCP_BG_WORKING_DIR: "/nonexistent" }, "MCP_BG_WORKING_DIR"],
  ["--bogus-flag", ["--bogus-flag"], {}, "--bogus-flag"],
  ["MCP_BG_ALLOWED_COMMANDS='('", [], { MCP_BG_ALLOWED_COMMANDS: "(" }, "MCP_BG_ALLOWED_COMMANDS"],
  ["--max-jobs=0", ["--max-jobs=0"], {}, "--max-jobs"],
  ["MCP_BG_SHELL=/nonexistent/sh", [], { MCP_BG_SHELL: "/nonexistent/sh" }, "MCP_BG_SHELL"],
  ["MCP_BG_JOB_TIMEOUT=-5", [], { MCP_BG_JOB_TIMEOUT: "-5" }, "MCP_BG_JOB_TIMEOUT"],
  ["--http --host 0.0.0.0 without a token", ["--http", "--host", "0.0.0.0"], {}, "MCP_BG_AUTH_TOKEN"],
  ["MCP_BG_AUTH_TOKEN too short", [], { MCP_BG_AUTH_TOKEN: "pw" }, "MCP_BG_AUTH_TOKEN"],
];

describe("bad configuration", () => {
  it.each(BAD)("%s: exit 2, one line on stderr naming it, nothing on stdout", (_what, args, env, name) => {
    const r = run(args, env);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^[^\n]+\n$/);
    expect(r.stderr).toContain(name);
  });
});
