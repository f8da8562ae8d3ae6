import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { useServer } from "../support/harness.js";
import {
  childrenOf,
  isAlive,
  markedLoop,
  marker,
  processesMatching,
  steadyCount,
  waitFor,
} from "../support/helpers.js";

// Where the server does not read /proc (macOS; portable mode, here), the capture binary answers its
// process questions (`shepherd --procs`). A job runs as the same user and can reach that helper: a
// stopped or killed helper must not stop the server or make it misjudge a job.

const stateOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
};

// The helper that answers on the server's thread (over FIFOs; the one a worker asks uses pipes).
const fifoHelpers = (server: number) =>
  childrenOf(server).filter((c) => {
    try {
      return /--procs \S+\/q \S+\/a/.test(readFileSync(`/proc/${c}/cmdline`, "utf8").replaceAll("\0", " "));
    } catch {
      return false; // gone between the listing and the look (a helper being replaced, say)
    }
  });

describe("the process helper (portable mode), attacked by a job", () => {
  const s = useServer({ env: { MCP_BG_PORTABLE: "1" } });

  it("a helper a job stopped is continued, and the server answers", async () => {
    const m = marker();
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: markedLoop(m) });
    await waitFor(() => processesMatching(m).length === 1);
    const [helper] = fifoHelpers(s.pid);
    expect(helper).toBeDefined();
    // The job stops it, as any process of the same user could.
    const stopper = await s.ok<{ job_id: string }>("execute_command", {
      command: `kill -STOP ${helper}`,
      wait_seconds: 10,
    });
    expect(stopper).toMatchObject({ status: "completed" });
    await waitFor(() => stateOf(helper as number) === "T");
    // A question the server's thread asks (is the job's capture process stopped?) finds it stopped,
    // continues it after a second, and the kill goes on.
    expect(await s.ok("kill_job", { job_id, grace_seconds: 1 })).toEqual({ status: "killed" });
    expect(stateOf(helper as number)).not.toBe("T");
    expect(await steadyCount(m)).toBe(0);
  });

  it("a helper a job killed is started again, and jobs are judged as before", async () => {
    const m = marker();
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: markedLoop(m) });
    await waitFor(() => processesMatching(m).length === 1);
    for (const helper of fifoHelpers(s.pid)) process.kill(helper, "SIGKILL");
    // Still running (not lost, not failed), as the next question to a new helper tells.
    expect(await s.ok("get_job_status", { job_id })).toMatchObject({ status: "running", lost: false });
    await waitFor(() => fifoHelpers(s.pid).some(isAlive));
    expect(await s.ok("kill_job", { job_id, grace_seconds: 1 })).toEqual({ status: "killed" });
    expect(await steadyCount(m)).toBe(0);
  });
});
