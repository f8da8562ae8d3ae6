import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, type Harness, startServer, type ToolResult } from "../support/harness.js";
import { childrenOf, markedLoop, marker, steadyCount, tempDir, waitFor } from "../support/helpers.js";
import { noCompilerEnv, npmFreeEnv, onPath, run } from "../support/no-compiler.js";

// A server that cannot run jobs (not Linux or macOS; no capture process it can run) still starts,
// answers initialize and tools/list, and every tool call answers with one line saying why and what to
// do. One that believes it is on macOS runs jobs the macOS way.

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TARGET = `linux-${process.arch}`;

// Arguments each tool accepts, so that what answers is the server, not the schema check.
const ARGS: Record<string, Record<string, unknown>> = {
  execute_command: { command: "echo hi" },
  list_jobs: {},
  interact_with_job: { job_id: "nope", input: "x" },
  wait_for_job: { job_id: "nope", timeout_seconds: 1 },
  search_job_output: { job_id: "nope", pattern: "x" },
};

const text = (r: ToolResult) => r.content.map((c) => c.text ?? "").join("");

// Calls every listed tool; returns each one's error text (a success fails the test).
async function everyToolFails(s: Harness): Promise<Map<string, string>> {
  const { tools } = await s.client.listTools();
  expect(tools.length).toBeGreaterThanOrEqual(9);
  const errors = new Map<string, string>();
  for (const tool of tools) {
    const r = await s.call(tool.name, ARGS[tool.name] ?? { job_id: "nope" });
    expect(r.isError, `${tool.name}: ${text(r)}`).toBe(true);
    errors.set(tool.name, text(r));
  }
  return errors;
}

// The shepherds a server has started (its children that run one).
const shepherdsOf = (pid: number) => childrenOf(pid).filter((c) => readlinkSync(`/proc/${c}/exe`).includes("shepherd"));

// A preload that makes process.platform say `platform` in the server (libsql is loaded first, for
// Linux: it picks its native part by platform, and npm installs the right one there).
function platformPreload(dir: string, platform: string): string {
  const preload = join(dir, `${platform}.mjs`);
  writeFileSync(
    preload,
    `import { createRequire } from "node:module";\n` +
      `createRequire(${JSON.stringify(join(ROOT, "package.json"))})("libsql");\n` +
      `Object.defineProperty(process, "platform", { value: "${platform}" });\n`,
  );
  return preload;
}

describe("a server on another platform", () => {
  const dir = tempDir("mcp-bg-platform-");
  afterAll(() => dir.remove());

  it("on win32 it starts, answers initialize and tools/list, and every tool says that jobs need Linux or macOS, and why", async () => {
    const preload = platformPreload(dir.path, "win32");
    const s = await startServer({ env: { NODE_OPTIONS: `--import=${preload}` } });
    try {
      expect(s.client.getServerVersion()?.name).toBe("mcp-bg-jobs");
      for (const [name, message] of await everyToolFails(s)) {
        expect(message, name).toMatch(
          new RegExp(
            `^mcp-bg-jobs: jobs need Linux or macOS, and this is win32 \\(${process.arch}\\) \\(on Windows, WSL runs it as Linux\\): .*process groups`,
          ),
        );
        expect(message, name).not.toContain("\n");
      }
      expect(shepherdsOf(s.pid)).toEqual([]);
      expect(s.stderr().match(/jobs need Linux or macOS/g)).toHaveLength(1);
      // It goes on serving: resources answer as on Linux.
      expect((await s.client.listResources()).resources).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it("on darwin it runs jobs the macOS way: every process question to its helper, its state under ~/Library/Application Support", async () => {
    const preload = platformPreload(dir.path, "darwin");
    const home = tempDir("mcp-bg-home-");
    const m = marker();
    // No state dir set: the default for macOS.
    const s = await startServer({
      env: { NODE_OPTIONS: `--import=${preload}`, HOME: home.path, MCP_BG_STATE_DIR: "", XDG_STATE_HOME: "" },
    });
    try {
      const started = await s.ok<{ job_id: string; matched: boolean }>("execute_command", {
        command: `echo ready; ${markedLoop(m)}`,
        wait_until: "ready",
      });
      expect(started.matched).toBe(true);
      expect(existsSync(join(home.path, "Library", "Application Support", "mcp-bg-jobs", "state.db"))).toBe(true);
      // The questions a Linux server reads /proc for go to the capture binary's --procs.
      const helpers = childrenOf(s.pid).filter((c) => readFileSync(`/proc/${c}/cmdline`, "utf8").includes("--procs"));
      expect(helpers.length).toBeGreaterThanOrEqual(1);
      expect(await s.ok("kill_job", { job_id: started.job_id, grace_seconds: 1 })).toEqual({ status: "killed" });
      expect(await steadyCount(m)).toBe(0);
    } finally {
      await s.close();
      home.remove();
    }
  });
});

describe("a package without a capture process that runs here", () => {
  // An installed package as npm lays it out (no src/, no build/, no prebuilt/ for this machine),
  // its dependencies those of this clone.
  const pkg = tempDir("mcp-bg-nopre-");
  const shims = tempDir("mcp-bg-shims-");
  afterAll(() => {
    pkg.remove();
    shims.remove();
  });
  for (const f of ["package.json", "dist/mcp-bg-jobs.mjs", "dist/worker.mjs", "scripts/build-shepherd.mjs"]) {
    mkdirSync(join(pkg.path, f, ".."), { recursive: true });
    copyFileSync(join(ROOT, f), join(pkg.path, f));
  }
  cpSync(join(ROOT, "native"), join(pkg.path, "native"), { recursive: true });
  cpSync(join(ROOT, "dist", "chunks"), join(pkg.path, "dist", "chunks"), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(pkg.path, "node_modules"));
  const bin = [process.execPath, join(pkg.path, "dist", "mcp-bg-jobs.mjs")];
  const built = join(pkg.path, "build", "shepherd");
  const noCompiler = noCompilerEnv(shims.path);
  const hasCc = onPath("cc");

  it("with no compiler it starts, and every tool says in one line what is missing and how to get it", async () => {
    expect(BIN).not.toBe(bin[1]);
    const s = await startServer({ command: bin, env: noCompiler.env });
    try {
      const expected =
        `mcp-bg-jobs: no capture process for ${TARGET}: compiling native/shepherd.c with '/bin/false' failed ` +
        "(exit 1); install a C compiler (cc) and start the server again (it compiles native/shepherd.c at start)";
      for (const [name, message] of await everyToolFails(s)) expect(message, name).toBe(expected);
      expect(s.stderr()).toContain(`warn: ${expected.slice("mcp-bg-jobs: ".length)}`);
      expect(existsSync(built)).toBe(false);
    } finally {
      await s.close();
    }
  });

  it("doctor says there what is missing, and exits 1", async () => {
    const state = tempDir("mcp-bg-doctor-");
    try {
      const r = spawnSync(bin[0] as string, [bin[1] as string, "doctor"], {
        env: { ...noCompiler.env, MCP_BG_STATE_DIR: state.path },
        encoding: "utf8",
      });
      expect(r.status, r.stdout + r.stderr).toBe(1);
      expect(r.stdout).toContain(
        `FAIL  start   mcp-bg-jobs: no capture process for ${TARGET}: compiling native/shepherd.c`,
      );
      expect(r.stdout.trim().split("\n").at(-1)).toBe("a check failed: please paste this report into an issue");
    } finally {
      state.remove();
    }
  });

  it.skipIf(!hasCc)("once a compiler is there, the server compiles it at start and jobs run", async () => {
    const s = await startServer({ command: bin, env: npmFreeEnv() });
    try {
      const job = await s.ok<{ job_id: string }>("execute_command", { command: "echo compiled-here" });
      expect(await s.ok("wait_for_job", { job_id: job.job_id, timeout_seconds: 45 })).toMatchObject({
        status: "completed",
      });
      expect(await s.ok("get_job_output", { job_id: job.job_id })).toMatchObject({ stdout: "compiled-here\n" });
      expect(existsSync(built)).toBe(true);
    } finally {
      await s.close();
    }
  });

  it.skipIf(!hasCc)("one compiled here wins over a prebuilt one (an edited shepherd.c is what runs)", async () => {
    const prebuilt = join(pkg.path, "prebuilt", TARGET, "shepherd");
    mkdirSync(join(prebuilt, ".."), { recursive: true });
    copyFileSync(built, prebuilt);
    const s = await startServer({ command: bin, env: npmFreeEnv() });
    try {
      const job = await s.ok<{ job_id: string; pid: number }>("execute_command", { command: "sleep 30" });
      const ppid = Number(readFileSync(`/proc/${job.pid}/stat`, "latin1").split(") ")[1]?.split(" ")[1]);
      expect(readlinkSync(`/proc/${ppid}/exe`)).toBe(built);
      await s.ok("kill_job", { job_id: job.job_id, signal: "SIGKILL" });
    } finally {
      await s.close();
      rmSync(join(pkg.path, "prebuilt"), { recursive: true });
    }
  });

  it("one that does not start here (built for another libc) is named, with the command that rebuilds it", async () => {
    // A binary whose loader this machine lacks fails to start with ENOENT, as a glibc build does on Alpine.
    mkdirSync(join(pkg.path, "build"), { recursive: true });
    writeFileSync(built, "#!/lib/ld-musl-nowhere.so.1\n", { mode: 0o755 });
    const s = await startServer({ command: bin, env: noCompiler.env });
    let remedy: string;
    try {
      // Whether it starts is learnt in the background at start; the server says so on stderr then.
      await waitFor(() => s.stderr().includes("does not run on this machine"));
      const errors = await everyToolFails(s);
      const message = errors.get("execute_command") ?? "";
      expect(message).toMatch(
        /^mcp-bg-jobs: the capture process \S+\/build\/shepherd does not run on this machine \(ENOENT\): install a C compiler \(cc\) and run `node \S+ --force`$/,
      );
      remedy = /`(node \S+ --force)`/.exec(message)?.[1] as string;
      for (const m of errors.values()) expect(m).toBe(message);
    } finally {
      await s.close();
    }
    if (!hasCc) return;
    // The command it names works: the next server runs jobs.
    const [node, ...args] = remedy.split(" ");
    expect((await run([node === "node" ? process.execPath : (node as string), ...args])).code).toBe(0);
    const again = await startServer({ command: bin, env: npmFreeEnv() });
    try {
      const job = await again.ok<{ job_id: string }>("execute_command", { command: "echo rebuilt" });
      expect(await again.ok("wait_for_job", { job_id: job.job_id, timeout_seconds: 45 })).toMatchObject({
        status: "completed",
      });
    } finally {
      await again.close();
    }
  });
});
