import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Config, ConfigError, loadConfig, SWITCH_SETTINGS } from "../config/config.js";
import { confineFacts, type JobEngine, platformFacts } from "../engine/index.js";
import { VERSION } from "../version.js";
import { parseArgs } from "./args.js";
import { EXIT } from "./commands.js";
import { openJobEngine } from "./compose.js";

export const DOCTOR_USAGE = "doctor [--state-dir DIR]";

/** Longest the self-test may take in all; each step gets what is left. */
const SELF_TEST_MS = 30_000;

type Say = (line: string) => void;

/** One step of the self-test: what it checks, and the check (a sentence on success, throws on failure). */
interface Step {
  name: string;
  run(jobs: JobEngine, left: () => number): Promise<string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The job the self-test runs: it prints, reads a line and answers it, and starts a process of its own in
// a session of its own (a way out of the job's process group) that counts into a file until it is ended.
const jobCommand = (beat: string) =>
  `setsid sh -c 'i=0; while :; do i=$((i+1)); echo $i > "$1"; sleep 0.1; done' beat ${JSON.stringify(beat)} & ` +
  "echo ready; read line; echo got $line; sleep 300";

function steps(beat: string): Step[] {
  let id = "";
  const job = (jobs: JobEngine) => jobs.lookup(id);
  return [
    {
      name: "start",
      async run(jobs) {
        const started = await jobs.start({ command: jobCommand(beat), name: "doctor self-test" });
        id = started.job_id;
        return `job ${id.slice(0, 8)} runs, pid ${started.pid ?? "(not yet known)"}`;
      },
    },
    {
      name: "wait",
      async run(jobs, left) {
        const r = await jobs.wait(job(jobs), { until: "^ready$", timeoutMs: left() });
        if (!r.matched) throw new Error(`"ready" was not seen (${r.status}${r.timed_out ? ", timed out" : ""})`);
        return `saw the line "${r.match}"`;
      },
    },
    {
      name: "input",
      async run(jobs, left) {
        const reply = await jobs.interact(job(jobs), "hello", { waitMs: Math.min(5000, left()) });
        if (!reply.stdout.includes("got hello")) throw new Error(`the job answered ${JSON.stringify(reply.stdout)}`);
        return "stdin reached the job, its answer came back";
      },
    },
    {
      name: "read",
      async run(jobs) {
        const tail = await jobs.tail(job(jobs), 2);
        if (tail.stdout !== "ready\ngot hello") throw new Error(`its output reads ${JSON.stringify(tail.stdout)}`);
        return "its output is kept and read back";
      },
    },
    {
      name: "kill",
      async run(jobs) {
        const result = await jobs.kill(id, { signal: "SIGTERM", graceMs: 1000 });
        if (result !== "killed") throw new Error(`kill answered ${result}`);
        return "ended with its whole process group";
      },
    },
    {
      name: "escape",
      async run() {
        // The process it started in a session of its own must be gone too: its count stops.
        const count = () => readFileSync(beat, "utf8").trim();
        const before = count();
        await sleep(500);
        if (count() !== before) throw new Error("a process the job started in a session of its own still runs");
        return "a process it started in a session of its own was ended with it";
      },
    },
  ];
}

/** Runs the self-test in a state dir of its own; true if every step passed. */
async function selfTest(config: Config, say: Say): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), "mcp-bg-doctor-"));
  const deadline = Date.now() + SELF_TEST_MS;
  const left = () => Math.max(1, deadline - Date.now());
  let jobs: JobEngine | undefined;
  let passed = true;
  try {
    jobs = openJobEngine({ ...config, stateDir: join(dir, "state") }, "run");
    const opened = jobs;
    for (const step of steps(join(dir, "beat"))) {
      const t0 = Date.now();
      try {
        if (jobs.unavailable()) throw new Error(jobs.unavailable());
        const said = await Promise.race([
          step.run(opened, left),
          sleep(left()).then(() => {
            throw new Error(`no answer within the self-test's ${SELF_TEST_MS / 1000} s`);
          }),
        ]);
        say(`  ok    ${step.name.padEnd(7)} ${said} (${Date.now() - t0} ms)`);
      } catch (err) {
        say(`  FAIL  ${step.name.padEnd(7)} ${(err as Error).message}`);
        passed = false;
        break;
      }
    }
  } catch (err) {
    say(`  FAIL  the self-test could not start: ${(err as Error).message}`);
    passed = false;
  } finally {
    await jobs?.shutdown().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
  return passed;
}

/** What the configured state dir holds, in words. */
function stateDirFacts(config: Config): string {
  let jobs: JobEngine | undefined;
  try {
    jobs = openJobEngine(config, "cli");
    const all = jobs.list({ limit: 1 }).total;
    const running = jobs.list({ status: "running", limit: 1 }).total;
    const queued = jobs.list({ status: "queued", limit: 1 }).total;
    return `${config.stateDir}: ${all} job${all === 1 ? "" : "s"} recorded, ${running} running, ${queued} queued`;
  } catch (err) {
    return `${config.stateDir}: cannot be used: ${(err as Error).message}`;
  } finally {
    jobs?.close();
  }
}

/**
 * `mcp-bg-jobs doctor`: what this machine offers (the platform, how processes are looked at, the
 * capture process), the state dir, and a self-test of at most 30 s that starts a job, waits for its
 * line, writes to it, reads it back, kills it and checks that what it started is gone. Exit 0 if all
 * passed, 1 if not: what to paste into a bug report.
 */
export async function runDoctor(argv: string[]): Promise<void> {
  const say: Say = (line) => process.stdout.write(`${line}\n`);
  let config: Config;
  try {
    const args = parseArgs(argv, SWITCH_SETTINGS);
    if (args.positionals.length > 0) throw new ConfigError(`usage: mcp-bg-jobs ${DOCTOR_USAGE}`);
    config = loadConfig(args.options, process.env);
  } catch (err) {
    process.stderr.write(`mcp-bg-jobs: ${(err as Error).message}\n`);
    process.exit(EXIT.usage);
  }
  say(`mcp-bg-jobs ${VERSION} doctor`);
  for (const fact of platformFacts()) say(`${fact.name.padEnd(18)} ${fact.value}`);
  // What a job's sandbox and limits can be had from (an error at start where they cannot).
  for (const fact of confineFacts(config.cgroups)) say(`${fact.name.padEnd(18)} ${fact.value}`);
  say(`${"state dir".padEnd(18)} ${stateDirFacts(config)}`);
  say("self-test (a job in a state dir of its own, 30 s at most):");
  const passed = await selfTest(config, say);
  say(passed ? "all checks passed" : "a check failed: please paste this report into an issue");
  process.exit(passed ? EXIT.ok : EXIT.failed);
}
