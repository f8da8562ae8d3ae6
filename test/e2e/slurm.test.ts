import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, runCli, startServer } from "../support/harness.js";
import { isAlive, tempDir, waitFor } from "../support/helpers.js";

// The tools on jobs that a real one-node Slurm cluster runs (scripts/slurm-cluster.sh starts it under
// a temporary directory and stops it afterwards). Needs root and Slurm's Debian packages, which
// `.ci/run` installs; without them these tests are skipped, saying so in one line.

const SCRIPT = new URL("../../scripts/slurm-cluster.sh", import.meta.url).pathname;
const hasSlurm = ["slurmctld", "slurmd", "sbatch", "munged"].every(
  (c) => spawnSync("sh", ["-c", `command -v ${c}`]).status === 0,
);
const canRun = hasSlurm && process.getuid?.() === 0;
if (!canRun)
  console.warn("slurm.test.ts: skipped: needs root and slurmctld, slurmd, slurm-client, munge (.ci/run installs them)");

interface Status {
  status: string;
  exit_code: number | null;
  signal: string | null;
  timed_out: boolean;
  lost: boolean;
  executor: string;
  slurm_job_id: string | null;
  hint?: string;
}

describe.skipIf(!canRun)("jobs on a Slurm cluster", () => {
  let cluster: string;
  let env: Record<string, string>;
  let s: Harness;
  const squeue = () =>
    execFileSync("squeue", ["-h", "-o", "%i %T"], { env: { ...process.env, ...env }, encoding: "utf8" }).trim();

  beforeAll(async () => {
    cluster = mkdtempSync(join(tmpdir(), "mcp-bg-slurm-"));
    execFileSync(SCRIPT, ["start", cluster], { stdio: ["ignore", "ignore", "inherit"], timeout: 150_000 });
    env = { SLURM_CONF: join(cluster, "slurm.conf") };
    s = await startServer({ env: { ...env, MCP_BG_EXECUTOR: "slurm" } });
  }, 180_000);

  afterAll(async () => {
    await s?.client.close();
    if (cluster) {
      spawnSync(SCRIPT, ["stop", cluster], { stdio: "ignore", timeout: 60_000 });
      rmSync(cluster, { recursive: true, force: true });
    }
  }, 90_000);

  const ended = (job_id: string) =>
    waitFor(async () => {
      const r = await s.ok<Status>("get_job_status", { job_id });
      return r.status !== "running" && r;
    }, 30_000);

  it("runs the command in its cwd with its env, and reads, waits on and ends it as a local job", async () => {
    const cwd = tempDir("mcp-bg-slurm-cwd-");
    try {
      const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
        command: 'echo "in $(pwd) with $GREETING"; echo to-stderr >&2; sleep 3; echo done',
        cwd: cwd.path,
        env: { GREETING: "a, b; c $d" },
      });
      const st = await s.ok<Status>("get_job_status", { job_id });
      expect(st).toMatchObject({ executor: "slurm", status: "running" });
      expect(st.slurm_job_id).toMatch(/^\d+$/);
      const hit = await s.ok<{ matched: boolean; match: string }>("wait_for_job", { job_id, until: "^in " });
      expect(hit).toMatchObject({ matched: true, match: `in ${cwd.path} with a, b; c $d` });
      // Where it runs, once the queue shows it running: this machine's node, and its pid there.
      const placed = await waitFor(async () => {
        const r = await s.ok<Status & { node: string | null; pid: number | null }>("get_job_status", { job_id });
        return (r.node !== null || r.status !== "running") && r;
      }, 10_000);
      expect(placed.status).toBe("running");
      expect(placed.node).toBe(execFileSync("hostname", ["-s"], { encoding: "utf8" }).trim());
      expect(placed.pid).toBeGreaterThan(1);
      expect(await ended(job_id)).toMatchObject({ status: "completed", exit_code: 0, signal: null });
      expect(await s.ok("get_job_output", { job_id })).toMatchObject({
        stdout: `in ${cwd.path} with a, b; c $d\ndone\n`,
        stderr: "to-stderr\n",
      });
      expect(await s.ok("tail_job_output", { job_id, lines: 1 })).toMatchObject({ stdout: "done" });
      expect(await s.ok("search_job_output", { job_id, pattern: "done" })).toMatchObject({ total_matches: 1 });
    } finally {
      cwd.remove();
    }
  });

  it("reports the program's own exit code (128 and more too) and the signal that ended it", async () => {
    for (const [command, code, signal] of [
      ["exit 3", 3, null],
      ["exit 143", 143, null],
      ["exit 128", 128, null],
      ["kill -USR1 $$", null, "SIGUSR1"],
    ] as const) {
      const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command });
      expect(await ended(job_id), command).toMatchObject({ status: "failed", exit_code: code, signal });
    }
  });

  it("kill_job passes the signal to the job, escalates after the grace, and returns once Slurm has let the job go", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: "trap 'echo got-term' TERM; echo ready; while :; do sleep 0.2; done",
    });
    await s.ok("wait_for_job", { job_id, until: "^ready$" });
    const slurmId = (await s.ok<Status>("get_job_status", { job_id })).slurm_job_id as string;
    expect(await s.ok("kill_job", { job_id, grace_seconds: 1 })).toEqual({ status: "killed" });
    expect(squeue().split("\n")).not.toContain(`${slurmId} RUNNING`);
    expect(squeue()).not.toContain(`${slurmId} COMPLETING`);
    expect(await s.ok<Status>("get_job_status", { job_id })).toMatchObject({ status: "killed" });
    expect(await s.ok("get_job_output", { job_id })).toMatchObject({ stdout: "ready\ngot-term\n" });
  });

  it("enforces timeout_seconds to the second, and says timed_out", async () => {
    const t0 = Date.now();
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: "sleep 300",
      timeout_seconds: 2,
    });
    expect(await ended(job_id)).toMatchObject({ status: "killed", timed_out: true });
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  it("takes input through interact_with_job (the cluster runs on this machine)", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: "echo ready; read line; echo got $line",
    });
    await s.ok("wait_for_job", { job_id, until: "^ready$" });
    const reply = await s.ok<{ stdout: string }>("interact_with_job", { job_id, input: "hello", wait_ms: 3000 });
    expect(reply.stdout).toBe("got hello\n");
    expect(await ended(job_id)).toMatchObject({ status: "completed", exit_code: 0 });
  });

  it("takes input through srun on the job's node (as for a job on another machine), and closes it with eof", async () => {
    const relay = await startServer({ env: { ...env, MCP_BG_EXECUTOR: "slurm", MCP_BG_SLURM_INPUT: "srun" } });
    try {
      const { job_id } = await relay.ok<{ job_id: string }>("execute_command", {
        command: "echo ready; read line; echo got $line; cat; echo eof-seen",
      });
      await relay.ok("wait_for_job", { job_id, until: "^ready$" });
      // Its node is known once the queue shows it running: the relay needs it.
      await waitFor(async () => (await relay.ok<{ node: string | null }>("get_job_status", { job_id })).node !== null);
      const reply = await relay.ok<{ stdout: string }>("interact_with_job", {
        job_id,
        input: "over srun",
        wait_ms: 5000,
      });
      expect(reply.stdout).toContain("got over srun");
      await relay.ok("interact_with_job", { job_id, input: "more", eof: true, wait_ms: 3000 });
      await relay.ok("wait_for_job", { job_id, until: "^eof-seen$" });
      expect(await relay.ok("get_job_output", { job_id })).toMatchObject({
        stdout: "ready\ngot over srun\nmore\neof-seen\n",
      });
    } finally {
      await relay.client.close();
    }
  });

  it("runs a pty job under a terminal its shepherd makes on the node, and talks to it", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: 'tty; printf "name? "; read name; printf "\\033[1mhello %s\\033[0m\\n" "$name"',
      pty: true,
    });
    await s.ok("wait_for_job", { job_id, until: "^/dev/pts/" });
    const reply = await s.ok<{ stdout: string }>("interact_with_job", { job_id, input: "slurm", wait_ms: 3000 });
    expect(reply.stdout).toContain("hello slurm");
    expect(reply.stdout).not.toContain("\u001b[");
    expect(await ended(job_id)).toMatchObject({ status: "completed", exit_code: 0 });
  });

  it("starts a Slurm job from the queue after another, with its env; a restart is Slurm's to do", async () => {
    const first = await s.ok<{ job_id: string }>("execute_command", { command: "sleep 1; echo first" });
    const next = await s.ok<{ job_id: string; status: string }>("execute_command", {
      command: 'echo "after, with $X"',
      env: { X: "its env" },
      after: [first.job_id],
    });
    expect(next.status).toBe("queued");
    const done = await waitFor(async () => {
      const r = await s.ok<Status>("get_job_status", { job_id: next.job_id });
      return r.status !== "running" && r.status !== "queued" && r;
    }, 60_000);
    expect(done).toMatchObject({ status: "completed", executor: "slurm" });
    expect(done.slurm_job_id).toMatch(/^\d+$/);
    expect(await s.ok("get_job_output", { job_id: next.job_id })).toMatchObject({ stdout: "after, with its env\n" });
    expect(await s.error("execute_command", { command: "true", restart: "always" })).toMatch(
      /restart applies to local jobs/,
    );
  });

  it("refuses an executor the server does not offer, with a clear error", async () => {
    const local = await startServer();
    try {
      expect(await local.error("execute_command", { command: "true", executor: "slurm" })).toMatch(
        /slurm executor is not configured/,
      );
    } finally {
      await local.client.close();
    }
  });

  it("a rejected submission (no such partition) is an error naming Slurm's reason, and leaves no job", async () => {
    const bad = await startServer({ env: { ...env, MCP_BG_EXECUTOR: "slurm", MCP_BG_SLURM_PARTITION: "nosuch" } });
    try {
      expect(await bad.error("execute_command", { command: "true" })).toMatch(/sbatch refused the job: .*partition/i);
      expect(await bad.ok("list_jobs", {})).toMatchObject({ total: 0 });
    } finally {
      await bad.client.close();
    }
  });

  it("kill_job on a job still waiting in the queue removes it from the queue", async () => {
    const later = await startServer({
      env: { ...env, MCP_BG_EXECUTOR: "slurm", MCP_BG_SLURM_SBATCH_ARGS: '["--begin=now+3600"]' },
    });
    try {
      const { job_id } = await later.ok<{ job_id: string }>("execute_command", { command: "echo never" });
      const st = await waitFor(async () => {
        const r = await later.ok<Status>("get_job_status", { job_id });
        return r.hint?.startsWith("Queued in Slurm") && r;
      }, 10_000);
      expect(st.hint).toMatch(/PENDING \(BeginTime\)/);
      expect(await later.ok("kill_job", { job_id })).toEqual({ status: "killed" });
      expect(squeue()).not.toContain(`${st.slurm_job_id} `);
      expect(await later.ok("get_job_output", { job_id })).toMatchObject({ stdout: "" });
    } finally {
      await later.client.close();
    }
  });

  it("a server that was SIGKILLed loses no Slurm job: the next one reports its end or kills it", async () => {
    const state = tempDir("mcp-bg-slurm-state-");
    try {
      const a = await startServer({ stateDir: state.path, env: { ...env, MCP_BG_EXECUTOR: "slurm" } });
      const quick = await a.ok<{ job_id: string }>("execute_command", { command: "sleep 2; exit 5" });
      const long = await a.ok<{ job_id: string }>("execute_command", { command: "echo up; sleep 300" });
      await a.ok("wait_for_job", { job_id: long.job_id, until: "^up$" });
      process.kill(a.pid, "SIGKILL");
      await waitFor(() => !isAlive(a.pid));
      const b = await startServer({ stateDir: state.path, env: { ...env, MCP_BG_EXECUTOR: "slurm" } });
      try {
        expect(await b.ok<Status>("get_job_status", { job_id: long.job_id })).toMatchObject({ status: "running" });
        const q = await waitFor(async () => {
          const r = await b.ok<Status>("get_job_status", { job_id: quick.job_id });
          return r.status !== "running" && r;
        }, 30_000);
        expect(q).toMatchObject({ status: "failed", exit_code: 5 });
        expect(await b.ok("kill_job", { job_id: long.job_id, grace_seconds: 1 })).toEqual({ status: "killed" });
      } finally {
        await b.client.close();
      }
    } finally {
      state.remove();
    }
  });

  it("the command line and another server list, read, wait on and kill Slurm jobs, with no Slurm setting of their own", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: "echo from-slurm; sleep 300" });
    await s.ok("wait_for_job", { job_id, until: "^from-slurm$" });
    const slurmId = (await s.ok<Status>("get_job_status", { job_id })).slurm_job_id as string;
    expect((await runCli(s.stateDir, ["list"], env)).stdout).toContain(job_id.slice(0, 8));
    // Another server on the same state dir, with no Slurm setting either, reads and waits on it too.
    const other = await startServer({ stateDir: s.stateDir, env });
    try {
      expect(await other.ok("get_job_output", { job_id })).toMatchObject({ stdout: "from-slurm\n", status: "running" });
      expect(await other.ok("wait_for_job", { job_id, until: "from" })).toMatchObject({ matched: true });
    } finally {
      await other.client.close();
    }
    expect(await runCli(s.stateDir, ["logs", job_id], env)).toMatchObject({ code: 0, stdout: "from-slurm\n" });
    expect(await runCli(s.stateDir, ["kill", job_id, "--grace", "1"], env)).toMatchObject({ code: 0 });
    expect(squeue()).not.toContain(`${slurmId} `);
    expect(await s.ok<Status>("get_job_status", { job_id })).toMatchObject({ status: "killed" });
  });

  it("a server's stop ends the Slurm jobs it owns", async () => {
    const own = await startServer({ env: { ...env, MCP_BG_EXECUTOR: "slurm" } });
    const { job_id } = await own.ok<{ job_id: string }>("execute_command", { command: "echo up; sleep 300" });
    await own.ok("wait_for_job", { job_id, until: "^up$" });
    const slurmId = (await own.ok<Status>("get_job_status", { job_id })).slurm_job_id as string;
    await own.client.close();
    await waitFor(() => !squeue().includes(`${slurmId} `), 30_000);
  });

  it("an unreachable controller is an error within Slurm's own time limits, and the server goes on answering", async () => {
    const conf = join(cluster, "unreachable.conf");
    writeFileSync(
      conf,
      readFileSync(join(cluster, "slurm.conf"), "utf8").replace(/^SlurmctldPort=.*$/m, "SlurmctldPort=9"),
    );
    const away = await startServer({ env: { SLURM_CONF: conf, MCP_BG_EXECUTOR: "slurm" } });
    try {
      const t0 = Date.now();
      const start = away.call("execute_command", { command: "true" });
      // Meanwhile, other calls are answered.
      const t1 = Date.now();
      await away.ok("list_jobs", {});
      expect(Date.now() - t1).toBeLessThan(2000);
      const r = await start;
      expect(r.isError).toBe(true);
      expect(r.content[0]?.text).toMatch(/sbatch refused the job: .*(contact|controller)/i);
      expect(Date.now() - t0).toBeLessThan(30_000);
      expect(await away.ok("list_jobs", {})).toMatchObject({ total: 0 });
    } finally {
      await away.client.close();
    }
  });

  it("a job that ends while the controller is down is reported ended, with its exit code", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: "echo up; sleep 2; exit 4" });
    await s.ok("wait_for_job", { job_id, until: "^up$" });
    const pid = Number(readFileSync(join(cluster, "slurmctld.pid"), "utf8"));
    process.kill(pid, "SIGKILL");
    try {
      expect(await ended(job_id)).toMatchObject({ status: "failed", exit_code: 4 });
    } finally {
      execFileSync("slurmctld", ["-f", join(cluster, "slurm.conf")], { env: { ...process.env, ...env } });
      await waitFor(() => spawnSync("sinfo", ["-h"], { env: { ...process.env, ...env } }).status === 0, 30_000);
    }
  });

  it("a job whose node is taken down is reported failed (by the signal that ended it, or lost), not running for ever", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: "echo up; sleep 300" });
    await s.ok("wait_for_job", { job_id, until: "^up$" });
    const node = execFileSync("hostname", ["-s"], { encoding: "utf8" }).trim();
    const slurmEnv = { ...process.env, ...env };
    execFileSync("scontrol", ["update", `nodename=${node}`, "state=down", "reason=mcp-bg-jobs-test"], {
      env: slurmEnv,
    });
    try {
      // Here its shepherd outlives the kill and writes down the signal that ended the program; a node
      // that dies whole takes the shepherd along, and then the end is lost (NODE_FAIL).
      const st = await ended(job_id);
      expect(st).toMatchObject({ status: "failed", exit_code: null });
      expect(st.lost || st.signal !== null).toBe(true);
    } finally {
      // (With ReturnToService=2 it may be back already: then this is refused, and that is fine.)
      spawnSync("scontrol", ["update", `nodename=${node}`, "state=resume"], { env: slurmEnv });
      await waitFor(
        () => execFileSync("sinfo", ["-h", "-N", "-o", "%t"], { env: slurmEnv, encoding: "utf8" }).trim() === "idle",
        30_000,
      );
    }
  });
});
