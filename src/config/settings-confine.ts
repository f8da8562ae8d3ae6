import { isAbsolute, resolve } from "node:path";
import { SANDBOXES, type Sandbox } from "../domain/job-state.js";
import { bad, integer, yesNo } from "./parsers.js";
import type { Config, Parser, Setting } from "./types.js";

/** A memory size for a job: `512MB`, `2GB`, `1.5GB`, bytes (binary units), from 1 MB to 1 TB. */
export function parseMemory(raw: string, name = "memory_limit"): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)?\s*$/i.exec(raw);
  if (!m) throw bad(name, raw, "expected a size such as 512MB or 2GB");
  const unit = (m[2] ?? "b").toLowerCase()[0] as "b" | "k" | "m" | "g" | "t";
  const bytes = Math.floor(Number(m[1]) * { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[unit]);
  if (bytes < 1024 ** 2 || bytes > 1024 ** 4) throw bad(name, raw, "expected a size from 1MB to 1TB");
  return bytes;
}

/** Cores for a job: a number above 0 (fractions allowed), at most 1024. */
export const parseCores: Parser<number> = (raw, name) => {
  const n = Number(raw);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(raw) || n < 0.01 || n > 1024)
    throw bad(name, raw, "expected cores from 0.01 to 1024");
  return n;
};

const sandbox: Parser<Sandbox> = (raw, name) => {
  const v = raw.trim() as Sandbox;
  if (SANDBOXES.includes(v)) return v;
  throw bad(name, raw, `expected ${SANDBOXES.join(", ")}`);
};

// Absolute or relative paths separated by ':' (as PATH), each a folder jobs may write below.
const pathList: Parser<string[]> = (raw, name, ctx) => {
  const paths = splitPaths(raw, name, ctx);
  // The capture process takes at most 64 writable paths, the cwd and the temp dir among them.
  if (paths.length > 60) throw bad(name, raw, "expected at most 60 paths");
  return paths;
};

const splitPaths: Parser<string[]> = (raw, name, ctx) =>
  raw
    .split(":")
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      if (p.includes("\n")) throw bad(name, raw, "a path cannot hold a line break");
      return isAbsolute(p) ? p : resolve(ctx.cwd, p);
    });

const none =
  (parse: Parser<number>): Parser<number | undefined> =>
  (raw, name, ctx) =>
    /^\s*(none|0)?\s*$/i.test(raw) ? undefined : parse(raw, name, ctx);

/** The settings of what confines jobs: their sandbox and their resource limits. */
export const CONFINE_SETTINGS = [
  {
    key: "sandbox",
    env: "MCP_BG_SANDBOX",
    flag: "--sandbox",
    parse: sandbox,
    help: "jobs' sandbox unless execute_command asks otherwise: off, workspace (writes below cwd and tmp), read-only",
    default: "off",
    shown: "off",
  },
  {
    key: "sandboxRequired",
    env: "MCP_BG_SANDBOX_REQUIRED",
    flag: "--sandbox-required",
    parse: yesNo,
    help: "1: a job may not ask for less sandbox or more network than the defaults",
    default: false,
    shown: "0",
  },
  {
    key: "sandboxWritable",
    env: "MCP_BG_SANDBOX_WRITABLE",
    flag: "--sandbox-writable",
    parse: pathList,
    help: "more folders a workspace sandbox may write below, separated by ':'",
    default: [],
    shown: "none",
  },
  {
    key: "network",
    env: "MCP_BG_NETWORK",
    flag: "--network",
    parse: yesNo,
    help: "0: jobs get no TCP or UDP unless execute_command asks for network (and it is not required)",
    default: true,
    shown: "1",
  },
  {
    key: "jobMemoryBytes",
    env: "MCP_BG_JOB_MEMORY",
    flag: "--job-memory",
    parse: none((raw, name) => parseMemory(raw, name)),
    help: "memory a job may use (all its processes), e.g. 2GB; none for no limit",
    default: undefined,
    shown: "none",
  },
  {
    key: "jobCpu",
    env: "MCP_BG_JOB_CPU",
    flag: "--job-cpu",
    parse: none(parseCores),
    help: "cores a job may use, e.g. 1.5; none for no limit",
    default: undefined,
    shown: "none",
  },
  {
    key: "jobProcesses",
    env: "MCP_BG_JOB_PROCESSES",
    flag: "--job-processes",
    parse: none(integer(1, 4194304)),
    help: "processes and threads a job may have at once; none for no limit",
    default: undefined,
    shown: "none",
  },
] as const satisfies readonly Setting<keyof Config>[];
