import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseArgs } from "../../src/cli/args.js";
import { type Config, ConfigError, loadConfig, parseSize } from "../../src/config/config.js";
import { DEFAULT_DENY_RULES } from "../../src/config/deny-rules.js";
import { checkCommand } from "../../src/engine/command-policy.js";
import { JobError } from "../../src/engine/errors.js";

const HOME = "/home/tester";
const CWD = "/srv/project";

// Made at load time: the tables below name these paths.
const tmp = mkdtempSync(join(tmpdir(), "mcp-bg-config-"));
const dirA = join(tmp, "a");
const dirB = join(tmp, "b");
const shellA = join(tmp, "myshell");
const notExecutable = join(tmp, "plain.txt");
mkdirSync(dirA);
mkdirSync(dirB);
writeFileSync(shellA, '#!/bin/sh\nexec /bin/sh "$@"\n');
chmodSync(shellA, 0o755);
writeFileSync(notExecutable, "not a program\n");
chmodSync(notExecutable, 0o644);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** loadConfig with an explicit HOME, so defaults never depend on the machine. */
const load = (env: Record<string, string> = {}, flags: Record<string, string> = {}): Config =>
  loadConfig(new Map(Object.entries(flags)), { HOME, ...env }, CWD);

/** The ConfigError that loading throws; fails the test when it does not throw one. */
function configError(env: Record<string, string>, flags: Record<string, string> = {}): ConfigError {
  let thrown: unknown;
  try {
    load(env, flags);
  } catch (err) {
    thrown = err;
  }
  expect(thrown, "expected a ConfigError").toBeInstanceOf(ConfigError);
  return thrown as ConfigError;
}

/** A comparable view of a config value (regexes by their source). */
function view(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(view);
  if (value instanceof RegExp) return value.source;
  if (value && typeof value === "object" && "pattern" in value) {
    const rule = value as { name: string; pattern: RegExp };
    return { name: rule.name, pattern: rule.pattern.source };
  }
  return value;
}

describe("loadConfig defaults", () => {
  it("match the contract", () => {
    const c = load();
    expect(c.maxJobs).toBe(10);
    expect(c.maxOutputBytes).toBe(10485760);
    expect(c.jobTimeoutSeconds).toBeUndefined();
    expect(c.cleanupIntervalSeconds).toBe(300);
    expect(c.allowedCommands).toBeUndefined();
    expect(view(c.deniedCommands)).toEqual(view(DEFAULT_DENY_RULES));
    expect(c.workingDir).toBe(CWD);
    expect(c.shell).toBe("/bin/sh");
    expect(c.maxResponseChars).toBe(50000);
    expect(c.retentionSeconds).toBe(604800);
    expect(c.maxFinished).toBe(500);
  });

  it("put the state dir under $XDG_STATE_HOME when set", () => {
    expect(load({ XDG_STATE_HOME: "/xdg/state" }).stateDir).toBe("/xdg/state/mcp-bg-jobs");
  });

  it("put the state dir under $HOME/.local/state otherwise", () => {
    expect(load().stateDir).toBe(`${HOME}/.local/state/mcp-bg-jobs`);
    expect(load({ XDG_STATE_HOME: "" }).stateDir).toBe(`${HOME}/.local/state/mcp-bg-jobs`);
  });

  it("treat an empty variable as unset", () => {
    const c = load({ MCP_BG_MAX_JOBS: "", MCP_BG_MAX_OUTPUT_SIZE: "", MCP_BG_DENIED_COMMANDS: "" });
    expect(c.maxJobs).toBe(10);
    expect(c.maxOutputBytes).toBe(10485760);
    expect(view(c.deniedCommands)).toEqual(view(DEFAULT_DENY_RULES));
  });

  it("keep the environment as the jobs' base environment, without a job id the server itself may carry", () => {
    const env = { HOME, FOO: "bar" };
    expect(loadConfig(new Map(), env, CWD).baseEnv).toEqual(env);
    const inside = { HOME, FOO: "bar", MCP_BG_JOB_ID: "outer-job" };
    expect(loadConfig(new Map(), inside, CWD).baseEnv).toEqual(env);
  });
});

interface SettingCase {
  env: string;
  flag: string;
  key: keyof Config;
  envValue: string;
  envExpect: unknown;
  flagValue: string;
  flagExpect: unknown;
}

// Every variable, its flag, a value for each and what it parses to.
const SETTINGS: SettingCase[] = [
  {
    env: "MCP_BG_MAX_JOBS",
    flag: "--max-jobs",
    key: "maxJobs",
    envValue: "7",
    envExpect: 7,
    flagValue: "3",
    flagExpect: 3,
  },
  {
    env: "MCP_BG_MAX_OUTPUT_SIZE",
    flag: "--max-output-size",
    key: "maxOutputBytes",
    envValue: "512KB",
    envExpect: 524288,
    flagValue: "2MB",
    flagExpect: 2097152,
  },
  {
    env: "MCP_BG_JOB_TIMEOUT",
    flag: "--job-timeout",
    key: "jobTimeoutSeconds",
    envValue: "30",
    envExpect: 30,
    flagValue: "1.5",
    flagExpect: 1.5,
  },
  {
    env: "MCP_BG_CLEANUP_INTERVAL",
    flag: "--cleanup-interval",
    key: "cleanupIntervalSeconds",
    envValue: "60",
    envExpect: 60,
    flagValue: "5",
    flagExpect: 5,
  },
  {
    env: "MCP_BG_ALLOWED_COMMANDS",
    flag: "--allowed-commands",
    key: "allowedCommands",
    envValue: "^ls\\b,^echo ",
    envExpect: ["^ls\\b", "^echo"],
    flagValue: "^git",
    flagExpect: ["^git"],
  },
  {
    env: "MCP_BG_WORKING_DIR",
    flag: "--working-dir",
    key: "workingDir",
    envValue: dirA,
    envExpect: dirA,
    flagValue: dirB,
    flagExpect: dirB,
  },
  {
    env: "MCP_BG_DENIED_COMMANDS",
    flag: "--denied-commands",
    key: "deniedCommands",
    envValue: "npm publish,^git push",
    envExpect: [
      { name: "npm publish", pattern: "npm publish" },
      { name: "^git push", pattern: "^git push" },
    ],
    flagValue: "shutdown",
    flagExpect: [{ name: "shutdown", pattern: "shutdown" }],
  },
  {
    env: "MCP_BG_SHELL",
    flag: "--shell",
    key: "shell",
    envValue: "/bin/sh",
    envExpect: "/bin/sh",
    flagValue: shellA,
    flagExpect: shellA,
  },
  {
    env: "MCP_BG_MAX_RESPONSE_CHARS",
    flag: "--max-response-chars",
    key: "maxResponseChars",
    envValue: "2000",
    envExpect: 2000,
    flagValue: "100000",
    flagExpect: 100000,
  },
  {
    env: "MCP_BG_STATE_DIR",
    flag: "--state-dir",
    key: "stateDir",
    envValue: "/var/lib/bg-a",
    envExpect: "/var/lib/bg-a",
    flagValue: "/var/lib/bg-b",
    flagExpect: "/var/lib/bg-b",
  },
  {
    env: "MCP_BG_RETENTION",
    flag: "--retention",
    key: "retentionSeconds",
    envValue: "3600",
    envExpect: 3600,
    flagValue: "60",
    flagExpect: 60,
  },
  {
    env: "MCP_BG_MAX_FINISHED",
    flag: "--max-finished",
    key: "maxFinished",
    envValue: "20",
    envExpect: 20,
    flagValue: "5",
    flagExpect: 5,
  },
  {
    env: "MCP_BG_KEEP_JOBS",
    flag: "--keep-jobs",
    key: "keepJobs",
    envValue: "1",
    envExpect: true,
    flagValue: "0",
    flagExpect: false,
  },
  {
    env: "MCP_BG_HTTP",
    flag: "--http",
    key: "http",
    envValue: "yes",
    envExpect: true,
    flagValue: "off",
    flagExpect: false,
  },
  { env: "MCP_BG_PORT", flag: "--port", key: "port", envValue: "9000", envExpect: 9000, flagValue: "0", flagExpect: 0 },
  {
    env: "MCP_BG_HOST",
    flag: "--host",
    key: "host",
    envValue: "localhost",
    envExpect: "localhost",
    flagValue: "::1",
    flagExpect: "::1",
  },
  {
    env: "MCP_BG_AUTH_TOKEN",
    flag: "--auth-token",
    key: "authToken",
    envValue: "0123456789abcdef",
    envExpect: "0123456789abcdef",
    flagValue: "a-longer-token-from-the-flag",
    flagExpect: "a-longer-token-from-the-flag",
  },
  {
    env: "MCP_BG_ALLOWED_HOSTS",
    flag: "--allowed-hosts",
    key: "allowedHosts",
    envValue: "Box.Local, ci",
    envExpect: ["box.local", "ci"],
    flagValue: "example.test",
    flagExpect: ["example.test"],
  },
  {
    env: "MCP_BG_MAX_REQUEST_SIZE",
    flag: "--max-request-size",
    key: "maxRequestBytes",
    envValue: "1MB",
    envExpect: 1024 * 1024,
    flagValue: "64KB",
    flagExpect: 65536,
  },
  {
    env: "MCP_BG_SESSION_IDLE",
    flag: "--session-idle",
    key: "sessionIdleSeconds",
    envValue: "60",
    envExpect: 60,
    flagValue: "0.5",
    flagExpect: 0.5,
  },
  {
    env: "MCP_BG_MAX_SESSIONS",
    flag: "--max-sessions",
    key: "maxSessions",
    envValue: "5",
    envExpect: 5,
    flagValue: "1",
    flagExpect: 1,
  },
  {
    env: "MCP_BG_CALL_TIMEOUT",
    flag: "--call-timeout",
    key: "callTimeoutSeconds",
    envValue: "600",
    envExpect: 600,
    flagValue: "2.5",
    flagExpect: 2.5,
  },
  {
    env: "MCP_BG_CGROUPS",
    flag: "--cgroups",
    key: "cgroups",
    envValue: "0",
    envExpect: false,
    flagValue: "yes",
    flagExpect: true,
  },
  {
    env: "MCP_BG_EXECUTOR",
    flag: "--executor",
    key: "executor",
    envValue: "slurm",
    envExpect: "slurm",
    flagValue: "local",
    flagExpect: "local",
  },
  {
    env: "MCP_BG_SLURM",
    flag: "--slurm",
    key: "slurm",
    envValue: "1",
    envExpect: true,
    flagValue: "0",
    flagExpect: false,
  },
  {
    env: "MCP_BG_SLURM_PARTITION",
    flag: "--slurm-partition",
    key: "slurmPartition",
    envValue: "gpu",
    envExpect: "gpu",
    flagValue: "debug.short",
    flagExpect: "debug.short",
  },
  {
    env: "MCP_BG_SLURM_ACCOUNT",
    flag: "--slurm-account",
    key: "slurmAccount",
    envValue: "lab_1",
    envExpect: "lab_1",
    flagValue: "lab-2",
    flagExpect: "lab-2",
  },
  {
    env: "MCP_BG_SLURM_TIME",
    flag: "--slurm-time",
    key: "slurmTimeMinutes",
    envValue: "90",
    envExpect: 90,
    flagValue: "5",
    flagExpect: 5,
  },
  {
    env: "MCP_BG_SLURM_SBATCH_ARGS",
    flag: "--slurm-sbatch-args",
    key: "slurmSbatchArgs",
    envValue: '["--qos=high", "--mem=2G"]',
    envExpect: ["--qos=high", "--mem=2G"],
    flagValue: '["--comment=a b; c"]',
    flagExpect: ["--comment=a b; c"],
  },
  {
    env: "MCP_BG_SLURM_INPUT",
    flag: "--slurm-input",
    key: "slurmInput",
    envValue: "srun",
    envExpect: "srun",
    flagValue: "fifo",
    flagExpect: "fifo",
  },
];

describe.each(SETTINGS)("$env / $flag", (s) => {
  it("is read from the environment variable", () => {
    const c = load({ [s.env]: s.envValue });
    expect(view(c[s.key])).toEqual(s.envExpect);
  });

  it("is read from the flag", () => {
    const c = load({}, { [s.flag]: s.flagValue });
    expect(view(c[s.key])).toEqual(s.flagExpect);
  });

  it("takes the flag over the variable", () => {
    const c = load({ [s.env]: s.envValue }, { [s.flag]: s.flagValue });
    expect(view(c[s.key])).toEqual(s.flagExpect);
  });

  it("takes the flag the same way as --name value and --name=value", () => {
    for (const argv of [[s.flag, s.flagValue], [`${s.flag}=${s.flagValue}`]]) {
      const { options } = parseArgs(argv, new Set());
      const c = loadConfig(options, { HOME }, CWD);
      expect(view(c[s.key])).toEqual(s.flagExpect);
    }
  });
});

describe("special values", () => {
  it.each(["0", "none", "NONE", " none "])("MCP_BG_JOB_TIMEOUT=%j means no limit", (raw) => {
    expect(load({ MCP_BG_JOB_TIMEOUT: raw }).jobTimeoutSeconds).toBeUndefined();
  });

  it("--job-timeout none overrides a timeout from the environment", () => {
    expect(load({ MCP_BG_JOB_TIMEOUT: "30" }, { "--job-timeout": "none" }).jobTimeoutSeconds).toBeUndefined();
    expect(load({ MCP_BG_JOB_TIMEOUT: "30" }, { "--job-timeout": "0" }).jobTimeoutSeconds).toBeUndefined();
  });

  it.each(["none", "NONE", " None "])("MCP_BG_DENIED_COMMANDS=%j turns the guard rail off", (raw) => {
    const c = load({ MCP_BG_DENIED_COMMANDS: raw });
    expect(c.deniedCommands).toEqual([]);
    expect(() => checkCommand({ allowed: c.allowedCommands, denied: c.deniedCommands }, "rm -rf /")).not.toThrow();
  });

  it("--denied-commands none overrides rules from the environment", () => {
    expect(load({ MCP_BG_DENIED_COMMANDS: "foo" }, { "--denied-commands": "none" }).deniedCommands).toEqual([]);
  });

  it.each([
    ["10KB", 10240],
    ["10MB", 10485760],
    ["1MB", 1048576],
    ["4096", 4096],
    ["10mb", 10485760],
  ])("MCP_BG_MAX_OUTPUT_SIZE=%j is %d bytes", (raw, bytes) => {
    expect(load({ MCP_BG_MAX_OUTPUT_SIZE: raw }).maxOutputBytes).toBe(bytes);
  });

  it("MCP_BG_ALLOWED_COMMANDS trims its patterns and drops empty ones", () => {
    expect(view(load({ MCP_BG_ALLOWED_COMMANDS: " ^ls , ,^cat " }).allowedCommands)).toEqual(["^ls", "^cat"]);
  });

  it("MCP_BG_ALLOWED_COMMANDS gives an allow-list that checkCommand applies", () => {
    const c = load({ MCP_BG_ALLOWED_COMMANDS: "^ls\\b,^echo\\b" });
    const policy = { allowed: c.allowedCommands, denied: c.deniedCommands };
    expect(() => checkCommand(policy, "ls -la")).not.toThrow();
    expect(() => checkCommand(policy, "cat x")).toThrow(/matches none of MCP_BG_ALLOWED_COMMANDS/);
  });

  it("MCP_BG_DENIED_COMMANDS gives rules named by their pattern that checkCommand applies", () => {
    const c = load({ MCP_BG_DENIED_COMMANDS: "npm publish,^git push" });
    const policy = { allowed: c.allowedCommands, denied: c.deniedCommands };
    expect(() => checkCommand(policy, "npm test")).not.toThrow();
    let err: unknown;
    try {
      checkCommand(policy, "git push origin main");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JobError);
    expect((err as JobError).code).toBe("denied");
    expect((err as JobError).message).toContain('"^git push"');
  });

  it("MCP_BG_STATE_DIR and MCP_BG_WORKING_DIR come out as absolute paths", () => {
    const c = load({ MCP_BG_STATE_DIR: "relative/state" });
    expect(c.stateDir.startsWith("/")).toBe(true);
    expect(c.stateDir.endsWith("/relative/state")).toBe(true);
    expect(load({ MCP_BG_WORKING_DIR: `${dirA}/../a/` }).workingDir).toBe(dirA);
  });

  it("accepts surrounding white space in whole numbers", () => {
    expect(load({ MCP_BG_MAX_JOBS: " 5 " }).maxJobs).toBe(5);
  });
});

// [variable, flag, bad value]
const BAD: [string, string, string][] = [
  ["MCP_BG_MAX_JOBS", "--max-jobs", "abc"],
  ["MCP_BG_MAX_JOBS", "--max-jobs", "-1"],
  ["MCP_BG_MAX_JOBS", "--max-jobs", "0"],
  ["MCP_BG_MAX_JOBS", "--max-jobs", "2.5"],
  ["MCP_BG_MAX_JOBS", "--max-jobs", "1\n2"],
  ["MCP_BG_MAX_OUTPUT_SIZE", "--max-output-size", "10XB"],
  ["MCP_BG_MAX_OUTPUT_SIZE", "--max-output-size", "abc"],
  ["MCP_BG_MAX_OUTPUT_SIZE", "--max-output-size", "-5MB"],
  ["MCP_BG_MAX_OUTPUT_SIZE", "--max-output-size", "0"],
  ["MCP_BG_JOB_TIMEOUT", "--job-timeout", "abc"],
  ["MCP_BG_JOB_TIMEOUT", "--job-timeout", "-5"],
  ["MCP_BG_CLEANUP_INTERVAL", "--cleanup-interval", "abc"],
  ["MCP_BG_CLEANUP_INTERVAL", "--cleanup-interval", "-1"],
  ["MCP_BG_CLEANUP_INTERVAL", "--cleanup-interval", "0"],
  ["MCP_BG_ALLOWED_COMMANDS", "--allowed-commands", "("],
  ["MCP_BG_ALLOWED_COMMANDS", "--allowed-commands", "^ls,[z-a]"],
  ["MCP_BG_DENIED_COMMANDS", "--denied-commands", "("],
  ["MCP_BG_WORKING_DIR", "--working-dir", "/nonexistent-mcp-bg-dir"],
  ["MCP_BG_WORKING_DIR", "--working-dir", notExecutable],
  ["MCP_BG_SHELL", "--shell", "/nonexistent/sh"],
  ["MCP_BG_SHELL", "--shell", notExecutable],
  ["MCP_BG_SHELL", "--shell", tmp],
  ["MCP_BG_MAX_RESPONSE_CHARS", "--max-response-chars", "abc"],
  ["MCP_BG_MAX_RESPONSE_CHARS", "--max-response-chars", "-1"],
  ["MCP_BG_MAX_RESPONSE_CHARS", "--max-response-chars", "0"],
  ["MCP_BG_RETENTION", "--retention", "abc"],
  ["MCP_BG_RETENTION", "--retention", "-1"],
  ["MCP_BG_MAX_FINISHED", "--max-finished", "abc"],
  ["MCP_BG_MAX_FINISHED", "--max-finished", "-1"],
  ["MCP_BG_MAX_FINISHED", "--max-finished", "0"],
  ["MCP_BG_KEEP_JOBS", "--keep-jobs", "maybe"],
  ["MCP_BG_HTTP", "--http", "2"],
  ["MCP_BG_PORT", "--port", "65536"],
  ["MCP_BG_PORT", "--port", "http"],
  ["MCP_BG_HOST", "--host", "a host"],
  ["MCP_BG_ALLOWED_HOSTS", "--allowed-hosts", "buildbox:8765"],
  ["MCP_BG_ALLOWED_HOSTS", "--allowed-hosts", "user@box"],
  ["MCP_BG_AUTH_TOKEN", "--auth-token", "short"],
  ["MCP_BG_MAX_REQUEST_SIZE", "--max-request-size", "lots"],
  ["MCP_BG_CALL_TIMEOUT", "--call-timeout", "0"],
  ["MCP_BG_CALL_TIMEOUT", "--call-timeout", "forever"],
  ["MCP_BG_CGROUPS", "--cgroups", "auto"],
  ["MCP_BG_SANDBOX", "--sandbox", "strict"],
  ["MCP_BG_SANDBOX_REQUIRED", "--sandbox-required", "maybe"],
  ["MCP_BG_SANDBOX_WRITABLE", "--sandbox-writable", Array.from({ length: 61 }, (_, i) => `/w${i}`).join(":")],
  ["MCP_BG_NETWORK", "--network", "some"],
  ["MCP_BG_JOB_MEMORY", "--job-memory", "10KB"],
  ["MCP_BG_JOB_MEMORY", "--job-memory", "lots"],
  ["MCP_BG_JOB_CPU", "--job-cpu", "0.001"],
  ["MCP_BG_JOB_CPU", "--job-cpu", "two"],
  ["MCP_BG_JOB_PROCESSES", "--job-processes", "-3"],
  ["MCP_BG_EXECUTOR", "--executor", "kubernetes"],
  ["MCP_BG_SLURM_PARTITION", "--slurm-partition", "gpu; rm -rf /"],
  ["MCP_BG_SLURM_ACCOUNT", "--slurm-account", "a b"],
  ["MCP_BG_SLURM_TIME", "--slurm-time", "0"],
  ["MCP_BG_SLURM_SBATCH_ARGS", "--slurm-sbatch-args", "--qos=high --mem=2G"],
  ["MCP_BG_SLURM_SBATCH_ARGS", "--slurm-sbatch-args", '["--qos=high", 3]'],
  ["MCP_BG_SLURM_INPUT", "--slurm-input", "pipe"],
];

describe("bad values", () => {
  it.each(BAD)("%s (%s) = %j from the variable is a one-line ConfigError naming it", (env, _flag, value) => {
    const err = configError({ [env]: value });
    expect(err.message).toContain(env);
    expect(err.message).not.toMatch(/[\r\n]/);
  });

  it.each(BAD)("%s (%s) = %j from the flag is a one-line ConfigError naming it", (_env, flag, value) => {
    const err = configError({}, { [flag]: value });
    expect(err.message).toContain(flag);
    expect(err.message).not.toMatch(/[\r\n]/);
  });

  it("names the flag, not the variable, when the bad value came from the flag", () => {
    const err = configError({ MCP_BG_MAX_JOBS: "5" }, { "--max-jobs": "abc" });
    expect(err.message).toContain("--max-jobs");
    expect(err.message).not.toContain("MCP_BG_MAX_JOBS");
  });

  it("is one line even when an invalid pattern has a newline inside it", () => {
    // V8's RegExp error message repeats the pattern verbatim, newline included.
    const err = configError({ MCP_BG_ALLOWED_COMMANDS: "(\nx" });
    expect(err.message).toContain("MCP_BG_ALLOWED_COMMANDS");
    expect(err.message).not.toMatch(/[\r\n]/);
  });

  it.each(["--bogus", "--max-job", "--MAX-JOBS"])("refuses the unknown flag %s", (flag) => {
    const err = configError({}, { [flag]: "1" });
    expect(err.message).toContain(flag);
    expect(err.message).not.toMatch(/[\r\n]/);
  });

  it("ignores unrelated environment variables", () => {
    expect(() => load({ MCP_BG_UNKNOWN_THING: "x", PATH: "/bin" })).not.toThrow();
  });
});

describe("parseSize", () => {
  it.each([
    ["4096", 4096],
    ["1024", 1024],
    ["1KB", 1024],
    ["1kb", 1024],
    ["10K", 10240],
    ["512KB", 524288],
    ["512KiB", 524288],
    ["1M", 1048576],
    ["10MB", 10485760],
    ["10mb", 10485760],
    ["10 MB", 10485760],
    [" 10MB ", 10485760],
    ["1.5MB", 1572864],
    ["1GB", 1073741824],
    ["2048B", 2048],
  ])("parses %j as %d bytes", (raw, bytes) => {
    expect(parseSize(raw)).toBe(bytes);
  });

  it.each(["10XB", "", "MB", "abc", "-1MB", "10 M B", "1e6", "0x400", "0", "0KB"])("refuses %j", (raw) => {
    expect(() => parseSize(raw)).toThrow(ConfigError);
  });

  it("names the setting in its error", () => {
    expect(() => parseSize("10XB", "MCP_BG_MAX_OUTPUT_SIZE")).toThrow(/MCP_BG_MAX_OUTPUT_SIZE/);
  });
});

describe("parseArgs", () => {
  const SWITCHES = new Set(["--help", "--version"]);

  it("takes the next argument as the value of `--a b`", () => {
    const p = parseArgs(["--a", "b"], SWITCHES);
    expect([...p.options]).toEqual([["--a", "b"]]);
    expect(p.positionals).toEqual([]);
  });

  it("splits `--a=b` at the first =", () => {
    expect([...parseArgs(["--a=b"], SWITCHES).options]).toEqual([["--a", "b"]]);
    expect([...parseArgs(["--a=b=c"], SWITCHES).options]).toEqual([["--a", "b=c"]]);
    expect([...parseArgs(["--a="], SWITCHES).options]).toEqual([["--a", ""]]);
  });

  it("gives an option at the end without a value the empty string", () => {
    expect([...parseArgs(["--a"], SWITCHES).options]).toEqual([["--a", ""]]);
  });

  it("treats switches as taking no value", () => {
    const p = parseArgs(["--help", "list", "--version"], SWITCHES);
    expect([...p.switches].sort()).toEqual(["--help", "--version"]);
    expect(p.options.size).toBe(0);
    expect(p.positionals).toEqual(["list"]);
  });

  it("keeps positionals in order between options", () => {
    const p = parseArgs(["logs", "--tail", "5", "abc123", "--x=1", "more"], SWITCHES);
    expect(p.positionals).toEqual(["logs", "abc123", "more"]);
    expect([...p.options]).toEqual([
      ["--tail", "5"],
      ["--x", "1"],
    ]);
  });

  it("treats single-dash words and a bare -- as positionals", () => {
    expect(parseArgs(["-h", "--"], SWITCHES).positionals).toEqual(["-h", "--"]);
  });

  it("lets the last of a repeated option win", () => {
    expect(parseArgs(["--a", "1", "--a=2"], SWITCHES).options.get("--a")).toBe("2");
  });

  it("returns nothing for no arguments", () => {
    const p = parseArgs([], SWITCHES);
    expect(p.options.size + p.switches.size + p.positionals.length).toBe(0);
  });
});

describe("executors", () => {
  it("offers Slurm when it is the default executor, and not otherwise unless asked", () => {
    expect(load({})).toMatchObject({ executor: "local", slurm: false });
    expect(load({ MCP_BG_EXECUTOR: "slurm" })).toMatchObject({ executor: "slurm", slurm: true });
    expect(load({ MCP_BG_EXECUTOR: "slurm", MCP_BG_SLURM: "0" })).toMatchObject({ slurm: true });
    expect(load({ MCP_BG_SLURM: "1" })).toMatchObject({ executor: "local", slurm: true });
  });
});
