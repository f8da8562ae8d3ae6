import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isAlive, waitFor } from "../support/helpers.js";
import { type FakeModel, type Step, startFakeModel } from "./fake-model.js";

// Real agent hosts (Claude Code, Codex, Gemini CLI) driven against the built server, with a fake model
// (fake-model.ts) in place of the model's API. Each run has a HOME (and CODEX_HOME, settings) of its
// own, registers the server under the name `bgjobs`, runs one non-interactive turn and returns what the
// host printed, what the model was shown, and every MCP message between host and server (mcp-tap.mjs).
// The team's HOSTS-NOTES.md (shared notes) says how each host is set up; hosts.test.ts says what else
// was found (ToolSearch, signals at exit).

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const BIN = join(ROOT, "dist", "mcp-bg-jobs.mjs");
export const TAP = fileURLToPath(new URL("./mcp-tap.mjs", import.meta.url));
export const INSTALL = join(ROOT, "scripts", "install-test-deps.mjs");

/** The name the server is registered under with each host. */
export const SERVER_NAME = "bgjobs";

export type HostName = "claude" | "codex" | "gemini";

export interface InstalledHost {
  bin: string;
  version: string;
}

/**
 * The hosts that are installed, installing the missing ones first unless MCP_BG_HOSTS_INSTALL=0
 * (scripts/install-test-deps.mjs: idempotent, a second or two when all are there). Each absent host comes
 * with the reason.
 */
export function installedHosts(): Record<HostName, InstalledHost | { error: string }> {
  const install = process.env.MCP_BG_HOSTS_INSTALL !== "0";
  const r = spawnSync(
    process.execPath,
    [INSTALL, "--json", ...(install ? [] : ["--check"]), "claude", "codex", "gemini"],
    {
      encoding: "utf8",
      timeout: 20 * 60_000,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  // A fresh install is worth a line in the test's output; "already installed" is not.
  for (const line of (r.stderr ?? "").split("\n")) if (/: installed in /.test(line)) console.log(line);
  const last = (r.stdout ?? "").trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(last);
  } catch {
    const why = `install-test-deps.mjs gave no answer (${r.error?.message ?? `exit ${r.status}`}): ${(r.stderr ?? "").slice(-300)}`;
    return { claude: { error: why }, codex: { error: why }, gemini: { error: why } };
  }
}

/** One message between host and server, as mcp-tap.mjs wrote it down. */
export interface TapEntry {
  t: number;
  dir: "start" | "in" | "out" | "signal" | "exit";
  msg?: Record<string, unknown>;
  /** "start": the server's pid. */
  server?: number;
  /** "exit": how the server ended; "signal": the signal the host sent. */
  code?: number | null;
  signal?: string | null;
}

export interface Era {
  /** "2025": opened with `initialize`; "2026": a first request carrying the 2026-07-28 envelope claim. */
  era: "2025" | "2026" | "none";
  /** The protocol version in force: the server's `initialize` answer, or the envelope's claim. */
  version: string | null;
  /** What the host asked for (`initialize`'s protocolVersion, or the claim). */
  requested: string | null;
  /** The first method the host sent. */
  firstMethod: string | null;
}

const VERSION_META_KEY = "io.modelcontextprotocol/protocolVersion";

/** Which protocol era a host opened, read from the first message it sent the server. */
export function eraOf(tap: TapEntry[]): Era {
  const first = tap.find((e) => e.dir === "in" && typeof e.msg?.method === "string");
  if (!first?.msg) return { era: "none", version: null, requested: null, firstMethod: null };
  const method = first.msg.method as string;
  const params = (first.msg.params ?? {}) as Record<string, unknown>;
  if (method === "initialize") {
    const answer = tap.find((e) => e.dir === "out" && e.msg?.id === first.msg?.id);
    const result = (answer?.msg?.result ?? {}) as Record<string, unknown>;
    return {
      era: "2025",
      version: (result.protocolVersion as string) ?? null,
      requested: (params.protocolVersion as string) ?? null,
      firstMethod: method,
    };
  }
  const meta = (params._meta ?? {}) as Record<string, unknown>;
  const claim = typeof meta[VERSION_META_KEY] === "string" ? (meta[VERSION_META_KEY] as string) : null;
  return { era: claim ? "2026" : "none", version: claim, requested: claim, firstMethod: method };
}

/** The methods the host sent the server, in order (requests and notifications). */
export function methodsOf(tap: TapEntry[]): string[] {
  return tap.filter((e) => e.dir === "in" && typeof e.msg?.method === "string").map((e) => e.msg?.method as string);
}

export interface HostRun {
  host: HostName;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** From the host's start to its exit. */
  ms: number;
  /** The fake model (closed): its recorded requests and helpers (toolResults(), toolsOffered(), ...). */
  model: FakeModel;
  /** Every MCP message between host and server. */
  tap: TapEntry[];
  era: Era;
  /** What the server wrote to stderr. */
  serverStderr: string;
  /** Whether the server (started by the host) had exited within 30 s of the host's exit. */
  serverGone: boolean;
  /** Whether the run was cut off by its time limit. */
  timedOut: boolean;
}

export interface RunOptions {
  bin: string;
  script: Step[];
  prompt?: string;
  /** More arguments for the server (`--call-timeout 3`). */
  serverArgs?: string[];
  /** More environment for the host. */
  env?: Record<string, string>;
  /** The host's process group is killed after this long (default 120 s), and the run says it timed out. */
  timeoutMs?: number;
  /** Keep the run's folder (HOME, state dir, logs) instead of removing it; its path is printed. */
  keep?: boolean;
  /**
   * Start the server through mcp-tap.mjs (the default), which writes down the MCP messages (`tap`, `era`).
   * Without it the host starts the server itself, exactly as a user's configuration would: what the
   * host does to its server at exit (signals, a SIGKILL after a grace) then reaches the server alone.
   */
  tap?: boolean;
  verbose?: boolean;
}

/** A HOME of the run's own, with a project folder in it, the server's state dir and the tap's log. */
interface Sandbox {
  dir: string;
  home: string;
  work: string;
  state: string;
  tapLog: string;
  /** The command and arguments that start the server through the tap. */
  serverCommand: string;
  serverArgs: string[];
  serverEnv: Record<string, string>;
}

function sandbox(serverArgs: string[] = [], tap = true): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), "mcp-bg-host-"));
  const home = join(dir, "home");
  const work = join(dir, "work");
  const state = join(dir, "state");
  for (const d of [home, work, state]) mkdirSync(d, { recursive: true });
  const tapLog = join(dir, "mcp-tap.jsonl");
  return {
    dir,
    home,
    work,
    state,
    tapLog,
    serverCommand: process.execPath,
    serverArgs: tap ? [TAP, tapLog, "--", process.execPath, BIN, ...serverArgs] : [BIN, ...serverArgs],
    serverEnv: { MCP_BG_STATE_DIR: state },
  };
}

/** The environment every host starts with: nothing of the test runner's but PATH (node first) and locale. */
function baseEnv(home: string): Record<string, string> {
  return {
    PATH: `${dirname(process.execPath)}:${process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin"}`,
    HOME: home,
    USER: process.env.USER ?? "root",
    LANG: "C.UTF-8",
    TMPDIR: tmpdir(),
    NO_UPDATE_NOTIFIER: "1",
  };
}

const FAKE_KEY = "sk-fake-0123456789abcdefghijklmnopqrstuvwxyz";

/** Claude Code: ~/.claude.json (onboarding done, the key approved, the project trusted, the server registered). */
function setUpClaude(s: Sandbox, model: FakeModel): Record<string, string> {
  const config = {
    hasCompletedOnboarding: true,
    lastOnboardingVersion: "2.1.328",
    theme: "dark",
    numStartups: 1,
    customApiKeyResponses: { approved: [FAKE_KEY.slice(-20)], rejected: [] },
    projects: { [s.work]: { hasTrustDialogAccepted: true, allowedTools: [], hasCompletedProjectOnboarding: true } },
    mcpServers: {
      [SERVER_NAME]: { type: "stdio", command: s.serverCommand, args: s.serverArgs, env: s.serverEnv },
    },
  };
  writeFileSync(join(s.home, ".claude.json"), JSON.stringify(config, null, 2));
  return {
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: FAKE_KEY,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    DISABLE_AUTOUPDATER: "1",
    DISABLE_TELEMETRY: "1",
    DISABLE_ERROR_REPORTING: "1",
  };
}

const toml = (v: unknown): string => JSON.stringify(v);

/** Codex: CODEX_HOME/config.toml with the fake provider, no approvals, no sandbox, and the server. */
function setUpCodex(s: Sandbox, model: FakeModel): Record<string, string> {
  const codexHome = join(s.home, ".codex");
  mkdirSync(codexHome, { recursive: true });
  const env = Object.entries(s.serverEnv)
    .map(([k, v]) => `${k} = ${toml(v)}`)
    .join(", ");
  writeFileSync(
    join(codexHome, "config.toml"),
    [
      'model = "gpt-fake"',
      'model_provider = "fake"',
      'approval_policy = "never"',
      'sandbox_mode = "danger-full-access"',
      "",
      "[model_providers.fake]",
      'name = "fake"',
      `base_url = ${toml(`${model.url}/v1`)}`,
      'wire_api = "responses"',
      'env_key = "FAKE_API_KEY"',
      "request_max_retries = 0",
      "stream_max_retries = 0",
      "",
      `[mcp_servers.${SERVER_NAME}]`,
      `command = ${toml(s.serverCommand)}`,
      `args = [${s.serverArgs.map(toml).join(", ")}]`,
      `env = { ${env} }`,
      "startup_timeout_sec = 60",
      "tool_timeout_sec = 120",
      "",
    ].join("\n"),
  );
  return { CODEX_HOME: codexHome, FAKE_API_KEY: FAKE_KEY };
}

/** Gemini CLI: ~/.gemini/settings.json (API key auth, no folder trust, no telemetry) with the server, trusted. */
function setUpGemini(s: Sandbox, model: FakeModel): Record<string, string> {
  const dir = join(s.home, ".gemini");
  mkdirSync(dir, { recursive: true });
  const settings = {
    security: { auth: { selectedType: "gemini-api-key" }, folderTrust: { enabled: false } },
    general: { disableAutoUpdate: true, disableUpdateNag: true },
    privacy: { usageStatisticsEnabled: false },
    telemetry: { enabled: false },
    mcpServers: {
      [SERVER_NAME]: { command: s.serverCommand, args: s.serverArgs, env: s.serverEnv, trust: true, timeout: 120_000 },
    },
  };
  writeFileSync(join(dir, "settings.json"), JSON.stringify(settings, null, 2));
  return { GEMINI_API_KEY: FAKE_KEY, GOOGLE_GEMINI_BASE_URL: model.url, GEMINI_CLI_NO_RELAUNCH: "true" };
}

const SET_UP: Record<HostName, (s: Sandbox, m: FakeModel) => Record<string, string>> = {
  claude: setUpClaude,
  codex: setUpCodex,
  gemini: setUpGemini,
};

/** The command line of one non-interactive turn. */
function turnArgs(host: HostName, prompt: string): string[] {
  switch (host) {
    case "claude":
      return ["-p", prompt, "--output-format", "stream-json", "--verbose", "--allowedTools", `mcp__${SERVER_NAME}__*`];
    case "codex":
      return ["exec", "--skip-git-repo-check", "--json", prompt];
    case "gemini":
      return ["-p", prompt, "--yolo", "--output-format", "stream-json"];
  }
}

const DEFAULT_PROMPT = "Use the bgjobs tools as needed, then say what you found.";

/**
 * Runs one non-interactive turn of `host` against a fake model that replays `script`, with the built
 * server registered as `bgjobs`. Returns once the host has exited and the server it started is gone.
 */
export async function runHost(host: HostName, opts: RunOptions): Promise<HostRun> {
  const s = sandbox(opts.serverArgs, opts.tap);
  const model = await startFakeModel({ server: SERVER_NAME, script: opts.script, verbose: opts.verbose });
  try {
    const env = { ...baseEnv(s.home), ...SET_UP[host](s, model), ...opts.env };
    const started = Date.now();
    const child = spawn(opts.bin, turnArgs(host, opts.prompt ?? DEFAULT_PROMPT), {
      cwd: s.work,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const done = await collect(child, opts.timeoutMs ?? 120_000);
    const ms = Date.now() - started;
    return { host, ...done, ms, model, ...(await afterRun(s)) };
  } finally {
    await model.close();
    if (opts.keep) console.log(`${host} run kept in ${s.dir}`);
    else rmSync(s.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  }
}

/** What a host printed until it exited (its process group is killed at `timeoutMs`). */
function collect(
  child: ChildProcess,
  timeoutMs: number,
  onStdout?: (all: string) => void,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout?.on("data", (c: Buffer) => {
      stdout += c.toString();
      onStdout?.(stdout);
    });
    child.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, "SIGKILL");
    }, timeoutMs);
    child.on("error", (err) => {
      stderr += `could not start: ${err.message}\n`;
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {}
}

/**
 * Reads the tap's log once the server has gone: it stops when the host closes its stdin or signals
 * it. A host that kills the tap outright (no "exit" line) leaves the server to see its stdin close.
 */
async function afterRun(s: Sandbox): Promise<{ tap: TapEntry[]; era: Era; serverStderr: string; serverGone: boolean }> {
  const read = (): TapEntry[] =>
    existsSync(s.tapLog)
      ? readFileSync(s.tapLog, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as TapEntry)
      : [];
  // The server is the process running BIN with this run's state dir in its environment (its jobs
  // have that environment too, but not BIN in their command line).
  const serverGone = await waitFor(() => serverProcesses(s.state).length === 0, 30_000, 50).then(
    () => true,
    () => false,
  );
  const tap = read();
  const serverStderr = existsSync(`${s.tapLog}.stderr`) ? readFileSync(`${s.tapLog}.stderr`, "utf8") : "";
  return { tap, era: eraOf(tap), serverStderr, serverGone };
}

/** Live server processes on `stateDir`: BIN in the command line, MCP_BG_STATE_DIR=stateDir in the environment. */
export function serverProcesses(stateDir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").includes(BIN)) continue;
      const env = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (env.includes(`MCP_BG_STATE_DIR=${stateDir}`) && isAlive(Number(entry))) found.push(Number(entry));
    } catch {}
  }
  return found;
}

// ---------------------------------------------------------------------------------------------------
// Claude Code's interactive mode, under a pseudo-terminal

export interface InteractiveOptions extends RunOptions {
  /**
   * How the session is ended once the model's final text has been served and shown: "/exit" typed
   * (the default), or "ctrl-c" (Ctrl-C twice).
   */
  end?: "exit-command" | "ctrl-c";
}

export interface InteractiveRun extends HostRun {
  /** How it ended: "exit-command", "ctrl-c", "killed" (neither worked within 20 s), or "itself" (before any of them). */
  endedBy: "exit-command" | "ctrl-c" | "killed" | "itself";
}

/** The screen text of a terminal transcript, roughly: escape sequences removed. */
export function screenText(raw: string): string {
  return (
    raw
      // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape sequences
      .replace(/\x1b\[[0-9;?<>=]*[ -/]*[@-~]/g, " ")
      // biome-ignore lint/suspicious/noControlCharactersInRegex: OSC sequences
      .replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g, "")
      // biome-ignore lint/suspicious/noControlCharactersInRegex: other escapes
      .replace(/\x1b[()][0-9A-Za-z]|\x1b[=>78]/g, "")
  );
}

/**
 * Runs Claude Code interactively (`script -qfec "claude PROMPT"` under a 120x40 pseudo-terminal), with
 * ~/.claude.json set up so that no onboarding or trust dialog waits for a key. The model's final text
 * must be `script`'s last step: once it has been served and the terminal shows it, the session is
 * ended by typing `/exit` (or Ctrl-C twice), and killed if that does not end it.
 */
export async function runClaudeInteractive(opts: InteractiveOptions): Promise<InteractiveRun> {
  const last = opts.script.at(-1);
  if (!last || !("text" in last)) throw new Error("the script's last step must be the final text");
  const s = sandbox(opts.serverArgs, opts.tap);
  const model = await startFakeModel({ server: SERVER_NAME, script: opts.script, verbose: opts.verbose });
  try {
    const env = { ...baseEnv(s.home), ...setUpClaude(s, model), TERM: "xterm-256color", ...opts.env };
    const prompt = opts.prompt ?? DEFAULT_PROMPT;
    const argv = [opts.bin, prompt, "--allowedTools", `mcp__${SERVER_NAME}__*`].map(shellQuote).join(" ");
    const started = Date.now();
    const child = spawn("script", ["-qfec", `stty cols 120 rows 40; exec ${argv}`, "/dev/null"], {
      cwd: s.work,
      env,
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });
    child.stdin?.on("error", () => {});
    let shown = false;
    let resolveShown: () => void = () => {};
    const shownPromise = new Promise<void>((r) => {
      resolveShown = r;
    });
    // The final text as the screen shows it (a unique word of it suffices: the renderer may wrap lines).
    const word = last.text.split(/\s+/).sort((a, b) => b.length - a.length)[0] ?? last.text;
    const result = collect(child, opts.timeoutMs ?? 120_000, (all) => {
      if (!shown && screenText(all).includes(word)) {
        shown = true;
        resolveShown();
      }
    });
    let endedBy: InteractiveRun["endedBy"] = "killed";
    const exited = new Promise<void>((r) => child.on("exit", () => r()));
    const hasExited = () => child.exitCode !== null || child.signalCode !== null;
    const ender = (async () => {
      if (!(await Promise.race([model.finalServed.then(() => true), exited.then(() => false)]))) {
        endedBy = "itself";
        return;
      }
      // Typed only once the screen shows the final text (the turn is over and the prompt is back); at most 10 s.
      await Promise.race([shownPromise, exited, new Promise((r) => setTimeout(r, 10_000))]);
      const tryEnd = async (how: "exit-command" | "ctrl-c", keys: string[]) => {
        for (const k of keys) {
          if (hasExited()) break;
          child.stdin?.write(k);
          // Keys typed one after another, as a person would: an Ink prompt takes a burst as a paste.
          await Promise.race([exited, new Promise((r) => setTimeout(r, 300))]);
        }
        const ok = await Promise.race([
          exited.then(() => true),
          new Promise<boolean>((r) => setTimeout(() => r(false), 10_000)),
        ]);
        if (ok) endedBy = how;
        return ok;
      };
      if (hasExited()) {
        endedBy = "itself";
        return;
      }
      if ((opts.end ?? "exit-command") === "exit-command" && (await tryEnd("exit-command", ["/exit", "\r"]))) return;
      if (await tryEnd("ctrl-c", ["\x03", "\x03"])) return;
      killGroup(child, "SIGKILL");
    })();
    const done = await result;
    await ender.catch(() => {});
    const ms = Date.now() - started;
    return { host: "claude", ...done, ms, model, endedBy, ...(await afterRun(s)) };
  } finally {
    await model.close();
    if (opts.keep) console.log(`claude interactive run kept in ${s.dir}`);
    else rmSync(s.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  }
}

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
