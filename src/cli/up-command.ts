import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { type Config, ConfigError, loadConfig, SWITCH_SETTINGS } from "../config/config.js";
import { RESTARTS } from "../domain/job-state.js";
import type { JobRecord } from "../domain/record.js";
import type { JobEngine } from "../engine/index.js";
import { JobError, StoreError } from "../engine/index.js";
import { parseArgs } from "./args.js";
import { EXIT, json, UsageError } from "./commands.js";
import { openJobEngine } from "./compose.js";
import { printable } from "./printable.js";
import { foremanPort, jobsOf, parseProcfile, procfilePath } from "./procfile.js";
import { choice, repeated } from "./run-command.js";

export const UP_USAGE = "up [PROCFILE] [--ready NAME=PORT ...] [--restart no|on-failure|always] [--queue] [--json]";
export const DOWN_USAGE = "down [PROCFILE] [--json]";

/**
 * `mcp-bg-jobs up [Procfile]`: starts each process type of a Procfile (foreman's format) as a job
 * named after it, in the Procfile's folder, with PORT set as foreman sets it (5000, 5100, ...);
 * `--ready web=5000` makes a port that job's readiness probe (its ready_at, and `ready` in lists).
 * A process type already up (queued or running, from this Procfile) is left as it is. The jobs live
 * on after this returns, as `run`'s do: a server on the state dir takes them over (and restarts them,
 * with --restart). `down` stops them.
 */
export async function runUp(argv: string[]): Promise<void> {
  const fail = (code: number, message: string) => {
    process.stderr.write(`mcp-bg-jobs up: ${message}\n`);
    if (code === EXIT.usage) process.stderr.write(`usage: mcp-bg-jobs ${UP_USAGE}\n`);
    process.exitCode = code;
  };
  let config: Config;
  let jobs: JobEngine | undefined;
  try {
    const parsed = parseArgs(argv, new Set(["--json", "--help", ...SWITCH_SETTINGS]));
    if (parsed.switches.has("--help")) {
      process.stdout.write(`usage: mcp-bg-jobs ${UP_USAGE} [--state-dir DIR]\n`);
      return;
    }
    const settings = new Map([...parsed.options].filter(([k]) => k !== "--ready" && k !== "--restart"));
    for (const s of parsed.switches) if (SWITCH_SETTINGS.has(s)) settings.set(s, "1");
    config = { ...loadConfig(settings, process.env), keepJobs: true };
    const restart = choice(parsed.options, "--restart", RESTARTS);
    if (parsed.positionals.length > 1) throw new UsageError("expected one Procfile at most");
    const path = procfilePath(parsed.positionals[0]);
    let entries: ReturnType<typeof parseProcfile>;
    try {
      entries = parseProcfile(readFileSync(path, "utf8"));
    } catch (err) {
      throw new UsageError(`${path}: ${(err as Error).message}`);
    }
    const ready = new Map<string, number>();
    for (const r of repeated(argv, "--ready")) {
      const m = /^([A-Za-z0-9_-]+)=(\d{1,5})$/.exec(r);
      if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
        throw new UsageError(`--ready expects NAME=PORT, not ${JSON.stringify(r)}`);
      if (!entries.some((e) => e.name === m[1])) throw new UsageError(`--ready ${m[1]}: no such process in ${path}`);
      ready.set(m[1] as string, Number(m[2]));
    }
    jobs = openJobEngine(config, "run");
    const engine = jobs;
    const up = new Map(jobsOf(engine, path).map((j) => [j.name, j]));
    const started: (JobRecord & { already: boolean })[] = [];
    for (const [i, entry] of entries.entries()) {
      const there = up.get(entry.name);
      if (there) {
        started.push({ ...there, already: true });
        continue;
      }
      const record = await engine.start({
        command: entry.command,
        name: entry.name,
        cwd: dirname(path),
        env: { PORT: String(foremanPort(i)) },
        restart,
        ready: ready.has(entry.name) ? { port: ready.get(entry.name) } : undefined,
        group: path,
      });
      started.push({ ...record, already: false });
    }
    if (parsed.switches.has("--json")) process.stdout.write(json({ procfile: path, jobs: started }));
    else
      for (const j of started)
        process.stdout.write(
          `${(j.name ?? "").padEnd(12)} ${j.job_id}  ${j.already ? `already ${j.status}` : j.status}  ${printable(j.command)}\n`,
        );
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) return fail(EXIT.usage, err.message);
    if (err instanceof JobError || err instanceof StoreError) return fail(EXIT.failed, err.message);
    throw err;
  } finally {
    jobs?.close();
  }
}
