import { accessSync, constants, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { DEFAULT_DENY_RULES, type DenyRule } from "../engine/command-policy.js";

/** Everything the server is configured with, parsed and checked once at start-up. */
export interface Config {
  maxJobs: number;
  maxOutputBytes: number;
  /** Seconds a job may run before it is killed; undefined for no limit. */
  jobTimeoutSeconds: number | undefined;
  cleanupIntervalSeconds: number;
  allowedCommands: RegExp[] | undefined;
  deniedCommands: DenyRule[];
  workingDir: string;
  shell: string;
  maxResponseChars: number;
  stateDir: string;
  retentionSeconds: number;
  maxFinished: number;
  /** Jobs outlive a normal shutdown of the server that started them. */
  keepJobs: boolean;
  /** Serve Streamable HTTP instead of stdio. */
  http: boolean;
  /** TCP port of the HTTP server (0: any free one). */
  port: number;
  /** Address the HTTP server listens on. */
  host: string;
  /** Bearer token every HTTP request must carry; undefined for none (loopback only). */
  authToken: string | undefined;
  /** Host names besides the loopback ones and `host` that HTTP requests may name (Host, Origin). */
  allowedHosts: string[];
  /** Largest HTTP request body accepted, in bytes. */
  maxRequestBytes: number;
  /** Seconds an HTTP session with nothing open may sit unused before it is closed. */
  sessionIdleSeconds: number;
  /** HTTP sessions kept at once. */
  maxSessions: number;
  /** Longest a single tool call waits (wait_for_job, interact_with_job, kill_job), in seconds. */
  callTimeoutSeconds: number;
  /** Give each job a cgroup of its own where cgroup v2 allows it. */
  cgroups: boolean;
  /** Grace before SIGKILL when the server shuts down with jobs running. */
  shutdownGraceMs: number;
  /** The environment jobs start from (the server's own). */
  baseEnv: NodeJS.ProcessEnv;
}

/** A configuration value that cannot be used; its message is the one line printed before exit 2. */
export class ConfigError extends Error {}

/** What a parser may look at besides the raw value. */
interface ParseContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
}

type Parser<T> = (raw: string, name: string, ctx: ParseContext) => T;

/** One setting: its environment variable, its flag, how to parse it and its default. */
interface Setting<K extends keyof Config> {
  key: K;
  env: string;
  flag: string;
  parse: Parser<Config[K]>;
  help: string;
  /** A flag that takes no value (`--keep-jobs`); `--keep-jobs=0` still works. */
  isSwitch?: boolean;
}

// One line, whatever the value or the reason contain.
const bad = (name: string, raw: string, why: string) =>
  new ConfigError(`${name}=${JSON.stringify(raw)}: ${why.replace(/\s*\n\s*/g, " ")}`);

// A whole number within [min, max].
const integer =
  (min: number, max: number): Parser<number> =>
  (raw, name) => {
    if (!/^\s*\d+\s*$/.test(raw)) throw bad(name, raw, `expected a whole number from ${min} to ${max}`);
    const n = Number(raw);
    if (n < min || n > max) throw bad(name, raw, `expected a whole number from ${min} to ${max}`);
    return n;
  };

// Seconds: a positive number, fractions allowed.
const seconds: Parser<number> = (raw, name) => {
  const n = Number(raw);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(raw) || n <= 0) throw bad(name, raw, "expected a number of seconds > 0");
  return n;
};

// Seconds that a Node timer will hold (at most 2^31 - 1 ms).
const timerSeconds: Parser<number> = (raw, name, ctx) => {
  const s = seconds(raw, name, ctx);
  if (s > 2_147_483) throw bad(name, raw, "expected at most 2147483 seconds (24 days)");
  return s;
};

/** Parses a byte size such as `10MB`, `512KB`, `1GB` or `4096` (binary units: 1KB = 1024 bytes). */
export function parseSize(raw: string, name = "size"): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$/i.exec(raw);
  if (!m) throw bad(name, raw, "expected a size such as 10MB, 512KB or 4096");
  const unit = (m[2] ?? "b").toLowerCase()[0] as "b" | "k" | "m" | "g";
  const bytes = Math.floor(Number(m[1]) * { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit]);
  if (bytes < 1024 || bytes > 4 * 1024 ** 3) throw bad(name, raw, "expected a size from 1KB to 4GB");
  return bytes;
}

// Comma-separated regular expressions.
const regexList = (raw: string, name: string): RegExp[] =>
  raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((src) => {
      try {
        return new RegExp(src);
      } catch (err) {
        throw bad(name, raw, `invalid regular expression ${JSON.stringify(src)}: ${(err as Error).message}`);
      }
    });

// Yes or no.
const yesNo: Parser<boolean> = (raw, name) => {
  const v = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off", ""].includes(v)) return false;
  throw bad(name, raw, "expected 1 or 0 (true/false, yes/no, on/off)");
};

const directory: Parser<string> = (raw, name, ctx) => {
  const dir = resolve(ctx.cwd, raw);
  let ok = false;
  try {
    ok = statSync(dir).isDirectory();
  } catch {}
  if (!ok) throw bad(name, raw, "not an existing directory");
  return dir;
};

// An executable file: a path, or a bare name looked up on PATH.
const executable: Parser<string> = (raw, name, ctx) => {
  const candidates = raw.includes("/")
    ? [resolve(ctx.cwd, raw)]
    : (ctx.env.PATH ?? "").split(":").map((d) => join(d || ".", raw));
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      if (statSync(path).isFile()) return path;
    } catch {}
  }
  throw bad(name, raw, "not an executable file");
};

const SETTINGS = [
  {
    key: "maxJobs",
    env: "MCP_BG_MAX_JOBS",
    flag: "--max-jobs",
    parse: integer(1, 100000),
    help: "jobs running at once (10)",
  },
  {
    key: "maxOutputBytes",
    env: "MCP_BG_MAX_OUTPUT_SIZE",
    flag: "--max-output-size",
    parse: parseSize,
    help: "bytes kept per job and stream, KB/MB suffix (10MB)",
  },
  {
    key: "jobTimeoutSeconds",
    env: "MCP_BG_JOB_TIMEOUT",
    flag: "--job-timeout",
    parse: (raw, name, ctx) => {
      if (/^\s*none\s*$/i.test(raw) || Number(raw) === 0) return undefined;
      return timerSeconds(raw, name, ctx);
    },
    help: "seconds before a job is killed; 0 or none for no limit (none)",
  },
  {
    key: "cleanupIntervalSeconds",
    env: "MCP_BG_CLEANUP_INTERVAL",
    flag: "--cleanup-interval",
    parse: timerSeconds,
    help: "seconds between sweeps of old finished jobs (300)",
  },
  {
    key: "allowedCommands",
    env: "MCP_BG_ALLOWED_COMMANDS",
    flag: "--allowed-commands",
    parse: (raw, name) => {
      const list = regexList(raw, name);
      return list.length ? list : undefined;
    },
    help: "comma-separated regexes; a command must match one (allow all)",
  },
  {
    key: "deniedCommands",
    env: "MCP_BG_DENIED_COMMANDS",
    flag: "--denied-commands",
    parse: (raw, name) => {
      if (raw.trim().toLowerCase() === "none") return [];
      const list = regexList(raw, name);
      if (list.length === 0) throw bad(name, raw, "expected comma-separated regexes, or none to turn the rules off");
      return list.map((re) => ({ name: re.source, pattern: re }));
    },
    help: "comma-separated regexes refused; 'none' turns the guard rail off (built-in rules)",
  },
  {
    key: "workingDir",
    env: "MCP_BG_WORKING_DIR",
    flag: "--working-dir",
    parse: directory,
    help: "default working directory of jobs (server's cwd)",
  },
  {
    key: "shell",
    env: "MCP_BG_SHELL",
    flag: "--shell",
    parse: executable,
    help: "shell that runs commands with -c (/bin/sh)",
  },
  {
    key: "maxResponseChars",
    env: "MCP_BG_MAX_RESPONSE_CHARS",
    flag: "--max-response-chars",
    parse: integer(1000, 10_000_000),
    help: "characters per stream in one result (50000)",
  },
  {
    key: "stateDir",
    env: "MCP_BG_STATE_DIR",
    flag: "--state-dir",
    parse: (raw: string, _name: string, ctx: ParseContext) => resolve(ctx.cwd, raw),
    help: "where job records and output are kept, shared by servers ($XDG_STATE_HOME/mcp-bg-jobs)",
  },
  {
    key: "retentionSeconds",
    env: "MCP_BG_RETENTION",
    flag: "--retention",
    parse: seconds,
    help: "seconds a finished job is kept (604800 = 7 days)",
  },
  {
    key: "maxFinished",
    env: "MCP_BG_MAX_FINISHED",
    flag: "--max-finished",
    parse: integer(1, 1_000_000),
    help: "finished jobs kept at most (500)",
  },
  {
    key: "keepJobs",
    env: "MCP_BG_KEEP_JOBS",
    flag: "--keep-jobs",
    parse: yesNo,
    help: "jobs outlive a normal stop of the server; a later one adopts them (off)",
    isSwitch: true,
  },
  {
    key: "http",
    env: "MCP_BG_HTTP",
    flag: "--http",
    parse: yesNo,
    help: "serve Streamable HTTP at /mcp instead of stdio (off)",
    isSwitch: true,
  },
  {
    key: "port",
    env: "MCP_BG_PORT",
    flag: "--port",
    parse: integer(0, 65535),
    help: "HTTP port; 0 picks a free one (8765)",
  },
  {
    key: "host",
    env: "MCP_BG_HOST",
    flag: "--host",
    parse: (raw, name) => {
      const host = raw.trim();
      if (!/^[A-Za-z0-9.:_-]+$/.test(host)) throw bad(name, raw, "expected a host name or IP address");
      return host;
    },
    help: "HTTP address to listen on; other than loopback needs a token (127.0.0.1)",
  },
  {
    key: "authToken",
    env: "MCP_BG_AUTH_TOKEN",
    flag: "--auth-token",
    parse: (raw, name) => {
      if (raw.length < 16 || /\s/.test(raw)) throw bad(name, "***", "expected at least 16 characters, no spaces");
      return raw;
    },
    help: "HTTP requests must send Authorization: Bearer TOKEN (prefer the variable: flags show in ps)",
  },
  {
    key: "allowedHosts",
    env: "MCP_BG_ALLOWED_HOSTS",
    flag: "--allowed-hosts",
    parse: (raw, name) => {
      const hosts = raw
        .split(",")
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean);
      for (const h of hosts) {
        // Matched against the Host and Origin host names, which never carry a port here.
        if (!/^[a-z0-9.-]+$|^\[?[0-9a-f:.]+\]?$/.test(h) || /^[a-z0-9.-]+:\d+$/.test(h)) {
          throw bad(name, raw, `${JSON.stringify(h)} is not a host name (give names or addresses, no ports)`);
        }
      }
      return hosts;
    },
    help: "more host names HTTP requests may use in Host/Origin, comma-separated (loopback and --host)",
  },
  {
    key: "maxRequestBytes",
    env: "MCP_BG_MAX_REQUEST_SIZE",
    flag: "--max-request-size",
    parse: parseSize,
    help: "largest HTTP request body, KB/MB suffix (4MB)",
  },
  {
    key: "sessionIdleSeconds",
    env: "MCP_BG_SESSION_IDLE",
    flag: "--session-idle",
    parse: timerSeconds,
    help: "seconds an HTTP session with nothing open may sit unused (1800)",
  },
  {
    key: "maxSessions",
    env: "MCP_BG_MAX_SESSIONS",
    flag: "--max-sessions",
    parse: integer(1, 100_000),
    help: "HTTP sessions kept at once; the longest unused makes room (1000)",
  },
  {
    key: "callTimeoutSeconds",
    env: "MCP_BG_CALL_TIMEOUT",
    flag: "--call-timeout",
    parse: timerSeconds,
    help: "seconds one tool call may wait at most; many hosts give up after 60 (50)",
  },
  {
    key: "cgroups",
    env: "MCP_BG_CGROUPS",
    flag: "--cgroups",
    parse: yesNo,
    help: "1: each job gets a cgroup of its own where cgroup v2 allows (finds all its processes); 0: never (1)",
  },
] as const satisfies readonly Setting<keyof Config>[];

/** Flags that take no value. */
export const SWITCH_SETTINGS: ReadonlySet<string> = new Set(
  SETTINGS.filter((s) => "isSwitch" in s && s.isSwitch).map((s) => s.flag),
);

/** Help lines for the settings: flag, variable and meaning. */
export function settingsHelp(): string {
  return SETTINGS.map((s) => {
    const flag = "isSwitch" in s ? s.flag : `${s.flag} VALUE`;
    return `  ${flag.padEnd(28)} ${s.env.padEnd(26)} ${s.help}`;
  }).join("\n");
}

/** The defaults, for the given environment (state dir follows XDG_STATE_HOME and HOME). */
function defaults(env: NodeJS.ProcessEnv, cwd: string): Config {
  const stateHome = env.XDG_STATE_HOME || join(env.HOME || homedir(), ".local", "state");
  return {
    maxJobs: 10,
    maxOutputBytes: 10 * 1024 * 1024,
    jobTimeoutSeconds: undefined,
    cleanupIntervalSeconds: 300,
    allowedCommands: undefined,
    deniedCommands: [...DEFAULT_DENY_RULES],
    workingDir: cwd,
    shell: "/bin/sh",
    maxResponseChars: 50_000,
    stateDir: join(stateHome, "mcp-bg-jobs"),
    retentionSeconds: 7 * 24 * 3600,
    maxFinished: 500,
    keepJobs: false,
    http: false,
    port: 8765,
    host: "127.0.0.1",
    authToken: undefined,
    allowedHosts: [],
    maxRequestBytes: 4 * 1024 * 1024,
    sessionIdleSeconds: 1800,
    maxSessions: 1000,
    callTimeoutSeconds: 50,
    cgroups: true,
    shutdownGraceMs: 2000,
    // A server started from inside a job must not mark its own jobs' shepherds as that job's; and the
    // HTTP token is the server's secret, not something every command it runs should see.
    baseEnv: Object.fromEntries(
      Object.entries(env).filter(([k]) => k !== "MCP_BG_JOB_ID" && k !== "MCP_BG_AUTH_TOKEN"),
    ),
  };
}

/**
 * Builds the configuration from flags (`--max-jobs 5` or `--max-jobs=5`) over environment
 * variables over defaults. Throws ConfigError with a one-line message on any bad value or flag.
 */
export function loadConfig(flags: ReadonlyMap<string, string>, env: NodeJS.ProcessEnv, cwd = process.cwd()): Config {
  const config = defaults(env, cwd);
  for (const flag of flags.keys()) {
    if (!SETTINGS.some((s) => s.flag === flag)) throw new ConfigError(`unknown option ${flag} (see --help)`);
  }
  for (const s of SETTINGS) {
    const fromFlag = flags.get(s.flag);
    const raw = fromFlag ?? env[s.env];
    if (raw === undefined || (fromFlag === undefined && raw === "")) continue;
    (config as unknown as Record<string, unknown>)[s.key] = s.parse(raw, fromFlag !== undefined ? s.flag : s.env, {
      env,
      cwd,
    });
  }
  if (config.http && !isLoopback(config.host) && !config.authToken) {
    throw new ConfigError(
      `--host ${config.host} is not a loopback address: set MCP_BG_AUTH_TOKEN so that only clients with the token get in`,
    );
  }
  return config;
}

/** Whether a host name or address reaches only this machine. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}
