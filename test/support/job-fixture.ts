import { join } from "node:path";
import { afterEach, beforeEach } from "vitest";
import { JobStdin } from "../../src/executors/job-stdin.js";
import { type ShepherdRequest, Spawner } from "../../src/executors/local/spawner.js";
import type { KillTarget } from "../../src/process/kill-tree.js";
import { findJobProcesses } from "../../src/process/proc.js";
import { sendSignal } from "../../src/process/signals.js";
import { marker, processesMatching, tempDir } from "./helpers.js";

/** Everything of a ShepherdRequest but the command; each has a default (see JobFixture.start). */
export type JobOptions = Partial<Omit<ShepherdRequest, "command">>;

/** How a job ended, as these tests look at it. */
export interface JobExit {
  code: number | null;
  signal: string | null;
  /** The end could not be observed (the shepherd died first). */
  lost: boolean;
}

/** A started job's processes and its end, as these tests look at them. */
export interface JobProcess {
  pid: number;
  pidStart: number;
  shepherdPid: number;
  shepherdStart: number;
  exited: Promise<JobExit>;
}

/** A job started by a JobFixture. */
export interface StartedJob {
  jobId: string;
  proc: JobProcess;
  /** What killProcessTree needs to end this job. */
  target: KillTarget;
  /** The job's stdin, through its FIFO as the server writes it. */
  stdin: { write(data: string | Buffer): Promise<void>; end(): Promise<void> };
}

const writers = new JobStdin();
/** The spawner the tests' shepherds come from (as a server's do), started on first use. */
const spawner = new Spawner(jobEnv());

/** The test runner's environment plus `extra`, minus a job id the runner may itself carry. */
export function jobEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.MCP_BG_JOB_ID;
  return env;
}

/**
 * Starts jobs under the real shepherd (forked by a Spawner) in a fresh temporary directory per test, and
 * leaves nothing behind: see useJobFixture, which wires setUp and cleanUp to beforeEach and afterEach.
 */
export class JobFixture {
  private tmp: { path: string; remove: () => void } | undefined;
  private started: StartedJob[] = [];
  private strays: string[] = [];

  /** `defaults` override the fixture's own (see start) for every job of this fixture. */
  constructor(private readonly defaults: JobOptions = {}) {}

  /** This test's temporary directory: the jobs' cwd and the home of their rings (stdout, stderr) and exit file. */
  get dir(): string {
    if (!this.tmp) throw new Error("JobFixture: no test is running (is setUp called in beforeEach?)");
    return this.tmp.path;
  }

  /** A path inside this test's directory. */
  path(...names: string[]): string {
    return join(this.dir, ...names);
  }

  /**
   * Starts `command` through a spawner. Defaults: a fresh marker as job id, this test's directory as
   * `dir` and `cwd`, `/bin/sh`, jobEnv(), 1 MiB rings, drainMs 500; the fixture's
   * defaults, then `opts`, override them. The job is ended after the test.
   */
  async start(command: string, opts: JobOptions = {}): Promise<StartedJob> {
    const req: ShepherdRequest = {
      jobId: marker(),
      dir: this.dir,
      shell: "/bin/sh",
      cwd: this.dir,
      env: {},
      capBytes: 1024 * 1024,
      drainMs: 500,
      ...defined(this.defaults),
      ...defined(opts),
      command,
    };
    const launched = await spawner.start(req);
    const proc: JobProcess = {
      pid: launched.job.pid,
      pidStart: launched.job.start,
      shepherdPid: launched.shepherd.pid,
      shepherdStart: launched.shepherd.start,
      exited: launched.ended.then(({ code, signal, lost }) => ({ code, signal, lost })),
    };
    const fifo = join(req.dir, "stdin");
    const stdin = {
      write: (data: string | Buffer) => writers.write(fifo, data),
      end: () => writers.end(fifo, { pid: proc.shepherdPid, start: proc.shepherdStart }),
    };
    const job = { jobId: req.jobId, proc, target: { pgid: proc.pid, jobId: req.jobId, exited: proc.exited }, stdin };
    this.started.push(job);
    return job;
  }

  /** Starts `command` as start does and waits for its end. */
  async run(command: string, opts: JobOptions = {}): Promise<JobExit> {
    return (await this.start(command, opts)).proc.exited;
  }

  /** After the test, also SIGKILLs every process whose command line contains `mark`. */
  killAfter(mark: string): void {
    this.strays.push(mark);
  }

  /** Creates this test's directory. */
  setUp(): void {
    this.tmp = tempDir();
    this.started = [];
    this.strays = [];
  }

  /**
   * SIGKILLs each job's process group and every process carrying its job id (even when its end was
   * reported: a job whose shepherd died is still running), and what killAfter named; waits for each
   * job's end; removes the directory.
   */
  async cleanUp(): Promise<void> {
    const { started, strays, tmp } = this;
    this.started = [];
    this.strays = [];
    this.tmp = undefined;
    try {
      for (const { proc } of started) sendSignal(-proc.pid, "SIGKILL");
      const jobIds = new Set(started.map((job) => job.jobId));
      for (const pid of (await findJobProcesses(jobIds)).keys()) sendSignal(pid, "SIGKILL");
      for (const mark of strays) for (const pid of processesMatching(mark)) sendSignal(pid, "SIGKILL");
      await Promise.all(started.map(({ proc }) => proc.exited));
    } finally {
      tmp?.remove();
    }
  }
}

// `opts` without its undefined entries, so that `{ capBytes: undefined }` keeps the default.
function defined(opts: JobOptions): JobOptions {
  return Object.fromEntries(Object.entries(opts).filter(([, value]) => value !== undefined));
}

/** A JobFixture whose setUp and cleanUp run before and after each test of the calling file or describe block. */
export function useJobFixture(defaults: JobOptions = {}): JobFixture {
  const fixture = new JobFixture(defaults);
  beforeEach(() => fixture.setUp());
  afterEach(() => fixture.cleanUp());
  return fixture;
}
