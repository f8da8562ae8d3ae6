// Replays everyday agent workflows through the SDK client and counts what they cost the agent: tool
// calls, and characters of result text (what a host puts into the model's context). Each is run the
// way an agent of the original seven tools had to (start, then poll) and with what this server
// offers now (start and wait in one call, search instead of reading everything).
import { sleep } from "./timing.mjs";

// A dev server: ready after a moment, listening on a port it picks, printing where.
const DEV_SERVER = `python3 -c 'import socket,time
time.sleep(0.5); s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen()
print("compiled in 512 ms", flush=True); print("ready on http://127.0.0.1:%d/" % s.getsockname()[1], flush=True)
time.sleep(300)'`;

// A test suite: 2,000 lines of passing tests, 3 failures among them, a summary, exit code 1.
const TEST_SUITE = `python3 -c 'import sys,time
time.sleep(0.3)
for i in range(1, 1998):
  print("ok %d - test_case_%d passes" % (i, i))
  if i in (400, 1200, 1900): print("FAIL test_case_%d: expected 2, got 3 (tests/case_%d.py:17)" % (i, i))
print("1997 passed, 3 failed"); sys.exit(1)'`;

const textOf = (r) => (r.content ?? []).map((c) => c.text ?? "").join("");

// Calls tools on a client, counting calls and result characters.
function counter(client) {
  const c = {
    calls: 0,
    chars: 0,
    async call(name, args) {
      const r = await client.callTool({ name, arguments: args });
      c.calls++;
      c.chars += textOf(r).length;
      if (r.isError) throw new Error(`${name}: ${textOf(r)}`);
      return r.structuredContent;
    },
  };
  return c;
}

// Polls get_job_output every 500 ms until `done` says so (how seed agents waited).
async function pollOutput(c, job_id, done) {
  for (;;) {
    const out = await c.call("get_job_output", { job_id });
    if (done(out)) return out;
    await sleep(500);
  }
}

/** Replays the workflows; `record(name, value, unit, target)` reports each figure. */
export async function replayWorkflows(startServer, record) {
  const s = await startServer();
  try {
    // 1. Dev server, the seed way: start, poll its output until it says ready, stop.
    let c = counter(s.client);
    let { job_id } = await c.call("execute_command", { command: DEV_SERVER });
    await pollOutput(c, job_id, (o) => /ready on/.test(o.stdout));
    await c.call("kill_job", { job_id });
    record("dev server, seed tools (start, poll output, kill): calls", c.calls, "calls");
    record("dev server, seed tools: result characters", c.chars, "chars");

    // ... and now: start and wait in one call, stop in one more.
    c = counter(s.client);
    const started = await c.call("execute_command", { command: DEV_SERVER, wait_until: "ready on", wait_seconds: 30 });
    if (!started.matched) throw new Error("dev server: not ready");
    const readyCalls = c.calls;
    await c.call("kill_job", { job_id: started.job_id });
    record("dev server, start+wait: calls until known ready", readyCalls, "calls", "1");
    record("dev server, start+wait: calls to stop it", c.calls - readyCalls, "calls", "1");
    record("dev server, start+wait: result characters", c.chars, "chars");

    // 2. Test suite, the seed way: start, poll status until it ends, read the output for failures.
    c = counter(s.client);
    ({ job_id } = await c.call("execute_command", { command: TEST_SUITE }));
    for (;;) {
      const st = await c.call("get_job_status", { job_id });
      if (st.status !== "running") break;
      await sleep(500);
    }
    await c.call("get_job_output", { job_id });
    record("test suite, seed tools (start, poll status, read output): calls", c.calls, "calls");
    record("test suite, seed tools: result characters", c.chars, "chars");

    // ... and now: run it to its end in one call (exit code and last lines), then search the failures.
    c = counter(s.client);
    const ran = await c.call("execute_command", { command: TEST_SUITE, wait_seconds: 50 });
    if (ran.exit_code !== 1) throw new Error(`test suite: exit code ${ran.exit_code}`);
    const found = await c.call("search_job_output", { job_id: ran.job_id, pattern: "^FAIL" });
    if (found.matches.length !== 3) throw new Error(`test suite: ${found.matches.length} failures found`);
    record("test suite, start+wait then search: calls to exit code and 3 failures", c.calls, "calls", "<= 2");
    record("test suite, start+wait then search: result characters", c.chars, "chars", "<= 800");
  } finally {
    await s.close();
  }
}
