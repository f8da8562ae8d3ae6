import { existsSync, renameSync, statSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type Status, useDurableFixture } from "../support/durable-fixture.js";
import { runCli } from "../support/harness.js";
import { markedLoop, processesMatching, waitFor } from "../support/helpers.js";

// A job whose record is gone is found at once, and damage is reported. (Found by a hostile review:
// after the database lost a running job's record (its WAL deleted after a crash, or state.db moved
// away as this README suggests), the tools answered "not found" for a minute and more while the job
// ran; a garbled or truncated WAL silently dropped records, and nothing said so.)

const { newState, mark, server, crash } = useDurableFixture();

describe("records the database lost", () => {
  it("a state.db moved away: the next server finds its running jobs at once, and says so", async () => {
    const state = newState();
    const m = mark();
    const a = await server(state);
    const running = await a.ok<Status>("execute_command", { command: markedLoop(m) });
    const ended = await a.ok<Status>("execute_command", { command: "echo bye; exit 4" });
    await a.ok("wait_for_job", { job_id: ended.job_id, timeout_seconds: 45 });
    await crash(a);
    for (const f of ["state.db", "state.db-wal", "state.db-shm"])
      if (existsSync(join(state, f))) renameSync(join(state, f), join(state, `${f}.moved`));
    // The command line says what it sees before any server has looked.
    expect((await runCli(state, ["list"])).stderr).toMatch(/2 job folder\(s\) .* have no record in the state database/);
    const b = await server(state);
    // At once: no minute's grace for a folder whose job runs.
    expect(await b.ok("get_job_status", { job_id: running.job_id })).toMatchObject({
      status: "running",
      name: "recovered",
    });
    expect(await b.ok("get_job_status", { job_id: ended.job_id })).toMatchObject({ status: "failed", exit_code: 4 });
    expect((await b.ok<{ stdout: string }>("get_job_output", { job_id: ended.job_id })).stdout).toBe("bye\n");
    expect(b.stderr()).toMatch(/no record of 2 job\(s\).*recovered them from their folders, 1 running and 1 ended/);
    expect(await b.ok("kill_job", { job_id: running.job_id, grace_seconds: 1 })).toEqual({ status: "killed" });
    expect(processesMatching(m)).toEqual([]);
  });

  it("a truncated WAL after a crash: every job it dropped comes back, and the log counts them", async () => {
    const state = newState();
    const m = mark();
    const a = await server(state, { env: { MCP_BG_MAX_JOBS: "20" } });
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await a.ok<Status>("execute_command", { command: markedLoop(m) })).job_id);
    for (let i = 0; i < 10; i++) {
      const { job_id } = await a.ok<Status>("execute_command", { command: `exit ${i}` });
      await a.ok("wait_for_job", { job_id, timeout_seconds: 45 });
      ids.push(job_id);
    }
    await waitFor(() => processesMatching(m).length === 10);
    await crash(a);
    const wal = join(state, "state.db-wal");
    expect(statSync(wal).size).toBeGreaterThan(0);
    truncateSync(wal, Math.floor(statSync(wal).size / 2));
    const b = await server(state);
    const said = /no record of (\d+) job\(s\).*?(\d+) running and (\d+) ended/.exec(b.stderr());
    expect(said, b.stderr()).not.toBeNull();
    for (const [i, id] of ids.entries()) {
      const st = await b.ok<Status>("get_job_status", { job_id: id });
      if (i < 10) expect(st, id).toMatchObject({ status: "running" });
      else expect(st, id).toMatchObject({ exit_code: i - 10 });
    }
    for (const id of ids.slice(0, 10)) await b.ok("kill_job", { job_id: id, signal: "SIGKILL", grace_seconds: 0 });
    expect(processesMatching(m)).toEqual([]);
  });
});
