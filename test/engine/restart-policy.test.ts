import { describe, expect, it } from "vitest";
import { type JobPlan, type JobState, restartDelay, restartsAfter, runningJob } from "../../src/domain/job-state.js";
import { UNCONFINED } from "../../src/executors/executor.js";

const plan = (p: Partial<JobPlan>): JobPlan => ({
  env: {},
  timeoutSeconds: null,
  confine: UNCONFINED,
  queue: false,
  after: [],
  afterCondition: "completed",
  restart: "on-failure",
  maxRestarts: 5,
  ready: null,
  group: null,
  ...p,
});
const job = (p: Partial<JobPlan>, s: Partial<JobState> = {}) =>
  runningJob({ id: "x", command: "x", cwd: "/", startedMs: 0, bootId: null, plan: plan(p), ...s });
const exit = (code: number | null, lost = false) => ({ code, lost });

describe("when a job starts again", () => {
  it("on-failure: after a non-zero exit, a signal or a lost end; never after exit 0", () => {
    expect(restartsAfter(job({}), exit(1))).toBe(true);
    expect(restartsAfter(job({}), exit(null))).toBe(true);
    expect(restartsAfter(job({}), exit(null, true))).toBe(true);
    expect(restartsAfter(job({}), exit(0))).toBe(false);
  });

  it("always: after any end; no: never; never once a kill was asked for, or past max_restarts", () => {
    expect(restartsAfter(job({ restart: "always" }), exit(0))).toBe(true);
    expect(restartsAfter(job({ restart: "no" }), exit(1))).toBe(false);
    expect(restartsAfter(job({ restart: "always" }, { killRequested: true }), exit(null))).toBe(false);
    expect(restartsAfter(job({ maxRestarts: 2 }, { restarts: 2 }), exit(1))).toBe(false);
    expect(restartsAfter(job({ maxRestarts: 2 }, { restarts: 1 }), exit(1))).toBe(true);
    expect(restartsAfter({ ...job({}), plan: null }, exit(1))).toBe(false);
  });

  it("waits 1 s, doubling to 60 s, and 1 s again after a run of 60 s or more", () => {
    const last = (delayMs: number) => ({ code: 1, signal: null, endedMs: 0, delayMs });
    expect(restartDelay({ startedMs: 0, lastExit: null }, 10)).toBe(1000);
    expect(restartDelay({ startedMs: 0, lastExit: last(1000) }, 10)).toBe(2000);
    expect(restartDelay({ startedMs: 0, lastExit: last(32_000) }, 10)).toBe(60_000);
    expect(restartDelay({ startedMs: 0, lastExit: last(60_000) }, 10)).toBe(60_000);
    expect(restartDelay({ startedMs: 0, lastExit: last(60_000) }, 60_000)).toBe(1000);
  });
});
