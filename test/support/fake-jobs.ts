import { runningJob } from "../../src/domain/job-state.js";
import {
  type ConfinementView,
  confinementOf,
  type JobRecord,
  type SupervisionView,
  supervisionOf,
} from "../../src/domain/record.js";
import type { JobsForTools, KillResult, TrackedJob, WaitOptions, WaitResult } from "../../src/engine/index.js";
import { JobError } from "../../src/engine/index.js";
import { TrackedJob as Tracked } from "../../src/engine/tracked-job.js";

/** One call the fake engine was given: the method and its arguments. */
export type Call = [method: string, ...args: unknown[]];

/**
 * An engine that runs nothing: it keeps jobs made by `add`, answers each method with what the test
 * sets (`answers`), and records every call. The MCP tools are tested against it through the
 * interface they are written against (JobsForTools), without processes, files or a database.
 */
export class FakeJobs implements JobsForTools {
  callTimeoutMs = 2_000;
  readonly calls: Call[] = [];
  readonly jobs = new Map<string, TrackedJob>();
  readonly changes = {
    onListChanged: () => () => {},
    watchJob: () => () => {},
    stateVersion: () => "0",
  };
  /** What each method answers; a method left out answers a plain default. */
  answers: Partial<{ [K in keyof JobsForTools]: JobsForTools[K] }> = {};
  /** Set to make every tool answer that jobs cannot run here. */
  why: string | undefined;

  /** A job the engine knows: running unless an end is given. */
  add(id: string, more: Partial<Parameters<typeof runningJob>[0]> = {}): TrackedJob {
    const job = new Tracked(
      runningJob({
        id,
        command: "make test",
        cwd: "/home/me",
        startedMs: Date.UTC(2026, 11, 6),
        bootId: null,
        ...more,
      }),
      `/nonexistent/${id}`,
    );
    this.jobs.set(id, job);
    return job;
  }

  /** The calls made to one method, their arguments. */
  callsTo(method: string): unknown[][] {
    return this.calls.filter(([m]) => m === method).map(([, ...args]) => args);
  }

  // Records a call (jobs by id), then answers it as the test set, or with the fallback.
  private answer<K extends keyof JobsForTools>(method: K, args: unknown[], fallback: () => unknown): never {
    const byId = (a: unknown): unknown => (a instanceof Tracked ? a.id : Array.isArray(a) ? a.map(byId) : a);
    this.calls.push([method, ...args.map(byId)]);
    const set = this.answers[method] as ((...a: unknown[]) => unknown) | undefined;
    return (set ? set(...args) : fallback()) as never;
  }

  start(opts: Parameters<JobsForTools["start"]>[0]): Promise<JobRecord> {
    return this.answer("start", [opts], async () => this.add("job-1").record());
  }
  lookup(id: string): TrackedJob {
    return this.answer("lookup", [id], () => {
      const job = this.jobs.get(id);
      if (!job) throw new JobError("not_found", `Job ${id} not found`);
      return job;
    });
  }
  list(filter?: Parameters<JobsForTools["list"]>[0]) {
    return this.answer("list", [filter], () => {
      const jobs = [...this.jobs.values()].map((j) => j.record());
      return { jobs, total: jobs.length };
    });
  }
  output(job: TrackedJob, since?: unknown, limit?: number) {
    return this.answer("output", [job, since, limit], async () => ({
      stdout: "out\n",
      stderr: "",
      cursor: "4:0",
      truncated: false,
    }));
  }
  tail(job: TrackedJob, lines: number) {
    return this.answer("tail", [job, lines], async () => ({ stdout: "last", stderr: "" }));
  }
  wait(job: TrackedJob, opts: WaitOptions): Promise<WaitResult> {
    return this.answer("wait", [job, opts], async () => ({
      status: job.status,
      matched: false,
      match: null,
      stream: null,
      timed_out: job.running,
      exit_code: job.exitCode,
      cursor: "0:0",
    }));
  }
  search(job: TrackedJob, pattern: string, opts: Parameters<JobsForTools["search"]>[2]) {
    return this.answer("search", [job, pattern, opts], async () => ({
      matches: [],
      total_matches: 0,
      truncated: false,
    }));
  }
  interact(job: TrackedJob, input: string, opts: Parameters<JobsForTools["interact"]>[2]) {
    return this.answer("interact", [job, input, opts], async () => ({
      stdout: "reply\n",
      stderr: "",
      cursor: "6:0",
      truncated: false,
    }));
  }
  kill(id: string, opts?: Parameters<JobsForTools["kill"]>[1]): Promise<KillResult> {
    return this.answer("kill", [id, opts], async () => "killed" as const);
  }
  ended(job: TrackedJob): Promise<void> {
    return this.answer("ended", [job], () => job.ended);
  }
  ports(jobs: readonly TrackedJob[]) {
    return this.answer("ports", [jobs], async () => new Map(jobs.map((j) => [j.id, [5173]])));
  }
  confinement(job: TrackedJob): ConfinementView {
    return this.answer("confinement", [job], () => confinementOf(job.state));
  }
  supervision(job: TrackedJob): SupervisionView {
    return this.answer("supervision", [job], () => supervisionOf(job.state, null, null));
  }
  waiting(job: TrackedJob): string | undefined {
    return this.answer("waiting", [job], () => undefined);
  }
  unavailable(): string | undefined {
    return this.why;
  }
}
