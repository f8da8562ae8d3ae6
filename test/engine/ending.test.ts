import { describe, expect, it } from "vitest";
import { describeEnd } from "../../src/domain/ending.js";

// How a job that ran into a limit ended, in words.
describe("describeEnd with a limit hit", () => {
  const end = { status: "failed", exit_code: null, signal: null, timed_out: false };

  it("a main process the OOM killer ended: killed by its memory limit", () => {
    const hit = { limit: "memory", value: 64 * 1024 * 1024 };
    expect(describeEnd({ ...end, signal: "SIGKILL", limit_hit: hit })).toBe(
      "killed by its memory limit (64 MB): out of memory",
    );
    // The shell reports its child's SIGKILL as 137.
    expect(describeEnd({ ...end, exit_code: 137, limit_hit: hit })).toBe(
      "killed by its memory limit (64 MB): out of memory",
    );
  });

  it("a child the OOM killer ended, its main process exiting otherwise: said beside the exit", () => {
    const hit = { limit: "memory", value: 1.5 * 1024 ** 3 };
    expect(describeEnd({ ...end, exit_code: 1, limit_hit: hit })).toBe(
      "exited with code 1 (general error); it hit its memory limit (1.5 GB): the kernel killed a process of it",
    );
  });

  it("a kill asked for is not put down to the limit, but the limit is said", () => {
    const hit = { limit: "memory", value: 1024 ** 2 };
    expect(describeEnd({ ...end, status: "killed", signal: "SIGKILL", limit_hit: hit })).toMatch(
      /^ended by SIGKILL on request .*; it hit its memory limit \(1 MB\)/,
    );
  });

  it("a process limit: forks were refused", () => {
    expect(describeEnd({ ...end, exit_code: 2, limit_hit: { limit: "processes", value: 40 } })).toBe(
      "exited with code 2 (misuse or bad arguments); it hit its process limit (40): forks were refused",
    );
  });
});
