// Issue 26's goals, each a ratio to a floor measured in the same run, on the same machine, minutes
// apart at most: a start against an MCP ping plus one spawn from Node; a kill among 1,000 running
// jobs against the same kill among none; the first answer against a bare `node` printing one line
// (idle and with both cores busy); `seq` against `> /dev/null`; idle servers; and the same calls with
// 10,000 finished jobs and 50 servers on one state dir against 100 jobs and one server.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { median, ms, now, shellMs, sleep } from "./timing.mjs";

// One MCP ping, in ms.
async function pingMs(s) {
  const t0 = now();
  await s.client.ping();
  return ms(t0);
}

/** Goal 1: a start (execute_command until its answer) against an MCP ping plus one spawn from Node. */
export async function goalStart({ startServer, record, bareSpawnMs, quick }) {
  const s = await startServer();
  const n = quick ? 20 : 200;
  const starts = [];
  const pings = [];
  const spawns = [];
  for (let i = 0; i < n; i++) {
    await sleep(10);
    let t0 = now();
    await s.call("execute_command", { command: "true" });
    starts.push(ms(t0));
    await sleep(10);
    pings.push(await pingMs(s));
    await sleep(10);
    t0 = now();
    spawns.push(await bareSpawnMs());
  }
  const floor = median(pings) + median(spawns);
  record("goal start, paced: execute_command p50", median(starts), "ms", "", {
    ping_ms: Number(median(pings).toFixed(2)),
    spawn_ms: Number(median(spawns).toFixed(2)),
  });
  record("goal start, paced: ratio to ping + spawn", median(starts) / floor, "x", "<= 1.25x");
  // 200 at once: the time per start against 200 pings at once plus 200 spawns at once, per item.
  const burst = quick ? 50 : 200;
  const per = { starts: [], pings: [], spawns: [] };
  for (let r = 0; r < 3; r++) {
    let t0 = now();
    await Promise.all(Array.from({ length: burst }, () => s.call("execute_command", { command: "true" })));
    per.starts.push(ms(t0) / burst);
    await sleep(1000);
    t0 = now();
    await Promise.all(Array.from({ length: burst }, () => s.client.ping()));
    per.pings.push(ms(t0) / burst);
    t0 = now();
    await Promise.all(Array.from({ length: burst }, () => bareSpawnMs()));
    per.spawns.push(ms(t0) / burst);
    await sleep(500);
  }
  const burstFloor = median(per.pings) + median(per.spawns);
  record(`goal start, ${burst} at once: ms per start`, median(per.starts), "ms", "", {
    ping_ms: Number(median(per.pings).toFixed(2)),
    spawn_ms: Number(median(per.spawns).toFixed(2)),
  });
  record(`goal start, ${burst} at once: ratio to ping + spawn`, median(per.starts) / burstFloor, "x", "<= 1.25x");
  await s.close();
}

// kill_job p50 over `n` jobs of `sleep 1000`, each started and then killed.
async function killP50(s, n) {
  const kills = [];
  for (let i = 0; i < n; i++) {
    const { job_id } = await s.call("execute_command", { command: "sleep 1000" });
    await sleep(5);
    const t0 = now();
    const r = await s.call("kill_job", { job_id });
    kills.push(ms(t0));
    if (r.status !== "killed") throw new Error(`kill bench: ${JSON.stringify(r)}`);
  }
  return median(kills);
}

/** Goal 2: kill_job while 1,000 others run against the same kill with no other job. */
export async function goalKill({ startServer, record, quick }) {
  const many = quick ? 50 : 1000;
  const s = await startServer({ MCP_BG_MAX_JOBS: String(many + 50) });
  const n = quick ? 5 : 30;
  const alone = await killP50(s, n);
  for (let i = 0; i < many; i++) await s.call("execute_command", { command: "sleep 1000" });
  const among = await killP50(s, n);
  record("goal kill: kill_job p50, no other job", alone, "ms");
  record(`goal kill: kill_job p50, ${many} others running`, among, "ms");
  record(`goal kill: ratio, ${many} others to none`, among / alone, "x", "<= 1.25x");
  await s.close();
}

// ms from spawning `argv` until its first byte on stdout, writing `input` to its stdin at once.
async function firstByteMs(argv, env, input) {
  const t0 = now();
  const p = spawn(process.execPath, argv, { env, stdio: ["pipe", "pipe", "ignore"] });
  if (input) p.stdin.write(input);
  await new Promise((r) => p.stdout.once("data", r));
  const t = ms(t0);
  p.stdin.end();
  p.kill("SIGTERM");
  await new Promise((r) => p.on("close", r));
  return t;
}

// Busy loops on every core until stopped.
function busyCores() {
  const loops = cpus().map(() => spawn("/bin/sh", ["-c", "while :; do :; done"], { stdio: "ignore" }));
  return () => {
    for (const l of loops) l.kill("SIGKILL");
  };
}

const INITIALIZE = `${JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "bench", version: "1" } },
})}\n`;
const DISCOVER = `${JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "server/discover",
  params: {
    _meta: {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientInfo": { name: "bench", version: "1" },
      "io.modelcontextprotocol/clientCapabilities": {},
    },
  },
})}\n`;

/**
 * Goal 3: process start to the first answer (initialize, server/discover) against `node -e
 * "console.log(1)"` to its line, idle and with every core busy; then what each part the first answer
 * does not wait for costs to load, in a fresh `node` each (so it is said, not guessed).
 */
export async function goalFirstAnswer({ bin, record, quick }) {
  const n = quick ? 3 : 15;
  for (const busy of [false, true]) {
    const stop = busy ? busyCores() : () => {};
    try {
      const rows = { initialize: [], discover: [], floor: [] };
      for (let i = 0; i < n; i++) {
        for (const [what, input] of [
          ["initialize", INITIALIZE],
          ["discover", DISCOVER],
        ]) {
          const state = mkdtempSync(join(tmpdir(), "mcp-bg-bench-"));
          rows[what].push(await firstByteMs([bin], { ...process.env, MCP_BG_STATE_DIR: state }, input));
          rmSync(state, { recursive: true, force: true });
        }
        rows.floor.push(await firstByteMs(["-e", "console.log(1)"], process.env));
      }
      const when = busy ? "both cores busy" : "idle";
      const floor = median(rows.floor);
      for (const what of ["initialize", "discover"]) {
        record(`goal first answer (${what}), ${when} p50`, median(rows[what]), "ms", "", {
          node_console_log_ms: Number(floor.toFixed(1)),
        });
        record(
          `goal first answer (${what}), ${when}: ratio to node -e console.log`,
          median(rows[what]) / floor,
          "x",
          "<= 2x",
        );
      }
    } finally {
      stop();
    }
  }
}

// What loading one part costs, in ms, timed inside a fresh `node` (p50 of `n`): `code` is an ES module
// body that sets `t` when done.
function partMs(code, n, cwd) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const r = spawnSync(
      process.execPath,
      ["--input-type=module", "-e", `const t0 = performance.now(); let t; ${code}; console.log(t - t0);`],
      { cwd, encoding: "utf8" },
    );
    if (r.status !== 0) throw new Error(`first answer bench: ${r.stderr}`);
    times.push(Number(r.stdout.trim()));
  }
  return median(times);
}

/** What the first answer does not wait for, each part loaded on its own in a fresh node. */
export function firstAnswerParts({ bin, record, quick }) {
  const n = quick ? 3 : 10;
  const dist = dirname(bin);
  const root = dirname(dist);
  const main = readdirSync(join(dist, "chunks")).find((f) => f.startsWith("main-"));
  const state = mkdtempSync(join(tmpdir(), "mcp-bg-bench-"));
  const parts = {
    "the rest of the program (the MCP SDK, zod, the engine's code)": `await import(${JSON.stringify(join(dist, "chunks", main))}); t = performance.now()`,
    "SQLite (libsql loaded, a database opened)": `const { createRequire } = await import("node:module"); const D = createRequire(${JSON.stringify(`${root}/`)})("libsql"); new D(${JSON.stringify(join(state, "x.db"))}).exec("create table if not exists t (a)"); t = performance.now()`,
    "the workers (a thread started until it runs)": `const { Worker } = await import("node:worker_threads"); const w = new Worker(${JSON.stringify(join(dist, "worker.mjs"))}); await new Promise((r) => w.once("online", r)); t = performance.now(); w.terminate()`,
    "the terminal renderer (@xterm/headless)": `const { createRequire } = await import("node:module"); createRequire(${JSON.stringify(`${root}/`)})("@xterm/headless"); t = performance.now()`,
  };
  for (const [what, code] of Object.entries(parts))
    record(`first answer does not wait for: ${what}`, partMs(code, n, root), "ms");
  rmSync(state, { recursive: true, force: true });
}

/**
 * Goal 4: `seq 1 3000000` as a job until `completed` (execute_command, wait_for_job) against the same
 * command `> /dev/null` and `| cat > /dev/null`: the first job of a fresh server, and a job of a
 * server that has run one before. Every byte must be in the job's output (its ring file's count of
 * bytes written), and its last line `3000000`.
 */
export async function goalSeq({ startServer, record, quick }) {
  const n = quick ? 300_000 : 3_000_000;
  const command = `seq 1 ${n}`;
  const runs = quick ? 2 : 7;
  const bytes = Number(spawnSync("/bin/sh", ["-c", `${command} | wc -c`], { encoding: "utf8" }).stdout.trim());
  const floors = { devnull: [], cat: [] };
  const fresh = [];
  const warm = [];
  const env = { MCP_BG_MAX_OUTPUT_SIZE: "10MB" };
  // A job's run, checked: all its bytes counted in its ring, its last line the last number.
  const job = async (s, state) => {
    const t0 = now();
    const { job_id } = await s.call("execute_command", { command });
    const r = await s.call("wait_for_job", { job_id, timeout_seconds: 600 });
    const t = ms(t0);
    if (r.status !== "completed") throw new Error(`seq bench: ${r.status}`);
    const ring = readFileSync(join(state, "jobs", job_id, "stdout"));
    const written = Number(ring.readBigUInt64LE(16));
    if (written !== bytes) throw new Error(`seq bench: ${written} bytes captured of ${bytes}`);
    const tail = await s.call("tail_job_output", { job_id, lines: 1 });
    if (!JSON.stringify(tail).includes(`${n}`)) throw new Error(`seq bench: last line not ${n}`);
    return t;
  };
  for (let i = 0; i < runs; i++) {
    floors.devnull.push(shellMs(`${command} > /dev/null`));
    floors.cat.push(shellMs(`${command} | cat > /dev/null`));
    const state = mkdtempSync(join(tmpdir(), "mcp-bg-bench-"));
    const s = await startServer({ ...env, MCP_BG_STATE_DIR: state });
    fresh.push(await job(s, state));
    await s.close();
    rmSync(state, { recursive: true, force: true });
  }
  const state = mkdtempSync(join(tmpdir(), "mcp-bg-bench-"));
  const s = await startServer({ ...env, MCP_BG_STATE_DIR: state });
  await s.call("wait_for_job", { job_id: (await s.call("execute_command", { command: "true" })).job_id });
  for (let i = 0; i < runs; i++) warm.push(await job(s, state));
  await s.close();
  rmSync(state, { recursive: true, force: true });
  const devnull = median(floors.devnull);
  const extra = { devnull_ms: Number(devnull.toFixed(1)), cat_ms: Number(median(floors.cat).toFixed(1)), bytes };
  record(`goal seq: ${command}, a fresh server's first job, until completed`, median(fresh), "ms", "", extra);
  record(
    `goal seq: ${command}, a fresh server's first job: ratio to > /dev/null`,
    median(fresh) / devnull,
    "x",
    "<= 1.5x",
  );
  record(`goal seq: ${command}, a later job, until completed`, median(warm), "ms", "", extra);
  record(`goal seq: ${command}, a later job: ratio to > /dev/null`, median(warm) / devnull, "x", "<= 1.5x");
  record(`goal seq: ${command}, a later job: ratio to | cat > /dev/null`, median(warm) / median(floors.cat), "x");
}

/** Goal 5: servers sharing one state dir, each with sleeping jobs, quiet: % of a core per server. */
export async function goalIdle({ startServer, record, cpuPercent }) {
  const state = mkdtempSync(join(tmpdir(), "mcp-bg-bench-"));
  const servers = [];
  for (let i = 0; i < 5; i++) servers.push(await startServer({ MCP_BG_STATE_DIR: state }));
  for (const s of servers) for (let i = 0; i < 20; i++) await s.call("execute_command", { command: "sleep 100000" });
  // The floor beside it: a Node process that does nothing but keep a timer, measured over the same minute.
  const floor = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  const [per, idleNode] = await Promise.all([cpuPercent(servers), cpuPercent([{ pid: floor.pid }])]);
  floor.kill();
  record("goal idle: 5 servers of 20 jobs on one state dir, % of a core per server", per, "%", "<= 0.1 %", {
    node_with_a_1s_timer_percent: Number(idleNode.toFixed(3)),
  });
  for (const s of servers) await s.client.close();
  rmSync(state, { recursive: true, force: true });
}

// list_jobs, a start and a kill, p50 each, through one server.
async function calls(s, n) {
  const lists = [];
  const starts = [];
  const kills = [];
  for (let i = 0; i < n; i++) {
    await sleep(10);
    let t0 = now();
    await s.call("list_jobs", {});
    lists.push(ms(t0));
    await sleep(10);
    t0 = now();
    const { job_id } = await s.call("execute_command", { command: "sleep 1000" });
    starts.push(ms(t0));
    await sleep(10);
    t0 = now();
    await s.call("kill_job", { job_id });
    kills.push(ms(t0));
  }
  return { list: median(lists), start: median(starts), kill: median(kills) };
}

// Fills a server's history with `n` finished jobs (`true`), 50 at a time, each waited for.
async function history(s, n) {
  for (let i = 0; i < n; i += 50) {
    const ids = await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, () => s.call("execute_command", { command: "true" })),
    );
    await Promise.all(ids.map(({ job_id }) => s.call("wait_for_job", { job_id, timeout_seconds: 60 })));
  }
}

/** Goal 6: 10,000 finished jobs and 50 servers on one state dir against 100 finished jobs and one server. */
export async function goalScale({ startServer, record, quick }) {
  const n = quick ? 10 : 50;
  // The history kept is raised (500 finished jobs by default) for both, the same way.
  const keep = { MCP_BG_MAX_FINISHED: "20000" };
  const small = await startServer(keep);
  await history(small, 100);
  const base = await calls(small, n);
  await small.close();
  const state = mkdtempSync(join(tmpdir(), "mcp-bg-bench-"));
  const servers = [];
  for (let i = 0; i < (quick ? 5 : 50); i++) servers.push(await startServer({ ...keep, MCP_BG_STATE_DIR: state }));
  const jobs = quick ? 500 : 10_000;
  // The history is made by all the servers, as it would be.
  await Promise.all(servers.map((s) => history(s, jobs / servers.length)));
  const big = await calls(servers[0], n);
  for (const [what, label] of [
    ["list", "list_jobs"],
    ["start", "a start"],
    ["kill", "a kill"],
  ]) {
    record(`goal scale: ${label} p50, ${jobs} finished jobs and ${servers.length} servers`, big[what], "ms", "", {
      with_100_jobs_1_server_ms: Number(base[what].toFixed(2)),
    });
    record(`goal scale: ${label}, ratio to 100 jobs and 1 server`, big[what] / base[what], "x", "<= 1.5x");
  }
  for (const s of servers) await s.client.close();
  rmSync(state, { recursive: true, force: true });
}
