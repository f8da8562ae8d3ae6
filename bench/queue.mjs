// The queue, an order and restarts (issue 25), as an agent uses them, each against its floor measured
// in the same run: a start that queues (with a free slot) beside a plain start; 100 jobs drained
// through a limit of 3 beside the same 100 run 3 at a time by the client itself (start, wait, start);
// a restart's lateness over its backoff; a kill of a queued job beside a kill of a running one; and
// an idle server holding 100 queued jobs behind 3 sleepers.

import { median, ms, now, sleep } from "./timing.mjs";

export async function benchQueue({ startServer, record, quick, cpuPercent }) {
  const n = quick ? 20 : 100;
  // A start: plain beside queue: true, interleaved, one at a time, on a server with free slots.
  {
    const s = await startServer();
    const plain = [];
    const queued = [];
    for (let i = 0; i < n; i++) {
      await sleep(10);
      let t0 = now();
      await s.call("execute_command", { command: "true" });
      plain.push(ms(t0));
      await sleep(10);
      t0 = now();
      const r = await s.call("execute_command", { command: "true", queue: true });
      if (r.status === "queued") throw new Error("queue bench: a start with a free slot was queued");
      queued.push(ms(t0));
    }
    record("queue: start p50, plain", median(plain), "ms");
    record("queue: start p50, queue: true with a free slot", median(queued), "ms");
    record("queue: start with queue: true: ratio to a plain start", median(queued) / median(plain), "x", "<= 1.25x");
    await s.close();
  }
  // Draining: n jobs of `sleep 0.05` through a limit of 3, beside the client running them 3 at a time.
  {
    const s = await startServer({ MCP_BG_MAX_JOBS: "3" });
    const cmd = "sleep 0.05";
    let t0 = now();
    for (let i = 0; i < n; i += 3) {
      const batch = [];
      for (let k = i; k < Math.min(n, i + 3); k++)
        batch.push((await s.call("execute_command", { command: cmd })).job_id);
      for (const job_id of batch) await s.call("wait_for_job", { job_id, timeout_seconds: 60 });
    }
    const byHand = ms(t0);
    t0 = now();
    const ids = [];
    for (let i = 0; i < n; i++) ids.push((await s.call("execute_command", { command: cmd, queue: true })).job_id);
    const r = await s.call("wait_for_job", { job_ids: ids, mode: "all", timeout_seconds: 600 });
    if (r.done.length !== n) throw new Error(`queue bench: ${r.done.length} of ${n} done`);
    const queuedMs = ms(t0);
    record(`queue: ${n} jobs through a limit of 3, by hand (start 3, wait, start 3)`, byHand, "ms");
    record(`queue: ${n} jobs through a limit of 3, queued in one go, until all ended`, queuedMs, "ms");
    record("queue: drained ratio to by hand", queuedMs / byHand, "x", "<= 1.0x");
    await s.close();
  }
  // A restart's lateness: when each run starts (its own clock) against when its backoff said.
  {
    const s = await startServer();
    const runs = quick ? 3 : 5;
    const { job_id } = await s.call("execute_command", {
      command: `date +%s%3N; sleep 0.2; exit 1`,
      restart: "on-failure",
      max_restarts: runs,
    });
    await s.call("wait_for_job", { job_id, timeout_seconds: 120 });
    const out = await s.call("get_job_output", { job_id });
    const starts = out.stdout
      .split("\n")
      .filter((l) => /^\d{13}$/.test(l))
      .map(Number);
    const late = [];
    for (let i = 1; i < starts.length; i++) {
      const planned = 200 + 1000 * 2 ** (i - 1);
      late.push(starts[i] - starts[i - 1] - planned);
    }
    record(`queue: restart lateness over its backoff p50 (${late.length} restarts)`, median(late), "ms", "<= 50 ms");
    await s.close();
  }
  // A kill: of a queued job, beside a kill of a running one.
  {
    const s = await startServer({ MCP_BG_MAX_JOBS: "1" });
    await s.call("execute_command", { command: "sleep 100000" });
    const q = [];
    for (let i = 0; i < (quick ? 5 : 20); i++) {
      const { job_id } = await s.call("execute_command", { command: "true", queue: true });
      const t0 = now();
      await s.call("kill_job", { job_id });
      q.push(ms(t0));
    }
    const s2 = await startServer();
    const running = [];
    for (let i = 0; i < (quick ? 5 : 20); i++) {
      const { job_id } = await s2.call("execute_command", { command: "sleep 100000" });
      const t0 = now();
      await s2.call("kill_job", { job_id });
      running.push(ms(t0));
    }
    record("queue: kill_job of a queued job p50", median(q), "ms");
    record("queue: kill_job of a running job p50", median(running), "ms");
    await s2.close();
    await s.close();
  }
  // Idle with a queue: nothing is polled.
  {
    const s = await startServer({ MCP_BG_MAX_JOBS: "3" });
    for (let i = 0; i < 3; i++) await s.call("execute_command", { command: "sleep 100000" });
    for (let i = 0; i < n; i++) await s.call("execute_command", { command: "true", queue: true });
    record(`idle: one server, 3 sleepers and ${n} queued jobs (% of a core)`, await cpuPercent([s]), "%", "< 0.1 %");
    await s.close();
  }
}
