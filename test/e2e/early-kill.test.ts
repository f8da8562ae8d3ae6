import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type Status, useDurableFixture } from "../support/durable-fixture.js";
import { runCli } from "../support/harness.js";
import { markedLoop, marker, processesMatching, steadyCount, waitFor } from "../support/helpers.js";

// A kill at the first millisecond is a kill. (Found by a hostile review: a job SIGKILLed by another
// server within milliseconds of its start was recorded killed, lost, signal null, "its server stopped
// watching it", and the views disagreed. The kill had walked the tree of the process that starts
// jobs, the starting server's spawner, whose children are every job's capture process.)

const { newState, server } = useDurableFixture();

describe("a kill from another server while a job starts", () => {
  it("kills that job, with its signal, the same in every view, and nothing else", async () => {
    const state = newState();
    const a = await server(state, { env: { MCP_BG_MAX_JOBS: "100" } });
    const b = await server(state);
    // A job of a's that must live through all of this.
    const m = marker();
    const bystander = await a.ok<Status>("execute_command", { command: markedLoop(m) });
    await waitFor(() => processesMatching(m).length === 1);
    const { default: Database } = await import("libsql");
    const db = new Database(join(state, "state.db"), { readonly: true });
    const query = db.prepare("SELECT job_id, pid FROM jobs WHERE status = 'running' AND job_id != ?");
    const killed = new Map<string, Promise<unknown>>();
    let early = 0;
    let starting = true;
    // Watches the records as fast as it can and has b kill each new job with SIGKILL at once.
    // Once the starts are over it looks once more: a job started after its last look is killed too.
    const watcher = (async () => {
      for (;;) {
        const last = !starting;
        for (const row of query.all(bystander.job_id) as { job_id: string; pid: number | null }[]) {
          if (killed.has(row.job_id)) continue;
          if (row.pid === null) early++;
          killed.set(row.job_id, b.ok("kill_job", { job_id: row.job_id, signal: "SIGKILL", grace_seconds: 0 }));
        }
        if (last) break;
        await new Promise((r) => setImmediate(r));
      }
    })();
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await a.ok<Status>("execute_command", { command: "sleep 300" })).job_id);
    starting = false;
    await watcher;
    db.close();
    console.log(`early kills: ${early} of ${killed.size} came before the job's processes were recorded`);
    for (const [id, answer] of killed) expect(await answer, id).toEqual({ status: "killed" });
    expect(ids.every((id) => killed.has(id))).toBe(true);
    const cli = (await runCli(state, ["list", "--json", "--limit", "100"])).stdout;
    const listed = new Map((JSON.parse(cli).jobs as Status[]).map((j) => [j.job_id, j]));
    for (const id of ids) {
      const seen = await a.ok<Status>("get_job_status", { job_id: id });
      expect(seen, id).toMatchObject({ status: "killed", signal: "SIGKILL", lost: false });
      expect(listed.get(id), id).toMatchObject({ status: "killed" });
    }
    expect((await runCli(state, ["list"])).stdout).not.toMatch(/lost|failed/);
    // The other job of the starting server lives on.
    expect(await steadyCount(m)).toBe(1);
    expect(await a.ok("get_job_status", { job_id: bystander.job_id })).toMatchObject({ status: "running" });
    await a.ok("kill_job", { job_id: bystander.job_id, grace_seconds: 1 });
  });
});
