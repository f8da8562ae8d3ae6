import { homedir } from "node:os";
import { join } from "node:path";
import { SHEPHERD_PATH } from "./capture-binary.js";
import { helperOs } from "./helper-os.js";
import type { ProcessOs } from "./os.js";
import { procfsOs } from "./procfs.js";

/**
 * Portable mode (MCP_BG_PORTABLE=1): Linux runs as macOS must, with only what macOS also has (no
 * cgroups, no subreaper, no /proc read by the server: the helper answers every process question). So
 * the macOS way of doing things is what the tests run here (README: Platforms).
 */
export const PORTABLE = process.env.MCP_BG_PORTABLE === "1";

/** Where jobs cannot run (README: Platforms): no process is known, and the tools say why. */
const noProcessOs: ProcessOs = {
  kind: "none",
  cgroups: false,
  adoptsOrphans: false,
  stat: () => undefined,
  bootId: () => null,
  commandLine: () => undefined,
  workingDir: () => undefined,
  scan: async () => ({ table: undefined, carriers: new Map() }),
  listeningPorts: async () => new Map(),
};

const JOBS_RUN_HERE = process.platform === "linux" || process.platform === "darwin";

/** The implementation for this machine. */
export const OS: ProcessOs = !JOBS_RUN_HERE
  ? noProcessOs
  : process.platform === "linux" && !PORTABLE
    ? procfsOs
    : helperOs;

/**
 * Where job records and output are kept unless MCP_BG_STATE_DIR says: $XDG_STATE_HOME/mcp-bg-jobs where
 * it is set; else, on macOS, ~/Library/Application Support/mcp-bg-jobs (where a Mac keeps an app's
 * state), elsewhere ~/.local/state/mcp-bg-jobs (the XDG default).
 */
export function defaultStateDir(env: NodeJS.ProcessEnv): string {
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, "mcp-bg-jobs");
  const home = env.HOME || homedir();
  if (process.platform === "darwin") return join(home, "Library", "Application Support", "mcp-bg-jobs");
  return join(home, ".local", "state", "mcp-bg-jobs");
}

/** How to get a C compiler here (to compile the capture process where no prebuilt one runs). */
export const INSTALL_CC =
  process.platform === "darwin"
    ? "install Xcode's command line tools (xcode-select --install)"
    : "install a C compiler (cc)";

/** Why jobs cannot run on this system at all (not Linux, not macOS), in words; undefined where they can. */
export function noJobsHere(why: string): string | undefined {
  if (JOBS_RUN_HERE) return undefined;
  const wsl = process.platform === "win32" ? " (on Windows, WSL runs it as Linux)" : "";
  return `jobs need Linux or macOS, and this is ${process.platform} (${process.arch})${wsl}: ${why}; README: Platforms`;
}

/** What this machine offers the server, in words (`mcp-bg-jobs doctor`). */
export function platformFacts(): { name: string; value: string }[] {
  const how =
    OS.kind === "procfs"
      ? "read from /proc by the server"
      : OS.kind === "helper"
        ? `asked of the capture binary (${SHEPHERD_PATH} --procs)`
        : "none: jobs cannot run here";
  return [
    {
      name: "system",
      value: `${process.platform} ${process.arch}, Node ${process.version}${PORTABLE ? ", portable mode" : ""}`,
    },
    { name: "processes", value: how },
    {
      name: "a job's processes",
      value: OS.adoptsOrphans
        ? "kept together by its capture process (a subreaper) and, where it may, a cgroup of its own"
        : "found by ancestry while their parents live, else by MCP_BG_JOB_ID: a daemon that drops it escapes (README: Platforms)",
    },
  ];
}
