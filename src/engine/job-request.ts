import { statSync } from "node:fs";
import { resolve } from "node:path";
import type { Config } from "../config/config.js";
import {
  type AfterCondition,
  type ExecutorName,
  type ReadyProbe,
  type RestartPolicy,
  SANDBOXES,
  type Sandbox,
} from "../domain/job-state.js";
import type { ConfineAsk } from "../executors/executor.js";
import { JobError } from "./errors.js";

/** What `execute_command` may ask for. */
export interface StartOptions {
  command: string;
  cwd?: string;
  env?: Record<string, string>;
  timeoutSeconds?: number;
  name?: string;
  pty?: boolean;
  /** Its sandbox, and whether it may use the network (the server's defaults otherwise). */
  sandbox?: Sandbox;
  network?: boolean;
  /** Its limits: memory in bytes, cores, processes (the server's defaults otherwise). */
  memoryBytes?: number;
  cpu?: number;
  processes?: number;
  /** Where to run it (the server's default executor otherwise). */
  executor?: ExecutorName;
  /**
   * The id it gets (a new random UUID otherwise): a task that starts a job takes the job's id, so
   * that the id a host shows of the task is one the job's tools take.
   */
  id?: string;
  /** At the job limit, wait in the queue instead of being refused (the server's MCP_BG_QUEUE otherwise). */
  queue?: boolean;
  /** Jobs it starts after, and what they must have done first (default: completed). */
  after?: string[];
  afterCondition?: AfterCondition;
  /** When it is started again once it ends, and how often at most (default 5). */
  restart?: RestartPolicy;
  maxRestarts?: number;
  /** What says it is ready (its wait_until/wait_port/wait_http): kept as its readiness probe. */
  ready?: ReadyProbe;
  /** The Procfile `up` started it from. */
  group?: string;
}

/** Longest single argument Linux passes to a program (MAX_ARG_STRLEN): the command travels as one. */
const MAX_COMMAND_BYTES = 128 * 1024;

/**
 * Refuses what the OS cannot pass to a process (NUL bytes, '=' in names, over-long commands) with a
 * clear error instead of a failed spawn.
 */
export function checkStrings(opts: StartOptions): void {
  const bad = (what: string, why: string) => new JobError("invalid_input", `${what} ${why}`);
  if (opts.command.trim() === "") throw new JobError("invalid_input", "Command is empty");
  if (opts.command.includes("\0")) throw bad("Command", "contains a NUL byte");
  if (Buffer.byteLength(opts.command) >= MAX_COMMAND_BYTES) {
    throw bad(
      "Command",
      `is too long (${Buffer.byteLength(opts.command)} bytes; at most ${MAX_COMMAND_BYTES - 1}): put it in a script file and run that`,
    );
  }
  if (opts.cwd?.includes("\0")) throw bad("cwd", "contains a NUL byte");
  for (const [key, value] of Object.entries(opts.env ?? {})) {
    if (key === "" || key.includes("=") || key.includes("\0"))
      throw bad(`env name ${JSON.stringify(key)}`, "is not a valid variable name");
    if (key === "MCP_BG_JOB_ID") throw bad("env MCP_BG_JOB_ID", "is set by the server (it marks the job's processes)");
    if (value.includes("\0")) throw bad(`env ${key}`, "contains a NUL byte");
  }
}

/** A job's working directory: relative to the configured one, and it must exist. */
export function resolveCwd(workingDir: string, cwd: string | undefined): string {
  const dir = resolve(workingDir, cwd ?? ".");
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (err) {
    // Said as it is: a loop of symlinks, a folder that may not be entered, ... are not "does not exist".
    const code = (err as NodeJS.ErrnoException).code;
    const why: Record<string, string> = {
      ENOENT: "does not exist",
      ENOTDIR: "is not a directory (a part of its path is a file)",
      ELOOP: "cannot be reached: its path has a loop of symbolic links",
      EACCES: "cannot be reached: permission denied",
      ENAMETOOLONG: "is too long a path",
    };
    throw new JobError("invalid_input", `Working directory ${dir} ${why[code ?? ""] ?? `cannot be used (${code})`}`);
  }
  if (!isDir) throw new JobError("invalid_input", `Working directory ${dir} is not a directory`);
  return dir;
}

/**
 * What confines a job: its own arguments over the server's defaults. Where the server requires its
 * sandbox (MCP_BG_SANDBOX_REQUIRED), asking for less (a lesser sandbox, network when the default has
 * none, no limit or a higher one where there is a default) is an error.
 */
export function confineAsk(config: Config, opts: StartOptions): ConfineAsk {
  if (opts.cpu !== undefined && !(opts.cpu >= 0.01 && opts.cpu <= 1024)) {
    throw new JobError("invalid_input", `cpu_limit ${opts.cpu}: expected cores from 0.01 to 1024`);
  }
  if (
    opts.processes !== undefined &&
    !(Number.isInteger(opts.processes) && opts.processes >= 1 && opts.processes <= 4194304)
  ) {
    throw new JobError("invalid_input", `process_limit ${opts.processes}: expected a whole number from 1 to 4194304`);
  }
  const ask: ConfineAsk = {
    sandbox: opts.sandbox ?? config.sandbox,
    network: opts.network ?? config.network,
    writable: config.sandboxWritable,
    limits: {
      memory_bytes: opts.memoryBytes ?? config.jobMemoryBytes ?? null,
      cpu: opts.cpu ?? config.jobCpu ?? null,
      processes: opts.processes ?? config.jobProcesses ?? null,
    },
  };
  if (config.sandboxRequired) {
    const refuse = (why: string) =>
      new JobError("invalid_input", `${why}: this server requires its sandbox and limits (MCP_BG_SANDBOX_REQUIRED=1)`);
    if (SANDBOXES.indexOf(ask.sandbox) < SANDBOXES.indexOf(config.sandbox)) {
      throw refuse(`sandbox "${ask.sandbox}" is less than the server's "${config.sandbox}"`);
    }
    if (ask.network && !config.network) throw refuse("network: true is more than the server allows");
    const over = (asked: number | null, most: number | undefined) =>
      most !== undefined && (asked === null || asked > most);
    if (over(ask.limits.memory_bytes, config.jobMemoryBytes)) throw refuse("memory_limit above the server's");
    if (over(ask.limits.cpu, config.jobCpu)) throw refuse("cpu_limit above the server's");
    if (over(ask.limits.processes, config.jobProcesses)) throw refuse("process_limit above the server's");
  }
  return ask;
}

/**
 * A workspace sandbox's folder is the job's cwd: on `/` it would confine nothing, and where the
 * sandbox is required a client may not widen it by naming a cwd outside the server's working dir.
 */
export function checkWorkspace(config: Config, ask: ConfineAsk, cwd: string): void {
  if (ask.sandbox !== "workspace") return;
  if (cwd === "/")
    throw new JobError("invalid_input", 'sandbox "workspace" with cwd / would let the job write anywhere');
  const within = cwd === config.workingDir || cwd.startsWith(`${config.workingDir.replace(/\/$/, "")}/`);
  if (config.sandboxRequired && !within) {
    throw new JobError(
      "invalid_input",
      `cwd ${cwd} is outside the server's working dir ${config.workingDir}: with MCP_BG_SANDBOX_REQUIRED=1 a job's workspace stays inside it`,
    );
  }
}
