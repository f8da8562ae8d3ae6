import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Harness, startServer } from "../support/harness.js";
import { isAlive, markedLoop, marker, processesMatching, waitFor } from "../support/helpers.js";
import { PORTABLE } from "../support/portable.js";

// Children that leave the job's process group and drop or change its MCP_BG_JOB_ID, rewrite their
// title over their environment, or double-fork into daemons: none may survive kill_job or the
// server's stop. Run with a cgroup per job (where this machine allows it) and without (ancestry:
// the shepherd is their subreaper).
//
// In portable mode (macOS's ways: no subreaper, no cgroups) a process is found by ancestry only while
// its parent lives, and after that only by its MCP_BG_JOB_ID: a kill looks before it signals, so a
// running job's ways out are ended; what a job left behind when it ended is ended if it kept its id.

/** A way out that a job's processes may try, showing `m` in its command line. */
interface Way {
  how: string;
  command: string;
  /** Without a subreaper: found once orphaned (it keeps MCP_BG_JOB_ID). */
  keepsId?: boolean;
  /** Its parent is gone from its first moment (double fork): without a subreaper, never in the job's tree. */
  bornOrphan?: boolean;
}

const escapes = (m: string): Way[] => [
  { how: "setsid with an empty environment", command: `setsid env -i ${markedLoop(m)} &` },
  {
    how: "setsid with another job's id",
    command: `MCP_BG_JOB_ID=00000000-0000-4000-8000-000000000000 setsid ${markedLoop(m)} &`,
  },
  {
    how: "a title written over its environment",
    // The mark joined in perl, so that only the renamed process shows it.
    command: `setsid perl -e '$0 = "${m.slice(0, 3)}" . "${m.slice(3)}" . ("x" x 3000); $SIG{TERM} = "IGNORE"; sleep 1 while 1' &`,
  },
  {
    how: "a daemon (double fork, setsid, no id)",
    command: `(setsid env -i ${markedLoop(m, "trap '' TERM; ")} &) ;`,
    bornOrphan: true,
  },
  { how: "setsid, keeping its id", command: `setsid ${markedLoop(m, "trap '' TERM; ")} &`, keepsId: true },
];

/** The ways out a kill must end: all on Linux; in portable mode, those it can find (see above). */
function catchable(ways: Way[], jobEnded: boolean): Way[] {
  if (!PORTABLE) return ways;
  const found = ways.filter((w) => (jobEnded ? w.keepsId : !w.bornOrphan));
  const lost = ways.filter((x) => !found.includes(x)).map((w) => `"${w.how}"`);
  const what = jobEnded ? "left behind by an ended job" : "of a running job";
  process.stderr.write(`skipped in portable mode (no subreaper, as on macOS), ways out ${what}: ${lost.join(", ")}\n`);
  return found;
}
const commands = (ways: Way[]) => ways.map((w) => w.command).join(" ");

// Root on a machine with a cgroup v2 hierarchy: jobs must get a cgroup of their own there.
const cgroupsExpected =
  !PORTABLE && process.getuid?.() === 0 && readFileSync("/proc/self/mountinfo", "utf8").includes(" - cgroup2 ");

const cgroupOf = (pid: number) => {
  try {
    return /^0::(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, "utf8"))?.[1] ?? "";
  } catch {
    return "";
  }
};

for (const cgroups of ["1", "0"]) {
  describe(`no process escapes a kill (MCP_BG_CGROUPS=${cgroups})`, () => {
    const servers: Harness[] = [];
    const marks: string[] = [];
    afterEach(async () => {
      for (const mk of marks.splice(0)) for (const pid of processesMatching(mk)) process.kill(pid, "SIGKILL");
      await Promise.all(servers.splice(0).map((s) => s.close()));
    });
    const server = async () => {
      const s = await startServer({ env: { MCP_BG_CGROUPS: cgroups } });
      servers.push(s);
      return s;
    };
    const mark = () => {
      const m = marker();
      marks.push(m);
      return m;
    };

    it("kill_job ends every way out, and the job's cgroup (where there is one) goes with it", async () => {
      const s = await server();
      const m = mark();
      const ways = catchable(escapes(m), false);
      const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: `${commands(ways)} sleep 300` });
      await waitFor(() => processesMatching(m).length === ways.length, 10_000);
      const cgroupFile = join(s.stateDir, "jobs", job_id, "cgroup");
      if (cgroups === "0") expect(existsSync(cgroupFile)).toBe(false);
      const inCgroup = existsSync(cgroupFile);
      if (cgroups === "1" && cgroupsExpected) expect(inCgroup).toBe(true);
      if (inCgroup) {
        const path = readFileSync(cgroupFile, "utf8").trim();
        for (const pid of processesMatching(m)) expect(path.endsWith(cgroupOf(pid))).toBe(true);
      }
      expect(await s.ok("kill_job", { job_id, grace_seconds: 1 })).toEqual({ status: "killed" });
      expect(processesMatching(m)).toEqual([]);
      if (inCgroup) {
        const path = readFileSync(cgroupFile, "utf8").trim();
        await waitFor(() => !existsSync(path), 5000);
      }
    });

    it("the server's stop ends every way out of its jobs, and of jobs that already ended (leftovers)", async () => {
      const s = await server();
      const m = mark();
      // One job that stays, one that ends at once and leaves its escapees behind.
      const running = catchable(escapes(m), false);
      const leftBehind = catchable(escapes(m), true);
      await s.ok("execute_command", { command: `${commands(running)} sleep 300` });
      const left = await s.ok<{ job_id: string }>("execute_command", { command: commands(leftBehind) });
      await waitFor(() => processesMatching(m).length === running.length + leftBehind.length, 10_000);
      expect(await s.ok("wait_for_job", { job_id: left.job_id })).toMatchObject({ status: "completed" });
      s.transport.close();
      await waitFor(() => !isAlive(s.pid), 15_000);
      await waitFor(() => processesMatching(m).length === 0, 5000);
    });

    it("kill_job on a job that has ended ends what it left behind, and answers already_terminated", async () => {
      const s = await server();
      const m = mark();
      const ways = catchable(escapes(m), true);
      const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: commands(ways) });
      await waitFor(() => processesMatching(m).length === ways.length, 10_000);
      expect(await s.ok("wait_for_job", { job_id })).toMatchObject({ status: "completed" });
      expect(await s.ok("kill_job", { job_id, grace_seconds: 1 })).toEqual({ status: "already_terminated" });
      expect(processesMatching(m)).toEqual([]);
    });
  });
}
