import { execFileSync } from "node:child_process";
import { arch } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { BIN, type Harness, startServer } from "../support/harness.js";
import { isAlive, markedLoop, marker, processesMatching, waitFor } from "../support/helpers.js";

// A job can name its capture process ($PPID) and the spawner above it, and send them signals or
// trace them as any process of its user can. None of that may make the job unkillable, its
// output unreadable, or its record wrong. (Found by a hostile review: `kill -STOP $PPID` made a
// kill answer `killing` after 50 s and left the record `running` after the server stopped.)

const servers: Harness[] = [];
const marks: string[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const m of marks.splice(0)) for (const pid of processesMatching(m)) process.kill(pid, "SIGKILL");
});

async function server(opts: Parameters<typeof startServer>[0] = {}): Promise<Harness> {
  const s = await startServer(opts);
  servers.push(s);
  return s;
}

/** The state letter of a process (R, S, T, Z, ...), or undefined if it is gone. */
function stateOf(pid: number): string | undefined {
  try {
    const stat = execFileSync("cat", [`/proc/${pid}/stat`], { encoding: "latin1" });
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return undefined;
  }
}

const parentOf = (pid: number) => {
  const stat = execFileSync("cat", [`/proc/${pid}/stat`], { encoding: "latin1" });
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
};

describe("a job that turns on its shepherd", () => {
  it("stopping its shepherd (and the spawner) neither hides its output nor holds up a kill or the next start", async () => {
    const s = await server();
    const m = marker();
    marks.push(m);
    // Stops its shepherd, then the spawner above it, then prints; each stop is seen to take.
    const { job_id, pid } = await s.ok<{ job_id: string; pid: number }>("execute_command", {
      command: `echo before; kill -STOP $PPID; spawner=$(cut -d' ' -f4 /proc/$PPID/stat); kill -STOP $spawner; echo "spawner $spawner"; echo after; ${markedLoop(m)}`,
    });
    const waited = await s.ok<{ matched: boolean; match: string }>("wait_for_job", {
      job_id,
      until: "^after$",
      timeout_seconds: 30,
    });
    expect(waited.matched).toBe(true);
    const out = await s.ok<{ stdout: string }>("get_job_output", { job_id });
    expect(out.stdout).toMatch(/^before\nspawner \d+\nafter\n/);
    const shepherd = parentOf(pid);
    expect(stateOf(shepherd)).not.toBe("T");
    // The next start goes through the spawner the job stopped.
    const next = await s.ok<{ job_id: string; status: string }>("execute_command", { command: "echo second" });
    expect((await s.ok<{ status: string }>("wait_for_job", { job_id: next.job_id, timeout_seconds: 30 })).status).toBe(
      "completed",
    );
    expect(await s.ok("kill_job", { job_id, grace_seconds: 2 })).toEqual({ status: "killed" });
    expect(await s.ok("get_job_status", { job_id })).toMatchObject({ status: "killed", signal: "SIGTERM" });
    expect(processesMatching(m)).toEqual([]);
  });

  it("stopping the spawner first and then its shepherd holds up neither the capture nor the next start", async () => {
    const s = await server();
    const m = marker();
    marks.push(m);
    // The spawner, stopped first, cannot continue the shepherd stopped after it (its SIGCHLD waits):
    // the server's look every 2 s continues the spawner, which then continues the shepherd.
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: `spawner=$(cut -d' ' -f4 /proc/$PPID/stat); kill -STOP $spawner; kill -STOP $PPID; echo after; ${markedLoop(m)}`,
    });
    const waited = await s.ok<{ matched: boolean }>("wait_for_job", { job_id, until: "^after$", timeout_seconds: 30 });
    expect(waited.matched).toBe(true);
    const next = await s.ok<{ job_id: string }>("execute_command", { command: "echo second" });
    expect((await s.ok<{ status: string }>("wait_for_job", { job_id: next.job_id, timeout_seconds: 30 })).status).toBe(
      "completed",
    );
    expect(await s.ok("kill_job", { job_id, grace_seconds: 2 })).toEqual({ status: "killed" });
    expect(processesMatching(m)).toEqual([]);
  });

  it("signals that would end its shepherd do not: the job is still captured, and ends by its own exit", async () => {
    const s = await server();
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command:
        "for sig in INT HUP QUIT USR1 ALRM TSTP TTIN TTOU PIPE VTALRM PROF XCPU XFSZ TRAP SYS ABRT BUS; do kill -$sig $PPID; done; sleep 0.2; echo still captured; exit 7",
    });
    const end = await s.ok<{ status: string; exit_code: number }>("wait_for_job", { job_id, timeout_seconds: 30 });
    expect(end).toMatchObject({ status: "failed", exit_code: 7 });
    expect((await s.ok<{ stdout: string }>("get_job_output", { job_id })).stdout).toBe("still captured\n");
    expect(await s.ok("get_job_status", { job_id })).toMatchObject({ lost: false });
  });

  it("SIGTERM to its shepherd is an order to end the job: SIGTERM to it, SIGKILL to all of it after 2 s", async () => {
    const s = await server();
    const m = marker();
    marks.push(m);
    // It ignores SIGTERM, and so does a process of it that left its group.
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: `trap 'echo got TERM' TERM; setsid ${markedLoop(m, "trap '' TERM; ")} & echo started; kill -TERM $PPID; while :; do sleep 0.1; done`,
    });
    await s.ok("wait_for_job", { job_id, timeout_seconds: 45 });
    expect(await s.ok("get_job_status", { job_id })).toMatchObject({ status: "failed", signal: "SIGKILL" });
    expect((await s.ok<{ stdout: string }>("get_job_output", { job_id })).stdout).toMatch(/^started\ngot TERM\n/);
    await waitFor(() => processesMatching(m).length === 0);
  });

  it("a shepherd stopped after its server died is continued by the next server's kill: the end is recorded", async () => {
    const first = await server();
    const m = marker();
    marks.push(m);
    const { job_id, pid } = await first.ok<{ job_id: string; pid: number }>("execute_command", {
      command: `trap : TERM; ${markedLoop(m, "trap : TERM; ")}`,
      name: "orphan",
    });
    await waitFor(() => processesMatching(m).length === 1);
    const shepherd = parentOf(pid);
    const spawner = parentOf(shepherd);
    process.kill(first.pid, "SIGKILL");
    await waitFor(() => !isAlive(first.pid));
    // Its spawner dies with its server (once it sees the server gone: on a busy machine, a while
    // after; until then it would continue the shepherd): then nothing continues it but the next server.
    await waitFor(() => {
      const st = stateOf(spawner);
      return st === undefined || st === "Z";
    });
    process.kill(shepherd, "SIGSTOP");
    await waitFor(() => stateOf(shepherd) === "T");
    const second = await server({ stateDir: first.stateDir });
    expect(await second.ok("kill_job", { job_id, grace_seconds: 1 })).toEqual({ status: "killed" });
    expect(await second.ok("get_job_status", { job_id })).toMatchObject({ status: "killed", signal: "SIGKILL" });
    expect(processesMatching(m)).toEqual([]);
  });

  it("a job without CAP_SYS_PTRACE cannot trace its shepherd, though it can trace its own processes", async () => {
    const nr = arch() === "arm64" ? 117 : arch() === "x64" ? 101 : undefined;
    if (nr === undefined) return;
    // The server without CAP_SYS_PTRACE (root has it; any other user has not): as for any user.
    const s = await server({
      command: ["setpriv", "--bounding-set=-sys_ptrace", "--inh-caps=-sys_ptrace", process.execPath, BIN],
    });
    // PTRACE_ATTACH (16) through perl's syscall(): "attached", or "refused: <errno text>".
    const attach = (target: string) =>
      `perl -e '$r = syscall(${nr}, 16, $ARGV[0] + 0, 0, 0); print $r == 0 ? "attached\\n" : "refused: $!\\n"' ${target}`;
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: `sleep 300 & child=$!; ${attach("$child")}; kill -9 $child; ${attach("$PPID")}`,
    });
    await s.ok("wait_for_job", { job_id, timeout_seconds: 30 });
    const { stdout } = await s.ok<{ stdout: string }>("get_job_output", { job_id });
    // The negative control first: tracing works where it is allowed.
    expect(stdout).toMatch(/^attached\nrefused: Operation not permitted\n$/);
  });
});
