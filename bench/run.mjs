#!/usr/bin/env node
// Benchmarks mcp-bg-jobs as a host uses it: the built binary, spoken to through the MCP SDK client
// over stdio. Each figure is the median of several runs; figures with a physical limit are printed
// as a ratio to that limit, measured in the same run. `--quick` makes a short smoke run (for CI).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { firstAnswerParts, goalFirstAnswer, goalIdle, goalKill, goalScale, goalSeq, goalStart } from "./goals.mjs";
import { benchHosts } from "./hosts.mjs";
import { benchPage } from "./page.mjs";
import { benchQueue } from "./queue.mjs";
import { median, ms, now, pct, shellMs } from "./timing.mjs";
import { replayWorkflows } from "./workflows.mjs";

const BIN = fileURLToPath(new URL("../dist/mcp-bg-jobs.mjs", import.meta.url));
const QUICK = process.argv.includes("--quick");
const RUNS = Number(process.argv.find((a) => a.startsWith("--runs="))?.slice(7) ?? (QUICK ? 1 : 3));
const FLOOD_BYTES = QUICK ? 50_000_000 : 1_000_000_000;
const SEQ_N = QUICK ? 1_000_000 : 20_000_000;
const MANY = QUICK ? 50 : 1000;
const CALLS = QUICK ? 50 : 500;

// Peak (VmHWM) or current (VmRSS) resident memory of a process, in MB.
function memMB(pid, field = "VmHWM") {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1]) / 1024;
}

// Starts the server and connects an SDK client to it.
async function startServer(env = {}) {
  const state = mkdtempSync(join(tmpdir(), "mcp-bg-bench-"));
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN],
    env: { ...process.env, MCP_BG_STATE_DIR: state, MCP_BG_MAX_JOBS: String(MANY + 50), ...env },
    stderr: "ignore",
  });
  const client = new Client({ name: "mcp-bg-jobs-bench", version: "1" });
  await client.connect(transport);
  // The first answer comes before the server has loaded (README: How it works), and the state is
  // opened after that: a first list_jobs waits for both, so what follows measures the server, not
  // its start (the sections first and start do).
  await client.callTool({ name: "list_jobs", arguments: {} });
  const call = async (name, args) => {
    const r = await client.callTool({ name, arguments: args });
    if (r.isError) throw new Error(`${name}: ${r.content?.[0]?.text}`);
    return r.structuredContent;
  };
  return {
    client,
    call,
    pid: transport.pid,
    async close() {
      await client.close();
      rmSync(state, { recursive: true, force: true });
    },
  };
}

// Pids of live processes whose MCP_BG_JOB_ID is one of `ids`.
function jobProcesses(ids) {
  const pids = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const m = /(?:^|\0)MCP_BG_JOB_ID=([^\0]*)/.exec(readFileSync(`/proc/${e}/environ`, "latin1"));
      if (m && ids.has(m[1])) pids.push(Number(e));
    } catch {}
  }
  return pids;
}

// Pids of the live children of a process.
function childrenOf(parent) {
  const kids = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "latin1");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === parent) kids.push(Number(e));
    } catch {}
  }
  return kids;
}

// Whether a process exists and is not a zombie.
function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
}

// Runs a command as a job and returns the ms from the call to the job's end (wait_for_job).
async function jobMs(s, command) {
  const t0 = now();
  const { job_id } = await s.call("execute_command", { command });
  const r = await s.call("wait_for_job", { job_id, timeout_seconds: 600 });
  if (r.status !== "completed") throw new Error(`${command}: ${r.status}`);
  return { ms: ms(t0), job_id };
}

const results = [];
const record = (name, value, unit, target, extra = {}) => {
  results.push({ name, value: Number(value.toFixed(2)), unit, target, ...extra });
  console.error(`  ${name}: ${value.toFixed(2)} ${unit}${target ? `  (target ${target})` : ""}`);
};

async function benchRoundTrip() {
  const s = await startServer();
  const times = [];
  for (let i = 0; i < CALLS; i++) {
    const t0 = now();
    await s.call("execute_command", { command: "true" });
    times.push(ms(t0));
  }
  record("execute_command round trip p50", median(times), "ms", "<= 5 ms");
  record("execute_command round trip p99", pct(times, 0.99), "ms", "<= 20 ms");
  // As an agent calls it: with a pause between calls (the server keeps a shepherd ready meanwhile).
  const paced = [];
  for (let i = 0; i < CALLS / 5; i++) {
    await new Promise((r) => setTimeout(r, 10));
    const t0 = now();
    await s.call("execute_command", { command: "true" });
    paced.push(ms(t0));
  }
  record("execute_command round trip p50, 10 ms between calls", median(paced), "ms");
  await s.close();
}

async function benchThroughput(label, command, targetRatio, memTarget) {
  const devnull = [];
  const cat = [];
  const ours = [];
  const peaks = [];
  for (let i = 0; i < RUNS; i++) {
    devnull.push(shellMs(`${command} > /dev/null`));
    cat.push(shellMs(`${command} | cat > /dev/null`));
    const s = await startServer({ MCP_BG_MAX_OUTPUT_SIZE: "10MB" });
    ours.push((await jobMs(s, command)).ms);
    peaks.push(memMB(s.pid));
    await s.close();
  }
  const o = median(ours);
  record(`${label}: until completed`, o, "ms", undefined, {
    devnull_ms: Number(median(devnull).toFixed(1)),
    cat_ms: Number(median(cat).toFixed(1)),
  });
  record(`${label}: ratio to | cat > /dev/null`, o / median(cat), "x", `<= ${targetRatio}x`);
  record(`${label}: ratio to > /dev/null`, o / median(devnull), "x");
  if (memTarget) record(`${label}: server peak RSS`, median(peaks), "MB", memTarget);
}

async function benchTail() {
  const s = await startServer({ MCP_BG_MAX_OUTPUT_SIZE: "10MB" });
  const { job_id } = await jobMs(s, "seq 1 3000000"); // ~21 MB: the 10 MB log is full
  const times = [];
  for (let i = 0; i < (QUICK ? 20 : 200); i++) {
    const t0 = now();
    await s.call("tail_job_output", { job_id, lines: 50 });
    times.push(ms(t0));
  }
  record("tail_job_output 50 lines of a full 10 MB log p50", median(times), "ms", "<= 3 ms");
  await s.close();
}

async function benchWaitLatency() {
  const s = await startServer();
  const lat = [];
  for (let i = 0; i < (QUICK ? 3 : 20); i++) {
    const { job_id } = await s.call("execute_command", {
      command:
        "python3 -c \"import time,sys; time.sleep(0.3); sys.stdout.write('READY %d\\n' % time.time_ns()); sys.stdout.flush(); time.sleep(30)\"",
    });
    const r = await s.call("wait_for_job", { job_id, until: "^READY", timeout_seconds: 30 });
    // Both clocks are the wall clock: the job's time.time_ns() and this process's timeOrigin + now().
    const arrivedMs = performance.timeOrigin + performance.now();
    lat.push(arrivedMs - Number(r.match.split(" ")[1]) / 1e6);
    await s.call("kill_job", { job_id, grace_seconds: 1 });
  }
  record("wait_for_job until: line written -> result p50", median(lat), "ms", "<= 10 ms");
  await s.close();
}

async function benchMany() {
  const s = await startServer();
  const ids = [];
  for (let i = 0; i < MANY; i++) ids.push((await s.call("execute_command", { command: "sleep 1000" })).job_id);
  const rss = memMB(s.pid, "VmRSS");
  const times = [];
  for (let i = 0; i < (QUICK ? 10 : 50); i++) {
    const t0 = now();
    await s.call("list_jobs", {});
    times.push(ms(t0));
  }
  record(`${MANY} sleeping jobs: server RSS`, rss, "MB", "<= 250 MB");
  record(`${MANY} sleeping jobs: list_jobs p50`, median(times), "ms", "<= 25 ms");
  const kills = [];
  for (let i = 0; i < (QUICK ? 5 : 20); i++) {
    const { job_id } = await s.call("execute_command", { command: "sleep 1000" });
    const t0 = now();
    await s.call("kill_job", { job_id });
    kills.push(ms(t0));
  }
  record(`kill_job with ${MANY} others running p50`, median(kills), "ms", "<= 20 ms + grace");
  // This server's processes: its shepherds (its children, the one kept ready included) and its jobs'.
  const mine = new Set([...childrenOf(s.pid), ...jobProcesses(new Set(ids))]);
  const t0 = now();
  await s.client.close();
  const deadline = Date.now() + 60_000;
  while ([...mine].some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  if ([...mine].some(alive)) throw new Error("shutdown left processes behind");
  record(`shutdown with ${MANY} jobs running, until every process is gone`, ms(t0), "ms", "<= 3000 ms");
}

// A sandboxed, limited start beside a plain one, interleaved on one server (issue: Governs what it
// runs): what Landlock, seccomp and the limits' cgroups add to a start.
async function benchConfine() {
  const s = await startServer();
  const n = QUICK ? 20 : 100;
  const kinds = {
    plain: {},
    "sandbox workspace + network false": { sandbox: "workspace", network: false },
    "memory, cpu, process limits": { memory_limit: "1GB", cpu_limit: 1, process_limit: 1000 },
    "all of them": { sandbox: "workspace", network: false, memory_limit: "1GB", cpu_limit: 1, process_limit: 1000 },
  };
  const times = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
  for (let i = 0; i < n; i++) {
    for (const [kind, args] of Object.entries(kinds)) {
      await new Promise((r) => setTimeout(r, 10));
      const t0 = now();
      const r = await s.call("execute_command", { command: "true", ...args });
      if (!r.job_id) throw new Error(`confine bench: ${kind}: ${JSON.stringify(r)}`);
      times[kind].push(ms(t0));
    }
  }
  const plain = median(times.plain);
  record("start with nothing confining it p50", plain, "ms");
  // Another call while a confined job rages: list_jobs, with nothing else running, then beside a fork
  // bomb held at 40 processes, a memory hog killed at 64 MB again and again, and a spinner at 1 core.
  const rages = {
    nothing: undefined,
    "a fork bomb under process_limit 40": { command: "b() { b & b & wait; }; while :; do b; done", process_limit: 40 },
    "a memory hog under memory_limit 64MB": {
      command: `while :; do python3 -c "b = bytearray(b'x') * (200 * 1024 * 1024)"; done`,
      memory_limit: "64MB",
    },
    "a spinner under cpu_limit 1": { command: "while :; do :; done", cpu_limit: 1 },
  };
  let quiet;
  for (const [what, job] of Object.entries(rages)) {
    const started = job ? await s.call("execute_command", job) : undefined;
    if (job && !started?.job_id) throw new Error(`confine bench: ${what}: ${JSON.stringify(started)}`);
    await new Promise((r) => setTimeout(r, 500));
    const lists = [];
    for (let i = 0; i < (QUICK ? 10 : 50); i++) {
      const t0 = now();
      await s.call("list_jobs", { limit: 10 });
      lists.push(ms(t0));
      await new Promise((r) => setTimeout(r, 10));
    }
    if (started) await s.call("kill_job", { job_id: started.job_id, grace_seconds: 0 });
    quiet ??= median(lists);
    record(`list_jobs p50 beside ${what}`, median(lists), "ms");
    if (job) record(`list_jobs beside ${what}: ratio to beside nothing`, median(lists) / quiet, "x", "<= 1.5x");
  }
  for (const kind of Object.keys(kinds).filter((k) => k !== "plain")) {
    record(`start with ${kind} p50`, median(times[kind]), "ms");
    record(`start with ${kind}: ratio to a plain start`, median(times[kind]) / plain, "x", "<= 1.5x");
  }
  await s.close();
}

async function benchColdStart() {
  const times = [];
  for (let i = 0; i < (QUICK ? 3 : 10); i++) {
    const t0 = now();
    const s = await startServer();
    await s.client.listTools();
    times.push(ms(t0));
    await s.close();
  }
  record("cold start to tools/list answer p50", median(times), "ms", "<= 250 ms");
}

// From spawning the server to its first answer (an initialize request written at once), against
// spawning `node -e 0` to its exit: some clients give the first answer 1 s.
async function benchFirstAnswer() {
  const { spawn } = await import("node:child_process");
  const ours = [];
  const floor = [];
  for (let i = 0; i < (QUICK ? 3 : 15); i++) {
    const state = mkdtempSync(join(tmpdir(), "mcp-bg-bench-"));
    let t0 = now();
    const p = spawn(process.execPath, [BIN], {
      env: { ...process.env, MCP_BG_STATE_DIR: state },
      stdio: ["pipe", "pipe", "ignore"],
    });
    p.stdin.write(
      `${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "bench", version: "1" } } })}\n`,
    );
    await new Promise((r) => p.stdout.once("data", r));
    ours.push(ms(t0));
    p.stdin.end();
    await new Promise((r) => p.on("close", r));
    rmSync(state, { recursive: true, force: true });
    t0 = now();
    await new Promise((r) => spawn(process.execPath, ["-e", "0"]).on("close", r));
    floor.push(ms(t0));
  }
  record("process start to first answer (initialize) p50", median(ours), "ms", "< 1000 ms on a busy machine", {
    node_e_0_ms: Number(median(floor).toFixed(1)),
  });
  record("process start to first answer: ratio to node -e 0", median(ours) / median(floor), "x");
}

// One spawn of `sh -c true` from this Node process, until its pid is known (fork + exec), in ms.
async function bareSpawnMs() {
  const { spawn } = await import("node:child_process");
  const t0 = now();
  const p = spawn("/bin/sh", ["-c", "true"], { stdio: "ignore" });
  await new Promise((r, j) => p.once("spawn", r).once("error", j));
  const t = ms(t0);
  await new Promise((r) => p.once("close", r));
  return t;
}

// A start through the server (execute_command until its answer: the job's pid known), paced and 200 at
// once, against the floor: one `spawn` from Node, in this process, the same way. The server forks no
// Node process for a start: its resident spawner forks the shepherd.
async function benchSpawn() {
  const s = await startServer();
  const n = QUICK ? 20 : 100;
  const paced = [];
  const floorPaced = [];
  for (let i = 0; i < n; i++) {
    await new Promise((r) => setTimeout(r, 10));
    let t0 = now();
    await s.call("execute_command", { command: "true" });
    paced.push(ms(t0));
    await new Promise((r) => setTimeout(r, 10));
    t0 = now();
    floorPaced.push(await bareSpawnMs());
  }
  const burst = QUICK ? 50 : 200;
  const bursts = [];
  const floorBursts = [];
  const cpu = [];
  const floorCpu = [];
  for (let r = 0; r < RUNS; r++) {
    const ticks0 = cpuTicks(s.pid);
    let t0 = now();
    await Promise.all(Array.from({ length: burst }, () => s.call("execute_command", { command: "true" })));
    bursts.push(ms(t0) / burst);
    await new Promise((res) => setTimeout(res, 1000));
    // The server's CPU time (its own and its spawner's) for those starts and their ends.
    cpu.push(((cpuTicks(s.pid) - ticks0) * 1000) / hz / burst);
    const usage0 = process.cpuUsage();
    t0 = now();
    await Promise.all(Array.from({ length: burst }, () => bareSpawnMs()));
    floorBursts.push(ms(t0) / burst);
    const used = process.cpuUsage(usage0);
    floorCpu.push((used.user + used.system) / 1000 / burst);
  }
  const server = childrenOf(s.pid).map((pid) => readFileSync(`/proc/${pid}/comm`, "utf8").trim());
  record("start, paced (10 ms apart): execute_command p50", median(paced), "ms", "", {
    spawn_ms: Number(median(floorPaced).toFixed(2)),
  });
  record("start, paced: ratio to one spawn from Node", median(paced) / median(floorPaced), "x", "< 1");
  record(`start, ${burst} at once: ms per start`, median(bursts), "ms", "", {
    spawn_ms: Number(median(floorBursts).toFixed(2)),
  });
  record(
    `start, ${burst} at once: ratio to ${burst} spawns from Node`,
    median(bursts) / median(floorBursts),
    "x",
    "< 1",
  );
  record("start: the server's CPU per start (and its end)", median(cpu), "ms", "", {
    spawn_cpu_ms: Number(median(floorCpu).toFixed(2)),
  });
  record("start: CPU ratio to one spawn from Node (and its end)", median(cpu) / median(floorCpu), "x", "< 1");
  console.error(`  the server's child processes: ${server.join(", ")}`);
  await s.close();
}

// CPU time (user + system) of a process and its non-job children (the spawner), in clock ticks.
function cpuTicks(pid) {
  const ticks = (p) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "latin1");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return Number(f[11]) + Number(f[12]);
    } catch {
      return 0;
    }
  };
  const spawners = childrenOf(pid).filter((c) => {
    try {
      return readFileSync(`/proc/${c}/cmdline`, "latin1").includes("--spawner");
    } catch {
      return false;
    }
  });
  return ticks(pid) + spawners.reduce((a, c) => a + ticks(c), 0);
}

const hz = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

// Servers' CPU use (server and spawner) as % of one core each, over a quiet minute that starts 20 s
// after the last call (V8 collects and shrinks its heap for some seconds after activity).
async function idlePercent(servers) {
  const seconds = QUICK ? 5 : 60;
  await new Promise((r) => setTimeout(r, QUICK ? 3000 : 20_000));
  const before = servers.map((s) => cpuTicks(s.pid));
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const used = servers.map((s, i) => cpuTicks(s.pid) - (before[i] ?? 0));
  return (100 * used.reduce((a, b) => a + b, 0)) / hz / seconds / servers.length;
}

// Idle: servers with sleeping jobs and nothing asked of them, as % of one core each (server and spawner),
// over a quiet minute (20 s after the last call): one server with 200 jobs, and ten servers sharing one state dir with 20 jobs each.
async function benchIdle() {
  const measure = idlePercent;
  const one = await startServer();
  for (let i = 0; i < (QUICK ? 50 : 200); i++) await one.call("execute_command", { command: "sleep 100000" });
  record(`idle: one server, ${QUICK ? 50 : 200} sleeping jobs (% of a core)`, await measure([one]), "%", "< 0.1 %");
  await one.close();
  const state = mkdtempSync(join(tmpdir(), "mcp-bg-bench-"));
  const ten = [];
  for (let i = 0; i < 10; i++) ten.push(await startServer({ MCP_BG_STATE_DIR: state }));
  for (const s of ten) for (let i = 0; i < 20; i++) await s.call("execute_command", { command: "sleep 100000" });
  record(
    "idle: ten servers on one state dir, 20 jobs each (% of a core per server)",
    await measure(ten),
    "%",
    "< 0.1 %",
  );
  for (const s of ten) await s.client.close();
  rmSync(state, { recursive: true, force: true });
}

// Slurm: from execute_command to the job's first line reaching wait_for_job (submit to running, as an
// agent sees it), and from a line being written to wait_for_job's answer; against the same by hand
// (sbatch, then squeue every 100 ms until RUNNING; the output file read every 100 ms for the line).
// Needs root and Slurm's packages (scripts/slurm-cluster.sh starts a one-node cluster); skipped otherwise.
async function benchSlurm() {
  const script = fileURLToPath(new URL("../scripts/slurm-cluster.sh", import.meta.url));
  const have = ["slurmctld", "slurmd", "sbatch", "munged"].every(
    (c) => spawnSync("sh", ["-c", `command -v ${c}`]).status === 0,
  );
  if (!have || process.getuid?.() !== 0) {
    console.error("  slurm: skipped (needs root and slurmctld, slurmd, slurm-client, munge)");
    return;
  }
  const cluster = mkdtempSync(join(tmpdir(), "mcp-bg-bench-slurm-"));
  if (spawnSync(script, ["start", cluster], { stdio: "ignore", timeout: 60_000 }).status !== 0) {
    console.error("  slurm: skipped (the cluster did not start)");
    return;
  }
  const env = { ...process.env, SLURM_CONF: join(cluster, "slurm.conf") };
  const n = QUICK ? 3 : 10;
  try {
    const s = await startServer({ SLURM_CONF: env.SLURM_CONF, MCP_BG_EXECUTOR: "slurm" });
    const toRunning = [];
    const lineLatency = [];
    for (let i = 0; i < n; i++) {
      const t0 = now();
      const { job_id } = await s.call("execute_command", { command: "echo started; sleep 1; echo at $(date +%s%N)" });
      await s.call("wait_for_job", { job_id, until: "^started$", timeout_seconds: 60 });
      toRunning.push(ms(t0));
      const hit = await s.call("wait_for_job", { job_id, until: "^at ", timeout_seconds: 60 });
      lineLatency.push(Date.now() - Number(hit.match.slice(3)) / 1e6);
      await s.call("wait_for_job", { job_id, timeout_seconds: 60 });
    }
    await s.close();
    const handRunning = [];
    const handLine = [];
    const dir = mkdtempSync(join(tmpdir(), "mcp-bg-bench-hand-"));
    writeFileSync(join(dir, "job.sh"), "#!/bin/sh\necho started\nsleep 1\necho at $(date +%s%N)\n");
    for (let i = 0; i < n; i++) {
      const out = join(dir, `out-${i}`);
      const t0 = now();
      const id = spawnSync("sbatch", ["--parsable", `--output=${out}`, join(dir, "job.sh")], {
        env,
        encoding: "utf8",
      }).stdout.trim();
      for (;;) {
        const st = spawnSync("squeue", ["-h", "-j", id, "-o", "%T"], { env, encoding: "utf8" }).stdout.trim();
        if (st === "RUNNING" || st === "" || st === "COMPLETING") break;
        await new Promise((r) => setTimeout(r, 100));
      }
      handRunning.push(ms(t0));
      for (;;) {
        const m = /^at (\d+)$/m.exec(existsSync(out) ? readFileSync(out, "utf8") : "");
        if (m) {
          handLine.push(Date.now() - Number(m[1]) / 1e6);
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    rmSync(dir, { recursive: true, force: true });
    record("slurm: execute_command to the first line in wait_for_job p50", median(toRunning), "ms", "", {
      by_hand_sbatch_to_RUNNING_ms: Number(median(handRunning).toFixed(1)),
    });
    record("slurm: ratio to sbatch + squeue polled every 100 ms", median(toRunning) / median(handRunning), "x");
    record("slurm: a line written -> wait_for_job's answer p50", median(lineLatency), "ms", "", {
      by_hand_file_polled_every_100ms_ms: Number(median(handLine).toFixed(1)),
    });
  } finally {
    spawnSync(script, ["stop", cluster], { stdio: "ignore", timeout: 120_000 });
    rmSync(cluster, { recursive: true, force: true });
  }
}

const rev = spawnSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).stdout.trim();
const machine = `${cpus().length} cores (${cpus()[0]?.model}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
console.error(`mcp-bg-jobs bench ${QUICK ? "(quick)" : ""} on ${machine}, commit ${rev}`);
const SECTIONS = {
  workflows: () => replayWorkflows(startServer, record),
  hosts: () => benchHosts({ quick: QUICK, runs: RUNS, record }),
  page: () => benchPage(BIN, MANY, record),
  first: benchFirstAnswer,
  start: benchColdStart,
  roundtrip: benchRoundTrip,
  spawn: benchSpawn,
  confine: benchConfine,
  slurm: benchSlurm,
  idle: benchIdle,
  queue: () => benchQueue({ startServer, record, quick: QUICK, cpuPercent: idlePercent }),
  flood: () =>
    benchThroughput(
      `flood ${FLOOD_BYTES / 1e6} MB, no newlines`,
      `head -c ${FLOOD_BYTES} /dev/zero | tr '\\0' a`,
      1.3,
      "<= 100 MB",
    ),
  seq: () => benchThroughput(`seq 1 ${SEQ_N}`, `seq 1 ${SEQ_N}`, 1.3),
  // Issue 26's goals (bench/goals.mjs).
  "goal-start": () => goalStart({ startServer, record, bareSpawnMs, quick: QUICK }),
  "goal-kill": () => goalKill({ startServer, record, quick: QUICK }),
  "goal-first": async () => {
    await goalFirstAnswer({ bin: BIN, record, quick: QUICK });
    firstAnswerParts({ bin: BIN, record, quick: QUICK });
  },
  "goal-seq": () => goalSeq({ startServer, record, quick: QUICK }),
  "goal-idle": () => goalIdle({ startServer, record, cpuPercent: idlePercent }),
  "goal-scale": () => goalScale({ startServer, record, quick: QUICK }),
  tail: benchTail,
  wait: benchWaitLatency,
  many: benchMany,
};
// `--only=flood,many` runs some sections; by default all of them run.
const only = process.argv
  .find((a) => a.startsWith("--only="))
  ?.slice(7)
  .split(",");
for (const [name, run] of Object.entries(SECTIONS)) if (!only || only.includes(name)) await run();

const pad = (t, n) => String(t).padEnd(n);
console.log(`\n${pad("figure", 62)} ${pad("value", 12)} target`);
for (const r of results) console.log(`${pad(r.name, 62)} ${pad(`${r.value} ${r.unit}`, 12)} ${r.target ?? ""}`);
console.log(
  `\n${JSON.stringify({ date: new Date().toISOString(), commit: rev, machine, quick: QUICK, runs: RUNS, results }, null, 1)}`,
);
