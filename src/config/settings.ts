import { resolve } from "node:path";
import type { ExecutorName } from "../domain/job-state.js";
import {
  bad,
  directory,
  executable,
  integer,
  jsonStringList,
  type ParseContext,
  type Parser,
  parseSize,
  regexList,
  seconds,
  slurmName,
  timerSeconds,
  yesNo,
} from "./parsers.js";
import type { Config } from "./types.js";

/** One setting: its environment variable, its flag, how to parse it and its default. */
export interface Setting<K extends keyof Config> {
  key: K;
  env: string;
  flag: string;
  parse: Parser<Config[K]>;
  help: string;
  /** A flag that takes no value (`--keep-jobs`); `--keep-jobs=0` still works. */
  isSwitch?: boolean;
}

/** Every setting: environment variable, flag, parser and help line (the README lists the same). */
export const SETTINGS = [
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
    key: "notifyChannel",
    env: "MCP_BG_NOTIFY_CHANNEL",
    flag: "--notify-channel",
    parse: yesNo,
    help: "tell the client when a job it started ends, as a Claude Code channel (off)",
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
  {
    key: "executor",
    env: "MCP_BG_EXECUTOR",
    flag: "--executor",
    parse: (raw: string, name: string): ExecutorName => {
      if (raw === "local" || raw === "slurm") return raw;
      throw bad(name, raw, "expected local or slurm");
    },
    help: "where jobs run unless execute_command names an executor: local or slurm (local)",
  },
  {
    key: "slurm",
    env: "MCP_BG_SLURM",
    flag: "--slurm",
    parse: yesNo,
    help: "offer the Slurm executor to jobs that ask for it (on when --executor slurm; off)",
    isSwitch: true,
  },
  {
    key: "slurmPartition",
    env: "MCP_BG_SLURM_PARTITION",
    flag: "--slurm-partition",
    parse: slurmName,
    help: "Slurm partition for jobs (the cluster's default)",
  },
  {
    key: "slurmAccount",
    env: "MCP_BG_SLURM_ACCOUNT",
    flag: "--slurm-account",
    parse: slurmName,
    help: "Slurm account to charge (the user's default)",
  },
  {
    key: "slurmTimeMinutes",
    env: "MCP_BG_SLURM_TIME",
    flag: "--slurm-time",
    parse: integer(1, 525_600),
    help: "Slurm's own time limit per job, in minutes (the partition's); timeout_seconds is enforced by the server",
  },
  {
    key: "slurmSbatchArgs",
    env: "MCP_BG_SLURM_SBATCH_ARGS",
    flag: "--slurm-sbatch-args",
    parse: jsonStringList,
    help: 'more sbatch options as a JSON list of strings, one argument each: ["--qos=high","--mem=2G"]',
  },
  {
    key: "slurmInput",
    env: "MCP_BG_SLURM_INPUT",
    flag: "--slurm-input",
    parse: (raw: string, name: string): "auto" | "srun" | "fifo" => {
      if (raw === "auto" || raw === "srun" || raw === "fifo") return raw;
      throw bad(name, raw, "expected auto, srun or fifo");
    },
    help: "how input reaches Slurm jobs: srun --overlap on their node when it is not this one (auto), srun, fifo",
  },
] as const satisfies readonly Setting<keyof Config>[];
