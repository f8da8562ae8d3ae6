import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { killProcessTree } from "../../src/process/kill-tree.js";
import { isAlive, marker, processesMatching, waitFor } from "../support/helpers.js";
import { useJobFixture } from "../support/job-fixture.js";

const jobs = useJobFixture({ capBytes: 64 * 1024, drainMs: 200 });

// Starts a job whose command is built around a fresh marker; whatever carries the marker is killed after the test.
async function startTree(build: (mark: string) => string) {
  const mark = marker();
  jobs.killAfter(mark);
  return { mark, ...(await jobs.start(build(mark), { jobId: `job-${mark}` })) };
}

// A sleep whose argv[0] is `name`, so it can be found by /proc/PID/cmdline.
const namedSleep = (name: string) => `bash -c 'exec -a ${name} sleep 300'`;

const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");

function stat(pid: number): { ppid: number; pgrp: number; session: number } {
  const s = readFileSync(`/proc/${pid}/stat`, "latin1");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return { ppid: Number(f[1]), pgrp: Number(f[2]), session: Number(f[3]) };
}

// Whether a process ignores SIGTERM (bit 15 of SigIgn in /proc/PID/status).
function ignoresTerm(pid: number): boolean {
  const m = /^SigIgn:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, "latin1"));
  return m !== null && (BigInt(`0x${m[1]}`) & (1n << 14n)) !== 0n;
}

// Waits until the process named `name` (argv[0], after its exec) is running; returns its pid.
function execed(name: string): Promise<number> {
  return waitFor(() => {
    const pids = processesMatching(name).filter((p) => {
      try {
        return cmdline(p)[0] === name;
      } catch {
        return false;
      }
    });
    return pids.length === 1 ? pids[0] : undefined;
  }, 5000);
}

describe("killProcessTree", () => {
  it("escalates to SIGKILL after the grace period for a tree that ignores SIGTERM", async () => {
    const { mark, proc, target } = await startTree(
      (m) => `trap '' TERM; ${namedSleep(`${m}-a`)} & ${namedSleep(`${m}-b`)} & wait`,
    );
    const a = await execed(`${mark}-a`);
    const b = await execed(`${mark}-b`);
    const tree = [proc.pid, a, b];
    // The shepherd gets the command on its stdin, not in its arguments: it does not show the marker.
    const shepherd = stat(proc.pid).ppid;
    expect(processesMatching(mark).sort()).toEqual([...tree].sort());
    // Control: every process of the fixture really ignores SIGTERM.
    for (const pid of tree) expect(ignoresTerm(pid), `pid ${pid} ignores TERM`).toBe(true);

    const grace = 1000;
    const t0 = Date.now();
    await killProcessTree(target, "SIGTERM", grace);
    const elapsed = Date.now() - t0;

    expect(processesMatching(mark)).toEqual([]);
    for (const pid of tree) expect(isAlive(pid)).toBe(false);
    expect(elapsed).toBeLessThanOrEqual(grace + 1000);
    // SIGTERM did nothing, so it took the grace period and SIGKILL to end them.
    expect(elapsed).toBeGreaterThanOrEqual(grace - 50);
    expect(await proc.exited).toEqual({ code: null, signal: "SIGKILL", lost: false });
    // The shepherd exits on its own once it has written the end (a moment after its job: the kill
    // does not wait for it), and must not stay behind.
    await waitFor(() => !isAlive(shepherd), 5000);
  });

  it("ends a tree that obeys SIGTERM without waiting out the grace period", async () => {
    const { mark, proc, target } = await startTree((m) => `${namedSleep(`${m}-a`)} & ${namedSleep(`${m}-b`)} & wait`);
    await execed(`${mark}-a`);
    await execed(`${mark}-b`);
    expect(processesMatching(mark)).toHaveLength(3); // shell, two sleeps

    const t0 = Date.now();
    await killProcessTree(target, "SIGTERM", 20_000);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(processesMatching(mark)).toEqual([]);
    expect(await proc.exited).toEqual({ code: null, signal: "SIGTERM", lost: false });
  });

  describe("a setsid escapee that left the job's process group", () => {
    // The escapee and an in-group sibling; `trap` decides whether they ignore SIGTERM.
    async function escapeeTree(trap: string) {
      const t = await startTree((m) => `${trap} setsid ${namedSleep(`${m}-esc`)} & ${namedSleep(`${m}-in`)} & wait`);
      const escapee = await execed(`${t.mark}-esc`);
      const sibling = await execed(`${t.mark}-in`);
      // Control: the escapee really is out of the job's group and session; the sibling is in them.
      expect(stat(escapee).session).toBe(escapee);
      expect(stat(escapee).pgrp).not.toBe(t.proc.pid);
      expect(stat(sibling).pgrp).toBe(t.proc.pid);
      return { ...t, escapee, sibling };
    }

    it("is ended by killProcessTree with SIGTERM", async () => {
      const { mark, proc, target, escapee } = await escapeeTree("");
      const t0 = Date.now();
      await killProcessTree(target, "SIGTERM", 20_000);
      expect(Date.now() - t0).toBeLessThan(3000); // SIGTERM reached it: no escalation needed
      expect(isAlive(escapee)).toBe(false);
      expect(processesMatching(mark)).toEqual([]);
      expect((await proc.exited).signal).toBe("SIGTERM");
    });

    it("is ended by the SIGKILL escalation when it ignores SIGTERM", async () => {
      const { mark, target, escapee } = await escapeeTree("trap '' TERM;");
      expect(ignoresTerm(escapee)).toBe(true);
      const t0 = Date.now();
      await killProcessTree(target, "SIGTERM", 1000);
      expect(Date.now() - t0).toBeLessThanOrEqual(2000);
      expect(isAlive(escapee)).toBe(false);
      expect(processesMatching(mark)).toEqual([]);
    });

    it("survives a signal to the process group alone (negative control), and killProcessTree still finds it", async () => {
      const { mark, proc, target, escapee, sibling } = await escapeeTree("");
      process.kill(-proc.pid, "SIGKILL");
      expect((await proc.exited).signal).toBe("SIGKILL");
      // The sibling got the same group signal at the same moment: once it is gone, so would the escapee be.
      await waitFor(() => !isAlive(sibling), 5000);
      expect(isAlive(escapee)).toBe(true);
      expect(processesMatching(`${mark}-esc`)).toEqual([escapee]);

      // The main process is gone already; killProcessTree ends what it left behind.
      await killProcessTree(target, "SIGTERM", 1000);
      expect(isAlive(escapee)).toBe(false);
      expect(processesMatching(mark)).toEqual([]);
    });
  });

  it("with SIGKILL as the first signal kills at once, escapees included", async () => {
    const { mark, proc, target } = await startTree(
      (m) => `trap '' TERM; setsid ${namedSleep(`${m}-esc`)} & ${namedSleep(`${m}-in`)} & wait`,
    );
    const escapee = await execed(`${mark}-esc`);
    await execed(`${mark}-in`);
    expect(stat(escapee).pgrp).not.toBe(proc.pid);
    expect(processesMatching(mark)).toHaveLength(3); // shell, two sleeps

    const t0 = Date.now();
    await killProcessTree(target, "SIGKILL", 60_000);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(processesMatching(mark)).toEqual([]);
    expect(await proc.exited).toEqual({ code: null, signal: "SIGKILL", lost: false });
  });

  it("returns promptly for a job that has already ended and left nothing behind", async () => {
    const { proc, target } = await startTree(() => "true");
    expect((await proc.exited).code).toBe(0);
    const t0 = Date.now();
    await killProcessTree(target, "SIGTERM", 10_000);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
