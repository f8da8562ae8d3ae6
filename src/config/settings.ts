import { resolve } from "node:path";
import { defaultStateDir } from "../process/platform.js";
import { DEFAULT_DENY_RULES } from "./deny-rules.js";
import {
  bad,
  directory,
  executable,
  integer,
  type ParseContext,
  parseSize,
  regexList,
  seconds,
  timerSeconds,
  yesNo,
} from "./parsers.js";
import { CONFINE_SETTINGS } from "./settings-confine.js";
import { EXECUTOR_SETTINGS } from "./settings-executors.js";
import { HTTP_SETTINGS } from "./settings-http.js";
import type { Config, Setting } from "./types.js";

/** The settings of jobs and of the server (HTTP's and the executors' are in their own files). */
const JOB_SETTINGS = [
  {
    key: "maxJobs",
    env: "MCP_BG_MAX_JOBS",
    flag: "--max-jobs",
    parse: integer(1, 100000),
    help: "jobs running at once",
    default: 10,
    shown: "10",
  },
  {
    key: "maxOutputBytes",
    env: "MCP_BG_MAX_OUTPUT_SIZE",
    flag: "--max-output-size",
    parse: parseSize,
    help: "bytes kept per job and stream, KB/MB suffix",
    default: 10 * 1024 * 1024,
    shown: "10MB",
  },
  {
    key: "jobTimeoutSeconds",
    env: "MCP_BG_JOB_TIMEOUT",
    flag: "--job-timeout",
    parse: (raw, name, ctx) => {
      if (/^\s*none\s*$/i.test(raw) || Number(raw) === 0) return undefined;
      return timerSeconds(raw, name, ctx);
    },
    help: "seconds before a job is killed; 0 or none for no limit",
    default: undefined,
    shown: "none",
  },
  {
    key: "cleanupIntervalSeconds",
    env: "MCP_BG_CLEANUP_INTERVAL",
    flag: "--cleanup-interval",
    parse: timerSeconds,
    help: "seconds between sweeps of old finished jobs",
    default: 300,
    shown: "300",
  },
  {
    key: "allowedCommands",
    env: "MCP_BG_ALLOWED_COMMANDS",
    flag: "--allowed-commands",
    parse: (raw, name) => {
      const list = regexList(raw, name);
      return list.length ? list : undefined;
    },
    help: "comma-separated regexes; a command must match one",
    default: undefined,
    shown: "allow all",
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
    help: "comma-separated regexes refused; 'none' turns the guard rail off",
    default: () => [...DEFAULT_DENY_RULES],
    shown: "built-in rules",
  },
  {
    key: "workingDir",
    env: "MCP_BG_WORKING_DIR",
    flag: "--working-dir",
    parse: directory,
    help: "default working directory of jobs",
    default: ({ cwd }) => cwd,
    shown: "server's cwd",
  },
  {
    key: "shell",
    env: "MCP_BG_SHELL",
    flag: "--shell",
    parse: executable,
    help: "shell that runs commands with -c",
    default: "/bin/sh",
    shown: "/bin/sh",
  },
  {
    key: "maxResponseChars",
    env: "MCP_BG_MAX_RESPONSE_CHARS",
    flag: "--max-response-chars",
    parse: integer(1000, 10_000_000),
    help: "characters per stream in one result",
    default: 50_000,
    shown: "50000",
  },
  {
    key: "stateDir",
    env: "MCP_BG_STATE_DIR",
    flag: "--state-dir",
    parse: (raw: string, _name: string, ctx: ParseContext) => resolve(ctx.cwd, raw),
    help: "where job records and output are kept, shared by servers",
    default: ({ env }) => defaultStateDir(env),
    shown:
      "$XDG_STATE_HOME/mcp-bg-jobs, else ~/.local/state/mcp-bg-jobs (macOS: ~/Library/Application Support/mcp-bg-jobs)",
  },
  {
    key: "retentionSeconds",
    env: "MCP_BG_RETENTION",
    flag: "--retention",
    parse: seconds,
    help: "seconds a finished job is kept",
    default: 7 * 24 * 3600,
    shown: "604800 = 7 days",
  },
  {
    key: "maxFinished",
    env: "MCP_BG_MAX_FINISHED",
    flag: "--max-finished",
    parse: integer(1, 1_000_000),
    help: "finished jobs kept at most",
    default: 500,
    shown: "500",
  },
  {
    key: "queue",
    env: "MCP_BG_QUEUE",
    flag: "--queue",
    parse: yesNo,
    help: "at the job limit a new job waits in the queue instead of being refused",
    default: false,
    shown: "off",
    isSwitch: true,
  },
  {
    key: "keepJobs",
    env: "MCP_BG_KEEP_JOBS",
    flag: "--keep-jobs",
    parse: yesNo,
    help: "jobs outlive a normal stop of the server; a later one adopts them",
    default: false,
    shown: "off",
    isSwitch: true,
  },
  {
    key: "notifyChannel",
    env: "MCP_BG_NOTIFY_CHANNEL",
    flag: "--notify-channel",
    parse: yesNo,
    help: "tell the client when a job it started ends, as a Claude Code channel",
    default: false,
    shown: "off",
    isSwitch: true,
  },
  {
    key: "callTimeoutSeconds",
    env: "MCP_BG_CALL_TIMEOUT",
    flag: "--call-timeout",
    parse: timerSeconds,
    help: "seconds one tool call may wait at most; many hosts give up after 60",
    default: 50,
    shown: "50",
  },
  {
    key: "debug",
    env: "MCP_BG_DEBUG",
    flag: "--debug",
    parse: yesNo,
    help: "also log at debug level (steps that may fail without harm and did)",
    default: false,
    shown: "off",
    isSwitch: true,
  },
] as const satisfies readonly Setting<keyof Config>[];

/** Every setting: environment variable, flag, parser, help line and default (the README lists the same). */
export const SETTINGS = [...JOB_SETTINGS, ...CONFINE_SETTINGS, ...HTTP_SETTINGS, ...EXECUTOR_SETTINGS] as const;
