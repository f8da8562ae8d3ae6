import { execFileSync } from "node:child_process";
import { rmSync, statfsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type Status, useDurableFixture } from "../support/durable-fixture.js";
import { runCli } from "../support/harness.js";
import { markedLoop, processesMatching, waitFor } from "../support/helpers.js";

// A kill never depends on room to write. (Found by a hostile review: with the state dir's disk full
// (a runaway job's usual effect), kill_job answered `database or disk is full` and the job lived on,
// SIGTERM, SIGKILL with grace 0 and the command line's kill alike; a flood that kept filling the disk
// could not be stopped at all.) The state dir is a small tmpfs the test mounts (root only).

const { newState, mark, server, crash } = useDurableFixture();

async function recorded(state: string, id: string): Promise<{ status: string; signal: string | null }> {
  const { default: Database } = await import("libsql");
  const db = new Database(join(state, "state.db"));
  try {
    return db.prepare("SELECT status, signal FROM jobs WHERE job_id = ?").get(id) as never;
  } finally {
    db.close();
  }
}

describe("a kill with the disk full", () => {
  it("signals first and records the kill once there is room: tools and the command line alike", async (ctx) => {
    const state = newState();
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", state], { stdio: "ignore" });
    } catch {
      return ctx.skip();
    }
    try {
      const s = await server(state);
      const [ma, mc] = [mark(), mark()];
      // One that needs SIGKILL (it ignores SIGTERM), one for the command line, then a flood that fills the disk.
      const a = await s.ok<Status>("execute_command", { command: `trap '' TERM; ${markedLoop(ma, "trap '' TERM; ")}` });
      const c = await s.ok<Status>("execute_command", { command: markedLoop(mc) });
      const flood = await s.ok<Status>("execute_command", { command: "yes 'fill the disk with this line'" });
      await waitFor(() => statfsSync(state).bavail === 0, 30_000);
      await waitFor(() => processesMatching(ma).length === 1 && processesMatching(mc).length === 1);
      // The database can write nothing now: each kill still ends its job at once.
      expect(await s.ok("kill_job", { job_id: flood.job_id, signal: "SIGKILL", grace_seconds: 0 })).toEqual({
        status: "killed",
      });
      expect(await s.ok("kill_job", { job_id: a.job_id, grace_seconds: 0.5 })).toEqual({ status: "killed" });
      expect(processesMatching(ma)).toEqual([]);
      expect((await runCli(state, ["kill", c.job_id, "--grace", "1"])).code).toBe(0);
      expect(processesMatching(mc)).toEqual([]);
      // Every view says so meanwhile.
      expect(await s.ok("get_job_status", { job_id: a.job_id })).toMatchObject({ status: "killed", signal: "SIGKILL" });
      expect(await s.ok("get_job_status", { job_id: flood.job_id })).toMatchObject({ status: "killed" });
      // Room again (the flood's log goes): the server writes down what waited, kills first, then ends.
      rmSync(join(state, "jobs", flood.job_id, "stdout"));
      await waitFor(async () => (await recorded(state, a.job_id)).status === "killed", 30_000);
      expect(await recorded(state, a.job_id)).toMatchObject({ status: "killed", signal: "SIGKILL" });
      expect(await recorded(state, flood.job_id)).toMatchObject({ status: "killed", signal: "SIGKILL" });
      // The command line's kill could not be written and the command line is gone: the end is
      // recorded with the signal that ended the job.
      await waitFor(async () => (await recorded(state, c.job_id)).status !== "running", 30_000);
      expect(await recorded(state, c.job_id)).toMatchObject({ signal: "SIGTERM" });
      await crash(s);
    } finally {
      execFileSync("umount", ["-l", state]);
    }
  });
});
