import { statSync } from "node:fs";
import { resolve } from "node:path";
import type { ExecutorName } from "../domain/job-state.js";
import { JobError } from "./errors.js";

/** What `execute_command` may ask for. */
export interface StartOptions {
  command: string;
  cwd?: string;
  env?: Record<string, string>;
  timeoutSeconds?: number;
  name?: string;
  pty?: boolean;
  /** Where to run it (the server's default executor otherwise). */
  executor?: ExecutorName;
  /**
   * The id it gets (a new random UUID otherwise): a task that starts a job takes the job's id, so
   * that the id a host shows of the task is one the job's tools take.
   */
  id?: string;
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
