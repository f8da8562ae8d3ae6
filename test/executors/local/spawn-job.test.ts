import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { StartError } from "../../../src/executors/executor.js";
import { SHEPHERD_PATH } from "../../../src/executors/local/shepherd-binary.js";
import { readRing } from "../../../src/text/ring-file.js";
import { isAlive, marker, processesMatching, waitFor } from "../../support/helpers.js";
import { useJobFixture } from "../../support/job-fixture.js";

const jobs = useJobFixture({ capBytes: 1024 * 1024, drainMs: 500 });

// Fields of /proc/PID/stat after the command name: state, ppid, pgrp, session, ...
function stat(pid: number): { state: string; ppid: number; pgrp: number; session: number } {
  const s = readFileSync(`/proc/${pid}/stat`, "latin1");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return { state: f[0] as string, ppid: Number(f[1]), pgrp: Number(f[2]), session: Number(f[3]) };
}

const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0$/, "").split("\0");
const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
const stdoutText = () => readRing(jobs.path("stdout")).bytes.toString("utf8");
const stderrText = () => readRing(jobs.path("stderr")).bytes.toString("utf8");

describe("a shepherd forked by the spawner", () => {
  it("reports the pid of the job's shell, which leads its own process group", async () => {
    const mark = marker();
    const { proc } = await jobs.start(`sleep 30; : ${mark}`);
    expect(cmdline(proc.pid)).toEqual(["/bin/sh", "-c", `sleep 30; : ${mark}`]);
    const st = stat(proc.pid);
    expect(st.pgrp).toBe(proc.pid);
    // Its parent is the shepherd, which leads a session of its own (not ours); a pipe job shares
    // that session, so the scheduler treats job and reader as one group.
    expect(cmdline(st.ppid)[0]).toBe(SHEPHERD_PATH);
    expect(stat(st.ppid).pgrp).not.toBe(proc.pid);
    expect(stat(st.ppid).session).toBe(st.ppid);
    expect(st.session).toBe(st.ppid);
    expect(stat(st.ppid).session).not.toBe(stat(process.pid).session);
  });

  it("gives a PTY job a session of its own, with the terminal as its controlling tty", async () => {
    const { proc } = await jobs.start("sleep 30", { pty: { cols: 80, rows: 24 } });
    const st = stat(proc.pid);
    expect(st.session).toBe(proc.pid);
    expect(st.pgrp).toBe(proc.pid);
    expect(readlinkSync(`/proc/${proc.pid}/fd/0`)).toMatch(/^\/dev\/pts\//);
  });

  it("puts MCP_BG_JOB_ID in the job's environment but not in the shepherd's", async () => {
    const { jobId, proc } = await jobs.start("sleep 30");
    const shepherd = stat(proc.pid).ppid;
    expect(cmdline(shepherd)[0]).toBe(SHEPHERD_PATH);
    expect(environ(proc.pid)).toContain(`MCP_BG_JOB_ID=${jobId}`);
    expect(environ(shepherd).filter((e) => e.startsWith("MCP_BG_JOB_ID="))).toEqual([]);
    // Control: both carry the rest of the environment given.
    expect(environ(shepherd)).toContain(`PATH=${process.env.PATH}`);
    expect(environ(proc.pid)).toContain(`PATH=${process.env.PATH}`);
  });

  it("runs the command in the given cwd with the given environment", async () => {
    const { proc } = await jobs.start('printf "%s|%s" "$GREETING" "$PWD"', { env: { GREETING: "hi there" } });
    expect((await proc.exited).code).toBe(0);
    expect(stdoutText()).toBe(`hi there|${jobs.dir}`);
  });

  it("reports the exit code", async () => {
    const { proc } = await jobs.start("echo bye; exit 3");
    expect(await proc.exited).toEqual({ code: 3, signal: null, lost: false });
    expect(stdoutText()).toBe("bye\n");
    expect(readFileSync(jobs.path("exit"), "utf8")).toMatch(/^3 0 \d+\n$/);
  });

  it("reports exit code 0", async () => {
    const { proc } = await jobs.start("true");
    expect(await proc.exited).toEqual({ code: 0, signal: null, lost: false });
  });

  it("reports the signal that ended the job, with a null code", async () => {
    const { proc } = await jobs.start("kill -TERM $$");
    expect(await proc.exited).toEqual({ code: null, signal: "SIGTERM", lost: false });
    expect(readFileSync(jobs.path("exit"), "utf8")).toMatch(/^-1 15 \d+\n$/);
  });

  it("reports a signal sent from outside", async () => {
    const { proc } = await jobs.start("sleep 30");
    process.kill(proc.pid, "SIGKILL");
    expect(await proc.exited).toEqual({ code: null, signal: "SIGKILL", lost: false });
  });

  it("takes the end from the job's exit, not from its pipes closing", async () => {
    const mark = marker();
    jobs.killAfter(mark);
    const t0 = Date.now();
    // The background sleep inherits stdout and keeps it open for 30 s after the shell exits.
    const { proc } = await jobs.start(`bash -c 'exec -a ${mark} sleep 30' & echo started`);
    const exit = await proc.exited;
    const elapsed = Date.now() - t0;
    expect(exit).toEqual({ code: 0, signal: null, lost: false });
    expect(elapsed).toBeLessThan(5000);
    expect(stdoutText()).toBe("started\n");
    // Control: the holder of the job's stdout pipe is still alive, so its end could not have come from EOF.
    const [holder] = processesMatching(mark);
    expect(holder).toBeDefined();
    expect(isAlive(holder as number)).toBe(true);
    expect(readlinkSync(`/proc/${holder}/fd/1`)).toMatch(/^pipe:/);
  });

  it("passes what is written to the FIFO through to the job's stdin, and closes it on request", async () => {
    const { proc, stdin } = await jobs.start("cat");
    await stdin.write("hello\n");
    await waitFor(() => stdoutText() === "hello\n", 5000);
    await stdin.write(Buffer.from("wörld\n"));
    await waitFor(() => stdoutText() === "hello\nwörld\n", 5000);
    await stdin.end();
    expect(await proc.exited).toEqual({ code: 0, signal: null, lost: false });
    await expect(stdin.write("late\n")).rejects.toMatchObject({ code: "EPIPE" });
  });

  it("rejects writes to a job that closed its stdin, and goes on working", async () => {
    const { proc, stdin } = await jobs.start("exec 0<&-; sleep 30");
    // Wait until the job has closed its stdin and the shepherd has closed and removed the FIFO.
    await waitFor(() => !existsSync(`/proc/${proc.pid}/fd/0`), 5000);
    await waitFor(() => !existsSync(jobs.path("stdin")), 5000);

    await expect(stdin.write("anyone there?\n")).rejects.toMatchObject({ code: "EPIPE" });
    await expect(stdin.write("again\n")).rejects.toThrow();
    // The job and its shepherd are unaffected; its end is still reported.
    expect(isAlive(proc.pid)).toBe(true);
    process.kill(proc.pid, "SIGKILL");
    expect(await proc.exited).toEqual({ code: null, signal: "SIGKILL", lost: false });
  });

  it("rejects with a StartError when the shell does not exist", async () => {
    const mark = marker();
    const shell = `/nonexistent/${mark}/sh`;
    const err = await jobs.start("echo never", { jobId: mark, shell, capBytes: 4096 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StartError);
    expect((err as Error).message).toMatch(/No such file or directory/);
    // What the user can read: the reason in the job's stderr, and exit code 127.
    await waitFor(() => existsSync(jobs.path("exit")), 5000);
    expect(stderrText()).toBe(`mcp-bg-jobs: cannot run ${shell}: No such file or directory\n`);
    expect(readFileSync(jobs.path("exit"), "utf8")).toMatch(/^127 0 \d+\n$/);
    expect(stdoutText()).toBe("");
    // The shepherd does not linger.
    const shepherd = Number(readFileSync(jobs.path("shepherd"), "latin1").split(" ")[0]);
    await waitFor(() => !isAlive(shepherd), 5000);
  });

  it("rejects with a StartError when the shell is not executable", async () => {
    // The shell is a directory.
    const err = await jobs.start("echo never", { shell: jobs.dir, capBytes: 4096 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartError);
    expect((err as Error).message).toMatch(/Permission denied/);
  });

  it("rejects with a StartError when the working directory does not exist", async () => {
    const err = await jobs
      .start("echo never", { cwd: jobs.path("no-such-dir"), capBytes: 4096 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartError);
  });

  it("reports the end as lost when the shepherd dies before the job", async () => {
    const { proc } = await jobs.start("sleep 30");
    const shepherd = stat(proc.pid).ppid;
    expect(cmdline(shepherd)[0]).toBe(SHEPHERD_PATH);
    process.kill(shepherd, "SIGKILL");
    expect(await proc.exited).toEqual({ code: null, signal: null, lost: true });
    expect(isAlive(proc.pid)).toBe(true); // the job itself was not touched (afterEach ends it)
  });
});
