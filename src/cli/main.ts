#!/usr/bin/env node
import { JobManager } from "../jobs/job-manager.js";
import { serveOnStdio } from "../mcp/stdio.js";
import { ensureShepherd } from "../process/shepherd-binary.js";
import { VERSION } from "../version.js";
import { parseArgs } from "./args.js";
import { ConfigError, loadConfig, settingsHelp } from "./config.js";

const HELP = `mcp-bg-jobs ${VERSION}: an MCP server that runs shell commands as background jobs.

Usage:
  mcp-bg-jobs [options]        serve MCP on stdin/stdout (what an MCP host runs)
  mcp-bg-jobs --help           this text
  mcp-bg-jobs --version        the version

Options (each also read from its environment variable; a flag wins):
${settingsHelp()}

Logs go to stderr. A bad value stops start-up with one line on stderr and exit code 2.
`;

const SWITCHES = new Set(["--help", "-h", "--version", "-v"]);

// Entry point: parses flags and environment, then serves; bad configuration exits 2.
function main(argv: string[]): void {
  const args = parseArgs(argv, SWITCHES);
  if (args.switches.has("--help") || argv.includes("-h")) {
    process.stdout.write(HELP);
    return;
  }
  if (args.switches.has("--version") || argv.includes("-v")) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  try {
    if (args.positionals.length > 0) throw new ConfigError(`unknown command ${args.positionals[0]} (see --help)`);
    const config = loadConfig(args.options, process.env);
    const missing = ensureShepherd();
    if (missing) throw new ConfigError(missing);
    let jobs: JobManager;
    try {
      jobs = new JobManager(config);
    } catch (err) {
      throw new ConfigError(`cannot use the state dir ${config.stateDir}: ${(err as Error).message}`);
    }
    serveOnStdio(jobs);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`mcp-bg-jobs: ${err.message}\n`);
    process.exit(2);
  }
}

main(process.argv.slice(2));
