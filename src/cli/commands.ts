import {
  DEFAULT_GRACE_SECONDS,
  DEFAULT_KILL_SIGNAL,
  KILL_SIGNALS,
  type KillSignal,
  MAX_GRACE_SECONDS,
} from "../domain/defaults.js";
import { describeEnd } from "../domain/ending.js";
import { JOB_STATUSES, type JobStatus } from "../domain/job-state.js";
import type { JobRecord } from "../domain/record.js";
import type { JobEngine, LogSink } from "../engine/index.js";
import { droppedNote, JobError } from "../engine/index.js";
import { lastLinesOf } from "../text/tail.js";
import { printable } from "./printable.js";
import { jobsOf, procfilePath } from "./procfile.js";

/** Exit codes of the command line, for scripts. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A command's arguments: positionals after its name, `--name value` options and switches. */
export interface CommandArgs {
  positionals: string[];
  options: Map<string, string>;
  switches: Set<string>;
}

/**
 * Where a command writes (stdout for results, stderr for the job's stderr and for errors). A promise
 * says the reader has not taken it all yet: `logs` waits for it before it reads on.
 */
export interface Output {
  out: (text: string | Buffer) => void | Promise<void>;
  err: (text: string | Buffer) => void | Promise<void>;
}

// A stream of `logs`, written to `write` at the reader's pace, with the note where bytes were dropped
// (the ring overwrote them before they were read) on a line of its own.
function logSink(write: Output["out"]): LogSink {
  let last = 10;
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

/** A bad command line: printed with the usage, exit code 2. */
export class UsageError extends Error {}

interface Command {
  usage: string;
  /** Options that take a value, and switches, besides the server's settings. */
  options: string[];
  switches: string[];
  run(jobs: JobEngine, args: CommandArgs, io: Output): Promise<number> | number;
}

const STATUSES: readonly string[] = JOB_STATUSES;

// A whole number option within bounds, or its default.
function intOption(args: CommandArgs, name: string, min: number, max: number, fallback?: number): number | undefined {
  const raw = args.options.get(name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new UsageError(`${name} expects a whole number from ${min} to ${max}, not ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

// A number of seconds (fractions too, as kill_job's grace_seconds takes them) within bounds, or its default.
function secondsOption(args: CommandArgs, name: string, max: number, fallback: number): number {
  const raw = args.options.get(name);
  if (raw === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(raw) || Number(raw) > max) {
    throw new UsageError(
      `${name} expects a number of seconds from 0 to ${max} (0.5 is half a second), not ${JSON.stringify(raw)}`,
    );
  }
  return Number(raw);
}

// The one job ID a command takes.
function idArg(args: CommandArgs): string {
  if (args.positionals.length !== 1) throw new UsageError("expected one job ID (or a prefix of 8+ characters)");
  return args.positionals[0] as string;
}

// JSON for a terminal or a script: the characters a terminal obeys or that reorder text (C1 controls:
// U+009B is a one-byte CSI; bidi controls; line and paragraph separators), which JSON.stringify leaves
// as they are, are written as \u escapes too: the same data, seen rather than obeyed.
const UNSEEN = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
export const json = (value: unknown) =>
  `${JSON.stringify(value, null, 2).replace(UNSEEN, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)}\n`;

// How long a job ran (or has been running), for people: 3.2s, 4m05s, 2h03m.
function duration(r: JobRecord, now: number): string {
  const ms = (r.completed ? Date.parse(r.completed) : now) - Date.parse(r.started);
  const s = Math.max(0, Math.round(ms / 1000));
  if (ms < 10_000) return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

// A local date and time to the second, as people read it.
function when(iso: string | null): string {
  if (!iso) return "-";
  const d = new Date(iso);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

// Rows as aligned columns; the last column is not padded.
function table(rows: string[][]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ")).join("\n");
}

// Text from a job on one line of a table: runs of blanks as one space, controls shown escaped.
const oneLine = (s: string, max: number) => {
  const flat = printable(s.replace(/[ \t\n]+/g, " ").trim());
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

const list: Command = {
  usage: "list [--status queued|running|completed|failed|killed] [--limit N] [--json]",
  options: ["--status", "--limit"],
  switches: ["--json"],
  run(jobs, args, io) {
    if (args.positionals.length > 0) throw new UsageError("list takes no arguments");
    const status = args.options.get("--status");
    if (status !== undefined && !STATUSES.includes(status)) {
      throw new UsageError(`--status expects one of ${STATUSES.join(", ")}`);
    }
    const limit = intOption(args, "--limit", 1, 1_000_000, 100);
    const result = jobs.list({ status: status as JobStatus | undefined, limit });
    if (args.switches.has("--json")) {
      io.out(json(result));
      return EXIT.ok;
    }
    if (result.total === 0) {
      io.out(status ? `No ${status} jobs.\n` : "No jobs.\n");
      return EXIT.ok;
    }
    const now = Date.now();
    const rows = result.jobs.map((r) => [
      r.job_id.slice(0, 8),
      r.lost ? `${r.status} (lost)` : r.status,
      r.exit_code === null ? (r.signal ?? "-") : String(r.exit_code),
      when(r.started),
      duration(r, now),
      oneLine(r.name ? `${r.name}: ${r.command}` : r.command, 70),
    ]);
    io.out(`${table([["ID", "STATUS", "EXIT", "STARTED", "TIME", "COMMAND"], ...rows])}\n`);
    if (result.total > result.jobs.length) io.out(`(${result.jobs.length} of ${result.total}; --limit shows more)\n`);
    return EXIT.ok;
  },
};

const status: Command = {
  usage: "status ID [--json]",
  options: [],
  switches: ["--json"],
  run(jobs, args, io) {
    const job = jobs.find(idArg(args));
    const r = job.record();
    const outcome = describeEnd(r);
    if (args.switches.has("--json")) {
      io.out(json({ ...r, outcome, waiting: jobs.waiting(job) ?? null, output_dir: job.dir }));
      return EXIT.ok;
    }
    const rows: [string, string][] = [
      ["job", r.job_id],
      ["status", r.lost ? `${r.status} (lost: how it ended was not seen)` : r.status],
      ["outcome", outcome],
      ["command", printable(r.command)],
      ["name", r.name === null ? "-" : printable(r.name)],
      ["cwd", printable(r.cwd)],
      ["pid", r.pid === null ? "-" : String(r.pid)],
      ["pty", r.pty ? "yes" : "no"],
      ["started", when(r.started)],
      ["completed", when(r.completed)],
      ["time", duration(r, Date.now())],
      ["exit code", r.exit_code === null ? "-" : String(r.exit_code)],
      ["signal", r.signal ?? "-"],
      ["timed out", r.timed_out ? "yes" : "no"],
      ...(r.status === "queued" ? [["waiting", jobs.waiting(job) ?? "-"] as [string, string]] : []),
      ...(r.restarts !== undefined ? [["restarts", String(r.restarts)] as [string, string]] : []),
      ...(r.ready !== undefined
        ? [["ready", r.ready === null ? "-" : r.ready ? "yes" : "no"] as [string, string]]
        : []),
      ["output", printable(job.dir)],
    ];
    io.out(`${rows.map(([k, v]) => `${`${k}:`.padEnd(11)} ${v}`).join("\n")}\n`);
    return EXIT.ok;
  },
};

const logs: Command = {
  usage: "logs ID [--follow] [--tail N] [--json]",
  options: ["--tail"],
  switches: ["--follow", "-f", "--json"],
  async run(jobs, args, io) {
    const job = jobs.find(idArg(args));
    const tail = intOption(args, "--tail", 0, 100_000_000);
    const follow = args.switches.has("--follow") || args.switches.has("-f");
    if (args.switches.has("--json")) {
      if (follow) throw new UsageError("--json does not go with --follow");
      const text = await jobs.output(job, undefined, Number.MAX_SAFE_INTEGER);
      const lastLines = (t: string) => (tail === undefined ? t : lastLinesOf(t, tail, true));
      io.out(
        json({ job_id: job.id, status: job.status, stdout: lastLines(text.stdout), stderr: lastLines(text.stderr) }),
      );
      return EXIT.ok;
    }
    await jobs.logs(job, { stdout: logSink(io.out), stderr: logSink(io.err) }, { tail, follow });
    return EXIT.ok;
  },
};

const kill: Command = {
  usage: "kill ID [--signal SIGTERM] [--grace SECONDS] [--json]",
  options: ["--signal", "--grace"],
  switches: ["--json"],
  async run(jobs, args, io) {
    const job = jobs.find(idArg(args));
    const raw = (args.options.get("--signal") ?? DEFAULT_KILL_SIGNAL).toUpperCase();
    const signal = (raw.startsWith("SIG") ? raw : `SIG${raw}`) as KillSignal;
    if (!KILL_SIGNALS.includes(signal)) {
      throw new UsageError(`--signal expects ${KILL_SIGNALS.slice(0, -1).join(", ")} or ${KILL_SIGNALS.at(-1)}`);
    }
    const grace = secondsOption(args, "--grace", MAX_GRACE_SECONDS, DEFAULT_GRACE_SECONDS);
    const result = await jobs.kill(job.id, { signal, graceMs: grace * 1000 });
    if (args.switches.has("--json")) io.out(json({ job_id: job.id, status: result }));
    else io.out(result === "killed" ? `killed ${job.id}\n` : `${job.id} had already ended (${job.status})\n`);
    return result === "not_found" ? EXIT.failed : EXIT.ok;
  },
};

const down: Command = {
  usage: "down [PROCFILE] [--json]",
  options: [],
  switches: ["--json"],
  async run(jobs, args, io) {
    if (args.positionals.length > 1) throw new UsageError("expected one Procfile at most");
    const path = procfilePath(args.positionals[0]);
    const ups = jobsOf(jobs, path);
    const results = await Promise.all(
      ups.map(async (j) => ({ job_id: j.job_id, name: j.name, status: await jobs.kill(j.job_id) })),
    );
    if (args.switches.has("--json")) io.out(json({ procfile: path, jobs: results }));
    else if (results.length === 0) io.out(`Nothing of ${path} is up.\n`);
    else for (const r of results) io.out(`${(r.name ?? "").padEnd(12)} ${r.job_id}  ${r.status}\n`);
    return EXIT.ok;
  },
};

const prune: Command = {
  usage: "prune [--json]",
  options: [],
  switches: ["--json"],
  run(jobs, args, io) {
    if (args.positionals.length > 0) throw new UsageError("prune takes no arguments");
    const removed = jobs.prune();
    if (args.switches.has("--json")) io.out(json({ removed }));
    else io.out(`Removed ${removed} finished job${removed === 1 ? "" : "s"} and their output.\n`);
    return EXIT.ok;
  },
};

/** The commands for people, by name. */
export const COMMANDS: Record<string, Command> = { list, status, logs, kill, down, prune };

/** Runs a command; a JobError (not found, ambiguous prefix) is printed and gives exit code 1. */
export async function runCommand(jobs: JobEngine, name: string, args: CommandArgs, io: Output): Promise<number> {
  const command = COMMANDS[name] as Command;
  try {
    return await command.run(jobs, args, io);
  } catch (err) {
    if (!(err instanceof JobError)) throw err;
    io.err(`mcp-bg-jobs: ${err.message}\n`);
    return EXIT.failed;
  }
}
