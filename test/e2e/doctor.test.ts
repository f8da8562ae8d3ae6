import { describe, expect, it } from "vitest";
import { runCli } from "../support/harness.js";
import { tempDir } from "../support/helpers.js";
import { PORTABLE } from "../support/portable.js";

// `mcp-bg-jobs doctor`: what a user pastes into a bug report (a Mac user's first: README: Platforms).

describe("mcp-bg-jobs doctor", () => {
  it("says what this machine offers and what the state dir holds, and passes its self-test", async () => {
    const state = tempDir("mcp-bg-doctor-state-");
    try {
      const r = await runCli(state.path, ["doctor"]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const lines = r.stdout.trim().split("\n");
      expect(lines[0]).toMatch(/^mcp-bg-jobs \S+ doctor$/);
      expect(r.stdout).toMatch(new RegExp(`^system +${process.platform} ${process.arch}, Node v`, "m"));
      expect(r.stdout).toMatch(
        PORTABLE ? /^processes +asked of the capture binary/m : /^processes +read from \/proc by the server/m,
      );
      // What can confine a job: said either way (what cannot be had is "refused", as a start would be).
      expect(r.stdout).toMatch(/^sandbox +(workspace and read-only \(Landlock ABI \d+\)|refused: )/m);
      expect(r.stdout).toMatch(/^network: false +(no sockets but Unix ones \(seccomp\)|refused: )/m);
      expect(r.stdout).toMatch(
        PORTABLE
          ? /^limits +memory refused, cpu refused, processes refused$/m
          : /^limits +memory (\(cgroup v[12] memory\)|refused), cpu (\(cgroup v[12] cpu\)|refused), processes (\(cgroup v[12] pids\)|refused)$/m,
      );
      expect(r.stdout).toContain(`state dir          ${state.path}: 0 jobs recorded, 0 running, 0 queued`);
      for (const step of ["start", "wait", "input", "read", "kill", "escape"])
        expect(r.stdout).toMatch(new RegExp(`^  ok    ${step} +\\S.* \\(\\d+ ms\\)$`, "m"));
      expect(lines.at(-1)).toBe("all checks passed");
      // Its self-test ran in a state dir of its own: the one it reports on holds no new job.
      expect(JSON.parse((await runCli(state.path, ["list", "--json"])).stdout)).toMatchObject({ total: 0 });
    } finally {
      state.remove();
    }
  });

  it("refuses what it does not take, with exit code 2", async () => {
    const state = tempDir("mcp-bg-doctor-state-");
    try {
      const r = await runCli(state.path, ["doctor", "now"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe("mcp-bg-jobs: usage: mcp-bg-jobs doctor [--state-dir DIR]\n");
    } finally {
      state.remove();
    }
  });
});
