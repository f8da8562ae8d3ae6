import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openJobEngine } from "../../src/cli/compose.js";
import { loadConfig } from "../../src/config/config.js";
import type { Owner } from "../../src/domain/job-state.js";
import { JobError } from "../../src/engine/errors.js";
import type { JobEngine } from "../../src/engine/job-engine.js";
import { bootId } from "../../src/process/proc.js";
import { JobStore } from "../../src/store/job-store.js";
import { markedLoop, marker, processesMatching, tempDir, waitFor } from "../support/helpers.js";

// The engine in this process, on a state dir of its own: no MCP, no bundle of the server (only its
// capture process and worker, which `npm test` builds). What the tools rely on, one level down.

let state: ReturnType<typeof tempDir>;
const engines: JobEngine[] = [];

function engine(settings: Record<string, string> = {}, server = true): JobEngine {
  const flags = new Map(Object.entries({ "--state-dir": state.path, ...settings }));
  const e = openJobEngine(loadConfig(flags, process.env), server ? "server" : "cli");
  engines.push(e);
  return e;
}

beforeEach(() => {
  state = tempDir("mcp-bg-engine-");
});

afterEach(async () => {
  await Promise.allSettled(engines.splice(0).map((e) => e.shutdown()));
  state.remove();
});

describe("the job engine, in process", () => {
  it("starts a job, sees its end and keeps its output", async () => {
    const e = engine();
    const started = await e.start({ command: "echo out; echo err >&2; exit 3" });
    const job = e.lookup(started.job_id);
    await e.ended(job);
    expect(e.lookup(started.job_id).record()).toMatchObject({ status: "failed", exit_code: 3, signal: null });
    expect(await e.output(e.lookup(started.job_id))).toMatchObject({ stdout: "out\n", stderr: "err\n" });
    expect(await e.tail(e.lookup(started.job_id), 1)).toEqual({ stdout: "out", stderr: "err" });
  });

  it("kills a job that ignores SIGTERM with SIGKILL after the grace, and leaves nothing", async () => {
    const e = engine();
    const mark = marker();
    const { job_id } = await e.start({ command: `trap '' TERM; ${markedLoop(mark, 'trap "" TERM; ')}` });
    await waitFor(() => processesMatching(mark).length === 1);
    expect(await e.kill(job_id, { graceMs: 300 })).toBe("killed");
    expect(e.lookup(job_id).record()).toMatchObject({ status: "killed", signal: "SIGKILL" });
    expect(processesMatching(mark)).toEqual([]);
    expect(await e.kill(job_id)).toBe("already_terminated");
    expect(await e.kill("no-such-job")).toBe("not_found");
  });

  it("looking a job up writes nothing, even when its owner is dead", async () => {
    const e = engine();
    const mark = marker();
    const { job_id } = await e.start({ command: markedLoop(mark) });
    const store = new JobStore(state.path);
    try {
      const owner = store.get(job_id)?.owner as Owner;
      expect(store.claim(job_id, owner, deadOwner())).toBe(true);
      const version = store.version();
      const reader = engine({}, false);
      expect(reader.lookup(job_id).status).toBe("running");
      reader.list();
      expect(store.version()).toBe(version);
    } finally {
      store.close();
    }
  });

  it("a server takes over the running jobs of a server that died, and records their ends", async () => {
    const a = engine();
    const mark = marker();
    const running = await a.start({ command: markedLoop(mark) });
    const quick = await a.start({ command: "exit 4" });
    await a.ended(a.lookup(quick.job_id));
    // a dies (as far as the state dir can tell): its jobs now belong to no living server.
    const store = new JobStore(state.path);
    try {
      const owner = store.get(running.job_id)?.owner as Owner;
      expect(store.claim(running.job_id, owner, deadOwner())).toBe(true);
    } finally {
      store.close();
    }
    const b = engine();
    b.sweep();
    const taken = b.refreshed(running.job_id);
    expect(taken.state.owner?.pid).toBe(process.pid);
    expect(taken.status).toBe("running");
    expect(await b.kill(running.job_id, { graceMs: 1000 })).toBe("killed");
    expect(processesMatching(mark)).toEqual([]);
    expect(b.lookup(quick.job_id).record()).toMatchObject({ status: "failed", exit_code: 4 });
  });

  it("drops finished jobs past retention with their folders, and keeps running ones", async () => {
    const e = engine({ "--retention": "1" });
    const done = await e.start({ command: "true" });
    await e.ended(e.lookup(done.job_id));
    const running = await e.start({ command: "sleep 30" });
    const folder = join(state.path, "jobs", done.job_id);
    expect(existsSync(folder)).toBe(true);
    e.sweep(Date.now() + 5000);
    expect(() => e.lookup(done.job_id)).toThrow(JobError);
    expect(existsSync(folder)).toBe(false);
    expect(e.lookup(running.job_id).status).toBe("running");
  });

  it("a shutdown during starts leaves each started job with a record and an end", async () => {
    const e = engine();
    const mark = marker();
    const starts = Array.from({ length: 6 }, () => e.start({ command: markedLoop(mark) }));
    const stopping = e.shutdown();
    const results = await Promise.allSettled(starts);
    await stopping;
    for (const r of results) {
      if (r.status === "rejected") expect(r.reason).toBeInstanceOf(JobError);
    }
    const reader = engine({}, false);
    for (const r of results) {
      if (r.status === "fulfilled") expect(reader.lookup(r.value.job_id).status).toBe("killed");
    }
    expect(processesMatching(mark)).toEqual([]);
  });

  it("refuses bad requests with a JobError and starts nothing", async () => {
    const e = engine({ "--max-jobs": "1" });
    await expect(e.start({ command: "  " })).rejects.toThrow(JobError);
    await expect(e.start({ command: "true", cwd: "/no/such/dir" })).rejects.toThrow(/cwd|directory/i);
    const first = await e.start({ command: "sleep 30" });
    await expect(e.start({ command: "sleep 30" })).rejects.toThrow(/limit|MAX_JOBS|running/i);
    expect(e.list().total).toBe(1);
    expect(await e.kill(first.job_id, { graceMs: 0 })).toBe("killed");
  });
});

/** An owner no process is: a server that died. */
function deadOwner(): Owner {
  return { pid: 4_194_000, start: 1, bootId: bootId() };
}
