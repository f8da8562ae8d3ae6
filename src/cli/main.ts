#!/usr/bin/env node
import { type Config, ConfigError, loadConfig, settingsHelp } from "../config/config.js";
import type { JobEngine } from "../engine/index.js";
import { StoreError } from "../engine/index.js";
import { logDebug } from "../log.js";
import { type EarlyStart, serveOnStdio } from "../serve/serve-stdio.js";
import { VERSION } from "../version.js";
import { parseArgs, SWITCHES, settingOptions } from "./args.js";
import { COMMANDS, type CommandArgs, EXIT, runCommand, UsageError } from "./commands.js";
import { openJobEngine } from "./compose.js";
import { DOCTOR_USAGE, runDoctor } from "./doctor-command.js";
import { RUN_USAGE, runJob } from "./run-command.js";
import { runUi, UI_USAGE } from "./ui-command.js";
import { runUp, UP_USAGE } from "./up-command.js";

const HELP = `mcp-bg-jobs ${VERSION}: an MCP server that runs shell commands as background jobs.

Usage:
  mcp-bg-jobs [options]        serve MCP on stdin/stdout (what an MCP host runs)
  mcp-bg-jobs --http [--port 8765] [--host 127.0.0.1]
                               serve MCP over Streamable HTTP at /mcp, to many clients
  mcp-bg-jobs ${UI_USAGE}
                               serve the web page: every job of the state dir, live (also at / in --http mode)
  mcp-bg-jobs --help           this text
  mcp-bg-jobs --version        the version

Commands for people, on the same state (while a server runs or not; ID: a job ID or 8+ characters of it):
  mcp-bg-jobs ${RUN_USAGE}
  mcp-bg-jobs ${UP_USAGE}
                               start each line of a Procfile as a named job (PORT as foreman sets it); down stops them
${Object.values(COMMANDS)
  .map((c) => `  mcp-bg-jobs ${c.usage}`)
  .join("\n")}
  mcp-bg-jobs ${DOCTOR_USAGE}
                               this machine, the state dir, and a 30 s self-test (start, wait, input, read,
                               kill, a process that left the job's group): what to paste into a bug report
  Exit codes: 0 done, 1 failed (no such job, ambiguous ID, state dir unusable), 2 bad usage.
  logs writes the job's bytes as printed (stdout to stdout, stderr to stderr); --json gives cleaned text.

Options (each also read from its environment variable; a flag wins):
${settingsHelp()}

Logs go to stderr. A bad value stops start-up with one line on stderr and exit code 2.
`;

/**
 * A command for people, or the MCP server; bad configuration exits 2. `early` says what was done
 * before this was loaded (src/cli/entry.ts: the first answer, given early).
 */
export function main(argv: string[], early?: EarlyStart): void {
  const name = argv[0];
  if (name === "ui") {
    void runUi(argv.slice(1));
    return;
  }
  if (name === "run") {
    void runJob(argv.slice(1));
    return;
  }
  if (name === "up") {
    void runUp(argv.slice(1));
    return;
  }
  if (name === "doctor") {
    void runDoctor(argv.slice(1));
    return;
  }
  if (name !== undefined && Object.hasOwn(COMMANDS, name)) {
    void runCli(name, argv.slice(1));
    return;
  }
  const args = parseArgs(argv, SWITCHES);
  if (args.switches.has("--help") || argv.includes("-h")) {
    process.stdout.write(HELP);
    return;
  }
  if (args.switches.has("--version") || argv.includes("-v")) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  let config: Config;
  try {
    if (args.positionals.length > 0) throw new ConfigError(`unknown command ${args.positionals[0]} (see --help)`);
    config = loadConfig(settingOptions(args), process.env);
    logDebug(config.debug);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    exitUnusable(err.message);
  }
  // The first request is answered before the state is opened (a database to load and check, jobs
  // of servers that died to settle): some clients give the first answer a second at most.
  const { engine, open } = openedOnFirstUse(() => openEngine(config));
  // The HTTP side (and what Node loads for it) is loaded only when asked for: stdio starts sooner.
  if (config.http) void import("../serve/serve-http.js").then(({ serveOnHttp }) => serveOnHttp(engine, config));
  else {
    // The first request was answered before this was loaded (or stdin ended before one came): the
    // state is opened before anything else is read, as a server that answered is expected to have
    // it (and one that cannot have it exits 2, as it would have).
    if (early) open();
    serveOnStdio(engine, config, early);
  }
  // Right after: the first tool call should not have to wait for it either.
  setImmediate(open);
}

// The job engine on the state dir; a state that cannot be used stops the server (exit 2). Without
// jobs (not Linux, no capture process) the server still runs: each tool call says why.
function openEngine(config: Config): JobEngine {
  try {
    return openJobEngine(config, "server");
  } catch (err) {
    exitUnusable(
      err instanceof StoreError
        ? err.message
        : `cannot use the state dir ${config.stateDir}: ${(err as Error).message}`,
    );
  }
}

// One line on stderr, exit code 2.
function exitUnusable(message: string): never {
  process.stderr.write(`mcp-bg-jobs: ${message}\n`);
  process.exit(2);
}

/** An engine that stands for the one `make` makes, made when it is first used or opened. */
function openedOnFirstUse(make: () => JobEngine): { engine: JobEngine; open: () => JobEngine } {
  let real: JobEngine | undefined;
  const open = () => {
    real ??= make();
    return real;
  };
  const engine = new Proxy({} as JobEngine, {
    get(_, prop) {
      // An engine never opened runs no job: nothing to abandon (and a state dir that cannot be
      // opened must not be tried again on the way out).
      if (prop === "abandon" && !real) return () => {};
      const target = open();
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { engine, open };
}

// Runs `mcp-bg-jobs NAME ...`: the command's own options, then the settings (--state-dir ...).
async function runCli(name: string, argv: string[]): Promise<void> {
  const command = COMMANDS[name] as (typeof COMMANDS)[string];
  // A write the stream cannot take at once resolves when it can (a `logs -f` piped to a slow reader).
  const writeTo = (stream: NodeJS.WriteStream) => (t: string | Buffer) =>
    stream.write(t)
      ? undefined
      : new Promise<void>((resolve) => {
          const done = () => {
            stream.off("drain", done);
            stream.off("close", done);
            resolve();
          };
          stream.on("drain", done);
          stream.on("close", done);
        });
  const io = { out: writeTo(process.stdout), err: writeTo(process.stderr) };
  // `logs ... | head` closes the pipe early: that is not an error.
  process.stdout.on("error", () => process.exit(EXIT.ok));
  const fail = (code: number, message: string) => {
    process.stderr.write(`mcp-bg-jobs ${name}: ${message}\n`);
    if (code === EXIT.usage) process.stderr.write(`usage: mcp-bg-jobs ${command.usage}\n`);
    process.exitCode = code;
  };
  const short = argv.map((a) => (a === "-f" ? "--follow" : a === "-h" ? "--help" : a));
  const parsed = parseArgs(short, new Set([...SWITCHES, ...command.switches]));
  if (parsed.switches.has("--help")) {
    process.stdout.write(`usage: mcp-bg-jobs ${command.usage} [--state-dir DIR]\n`);
    return;
  }
  const own: CommandArgs = { positionals: parsed.positionals, options: new Map(), switches: new Set() };
  const settings = new Map<string, string>();
  for (const [k, v] of settingOptions(parsed)) (command.options.includes(k) ? own.options : settings).set(k, v);
  for (const s of parsed.switches) if (command.switches.includes(s)) own.switches.add(s);
  let jobs: JobEngine | undefined;
  try {
    const config = loadConfig(settings, process.env);
    jobs = openJobEngine(config, "cli");
    const strays = jobs.unrecordedFolders();
    if (strays > 0)
      process.stderr.write(
        `mcp-bg-jobs: ${strays} job folder(s) in ${config.stateDir}/jobs have no record in the state database (it lost them: a damaged or deleted WAL, or a state.db moved away); a server started on this state dir recovers them\n`,
      );
    process.exitCode = await runCommand(jobs, name, own, io);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) fail(EXIT.usage, err.message);
    else if (err instanceof StoreError) fail(EXIT.failed, err.message);
    else fail(EXIT.failed, (err as Error)?.message ?? String(err));
  } finally {
    jobs?.close();
  }
}
