import { constants } from "node:os";
import { type Config, ConfigError, loadConfig, SWITCH_SETTINGS } from "../config/config.js";
import { AFTER_CONDITIONS, type AfterCondition, RESTARTS, type RestartPolicy } from "../domain/job-state.js";
import type { JobEngine, LogSink } from "../engine/index.js";
import { droppedNote, JobError, StoreError } from "../engine/index.js";
import { parseArgs } from "./args.js";
import { EXIT, json, UsageError } from "./commands.js";
import { openJobEngine } from "./compose.js";
import { printable } from "./printable.js";

export const RUN_USAGE =
  "run [--name N] [--cwd DIR] [--env K=V ...] [--timeout S] [--pty] [--follow] [--queue] [--after ID ...]\n" +
  "                                   [--after-condition completed|ended|ready] [--restart no|on-failure|always] [--max-restarts N] -- COMMAND...";

const OWN: ReadonlySet<string> = new Set([
  "--name",
  "--cwd",
  "--env",
  "--timeout",
  "--after",
  "--after-condition",
  "--restart",
  "--max-restarts",
]);
const OWN_SWITCHES: ReadonlySet<string> = new Set(["--pty", "--follow", "--json", "--help"]);

/** What `run` was asked: the start, and whether to follow it. */
interface RunRequest {
  command: string;
  name?: string;
  cwd?: string;
  env: Record<string, string>;
  timeoutSeconds?: number;
  pty: boolean;
  follow: boolean;
  json: boolean;
  after: string[];
  afterCondition?: AfterCondition;
  restart?: RestartPolicy;
  maxRestarts?: number;
  settings: Map<string, string>;
}

/** Every value of an option that may come again and again (`--env A=1 --env B=2`), in order. */
export function repeated(argv: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = a === name ? argv[++i] : a.startsWith(`${name}=`) ? a.slice(name.length + 1) : undefined;
    if (value !== undefined) out.push(value);
  }
  return out;
}

/** An option's value that must be one of `choices`, or undefined when it is not given. */
export function choice<T extends string>(
  options: Map<string, string>,
  name: string,
  choices: readonly T[],
): T | undefined {
  const v = options.get(name);
  if (v === undefined) return undefined;
  if (!(choices as readonly string[]).includes(v)) throw new UsageError(`${name} expects ${choices.join(", ")}`);
  return v as T;
}

// `run [options] -- COMMAND...`: the words after `--` are the command, joined with spaces as a shell reads
// them (as ssh does): `run -- npm test` runs `npm test`; quote it whole for && or pipes.
function parseRun(argv: string[]): RunRequest | "help" {
  const cut = argv.indexOf("--");
  const before = (cut === -1 ? argv : argv.slice(0, cut)).map((a) =>
    a === "-f" ? "--follow" : a === "-h" ? "--help" : a,
  );
  const words = cut === -1 ? [] : argv.slice(cut + 1);
  const parsed = parseArgs(before, new Set([...OWN_SWITCHES, ...SWITCH_SETTINGS]));
  if (parsed.switches.has("--help") || parsed.switches.has("-h")) return "help";
  if (parsed.positionals.length > 0)
    throw new UsageError(`put the command after --: run -- ${parsed.positionals.join(" ")}`);
  if (words.length === 0 || words.join(" ").trim() === "")
    throw new UsageError("no command: run [options] -- COMMAND...");
  const env: Record<string, string> = {};
  // --env may come again and again: read from argv itself (the parser keeps one value an option).
  for (const value of repeated(before, "--env")) {
    const eq = value.indexOf("=");
    if (eq <= 0) throw new UsageError(`--env expects NAME=VALUE, not ${JSON.stringify(value)}`);
    env[value.slice(0, eq)] = value.slice(eq + 1);
  }
  const timeout = parsed.options.get("--timeout");
  if (timeout !== undefined && !/^\d+(\.\d+)?$/.test(timeout))
    throw new UsageError(`--timeout expects a number of seconds, not ${JSON.stringify(timeout)}`);
  const maxRestarts = parsed.options.get("--max-restarts");
  if (maxRestarts !== undefined && !/^\d{1,4}$/.test(maxRestarts))
    throw new UsageError(`--max-restarts expects a whole number, not ${JSON.stringify(maxRestarts)}`);
  const settings = new Map([...parsed.options].filter(([k]) => !OWN.has(k)));
  for (const s of parsed.switches) if (SWITCH_SETTINGS.has(s)) settings.set(s, "1");
  return {
    command: words.join(" "),
    name: parsed.options.get("--name"),
    cwd: parsed.options.get("--cwd"),
    env,
    timeoutSeconds: timeout === undefined ? undefined : Number(timeout),
    pty: parsed.switches.has("--pty"),
    follow: parsed.switches.has("--follow"),
    json: parsed.switches.has("--json"),
    after: repeated(before, "--after"),
    afterCondition: choice(parsed.options, "--after-condition", AFTER_CONDITIONS),
    restart: choice(parsed.options, "--restart", RESTARTS),
    maxRestarts: maxRestarts === undefined ? undefined : Number(maxRestarts),
    settings,
  };
}

// Writes to a stream at the pace it takes, and marks where bytes were dropped (as `logs -f`).
function sinkOf(stream: NodeJS.WriteStream): LogSink {
  let last = 10;
  const write = (b: Buffer | string) =>
    stream.write(b) ? undefined : new Promise<void>((resolve) => stream.once("drain", () => resolve()));
  return {
    write(bytes) {
      if (bytes.length > 0) last = bytes[bytes.length - 1] as number;
      return write(bytes);
    },
    dropped(bytes, capacity) {
      const text = `${last === 10 ? "" : "\n"}${droppedNote(bytes, capacity)}\n`;
      last = 10;
      return write(text);
    },
  };
}

/**
 * `mcp-bg-jobs run -- COMMAND...`: starts a job on the state dir, as a tool call would, for a person.
 * It lives on after this returns (as with keep-jobs): the next server on the state dir takes it over,
 * enforces its --timeout and lets it run past its own stop. Prints the job's id (`--json`: its record).
 * With `--follow`, prints its output until it ends and exits with its exit code (128+N for a signal);
 * Ctrl-C then stops following, not the job.
 */
export async function runJob(argv: string[]): Promise<void> {
  const fail = (code: number, message: string) => {
    process.stderr.write(`mcp-bg-jobs run: ${message}\n`);
    if (code === EXIT.usage) process.stderr.write(`usage: mcp-bg-jobs ${RUN_USAGE}\n`);
    process.exitCode = code;
  };
  let req: RunRequest | "help";
  let config: Config;
  try {
    req = parseRun(argv);
    if (req === "help") {
      process.stdout.write(`usage: mcp-bg-jobs ${RUN_USAGE} [--state-dir DIR]\n`);
      return;
    }
    config = { ...loadConfig(req.settings, process.env), keepJobs: true };
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) return fail(EXIT.usage, err.message);
    throw err;
  }
  let jobs: JobEngine | undefined;
  try {
    // It starts a job, so it has a spawner; it takes over nothing and sweeps nothing (a server does).
    jobs = openJobEngine(config, "run");
    const engine = jobs;
    const record = await jobs.start({
      command: req.command,
      name: req.name,
      cwd: req.cwd,
      env: req.env,
      timeoutSeconds: req.timeoutSeconds,
      pty: req.pty,
      // A person may name a job by a prefix of its id.
      after: req.after.map((id) => engine.find(id).id),
      afterCondition: req.afterCondition,
      restart: req.restart,
      maxRestarts: req.maxRestarts,
    });
    if (record.status === "queued")
      process.stderr.write(
        `mcp-bg-jobs run: job ${record.job_id} is queued: a server on this state dir starts it when its turn comes\n`,
      );
    if (req.json) process.stdout.write(json(record));
    else if (!req.follow) process.stdout.write(`${record.job_id}\n`);
    else process.stderr.write(`mcp-bg-jobs run: job ${record.job_id} (${printable(req.name ?? req.command)})\n`);
    if (!req.follow) return;
    const job = jobs.lookup(record.job_id);
    const stop = new AbortController();
    process.once("SIGINT", () => {
      process.stderr.write(`\nmcp-bg-jobs run: stopped following; the job goes on (mcp-bg-jobs kill ${job.id})\n`);
      stop.abort();
    });
    await jobs.logs(
      job,
      { stdout: sinkOf(process.stdout), stderr: sinkOf(process.stderr) },
      {
        follow: true,
        signal: stop.signal,
      },
    );
    if (stop.signal.aborted) return;
    const end = job.record();
    process.exitCode = end.signal
      ? 128 + (constants.signals[end.signal as NodeJS.Signals] ?? 0)
      : (end.exit_code ?? EXIT.failed);
  } catch (err) {
    if (err instanceof JobError) return fail(EXIT.failed, err.message);
    if (err instanceof StoreError) return fail(EXIT.failed, err.message);
    throw err;
  } finally {
    jobs?.close();
  }
}
