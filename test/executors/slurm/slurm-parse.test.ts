import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { endOf, queueOf, sbatchArgs, sbatchId, unknownJob } from "../../../src/executors/slurm/slurm-parse.js";

// Output recorded from the real cluster scripts/slurm-cluster.sh starts (Slurm 22.05, Debian 12); the
// end-to-end test drives the same commands live. Error fixtures hold stderr, then "exit N".
const FIXTURES = fileURLToPath(new URL("../../support/fixtures/slurm/", import.meta.url));
const fixture = (name: string) => readFileSync(join(FIXTURES, `${name}.txt`), "utf8");

describe("queueOf (squeue -h --states=all -o '%i|%T|%N|%r')", () => {
  it("keeps the jobs still on the queue, with node and reason, and drops the ended ones", () => {
    const queue = queueOf(fixture("squeue-states-all"));
    expect([...queue.keys()].sort()).toEqual(["1", "4"]);
    expect(queue.get("1")).toEqual({ id: "1", state: "RUNNING", node: "vm", reason: "None" });
    expect(queue.get("4")).toEqual({ id: "4", state: "PENDING", node: "", reason: "JobHeldUser" });
  });

  it("reads nothing from empty output or stray lines", () => {
    expect(queueOf("").size).toBe(0);
    expect(queueOf("\n\nnot a line\n").size).toBe(0);
  });

  it("keeps COMPLETING: the job has not left its node", () => {
    expect(queueOf("9|COMPLETING|vm|None\n").get("9")?.state).toBe("COMPLETING");
  });
});

describe("endOf (scontrol show job -o)", () => {
  it("reads an exit code", () => {
    expect(endOf(fixture("scontrol-exit-3"))).toEqual({
      code: 3,
      signal: null,
      state: "FAILED",
      reason: "NonZeroExitCode",
    });
  });

  it("reads a signal, with no code", () => {
    expect(endOf(fixture("scontrol-signal-10"))).toEqual({
      code: null,
      signal: 10,
      state: "FAILED",
      reason: "JobLaunchFailure",
    });
  });

  it("reads a running job as 0:0 in state RUNNING (the caller looks at the state)", () => {
    expect(endOf(fixture("scontrol-running"))).toMatchObject({ code: 0, signal: null, state: "RUNNING" });
  });

  it("answers undefined for output without an ExitCode (a forgotten job)", () => {
    expect(endOf("")).toBeUndefined();
    expect(endOf(fixture("scontrol-unknown"))).toBeUndefined();
  });
});

describe("unknownJob", () => {
  it("recognises the controller's answer for a forgotten id, from squeue and scontrol", () => {
    expect(unknownJob(fixture("squeue-unknown"))).toBe(true);
    expect(unknownJob(fixture("scontrol-unknown"))).toBe(true);
  });

  it("does not take other failures for it", () => {
    expect(unknownJob(fixture("sbatch-bad-partition"))).toBe(false);
    expect(unknownJob("slurm_load_jobs error: Unable to contact slurm controller (connect failure)")).toBe(false);
  });
});

describe("sbatchId (sbatch --parsable)", () => {
  it("reads the id, with or without a cluster name", () => {
    expect(sbatchId(fixture("sbatch-parsable"))).toBe("5");
    expect(sbatchId("12;cluster\n")).toBe("12");
    expect(sbatchId("40_3\n")).toBe("40_3");
  });

  it("refuses anything else", () => {
    for (const out of ["", "\n", "Submitted batch job 5", "5 6", "-5", fixture("sbatch-bad-partition")]) {
      expect(sbatchId(out)).toBeUndefined();
    }
  });
});

describe("sbatchArgs", () => {
  const base = { jobId: "ab12", cwd: "/home/me/project", dir: "/data/jobs/ab12", extra: [] };

  it("names the job, fixes its folder and output, and ends with the batch script", () => {
    const args = sbatchArgs(base);
    expect(args).toEqual([
      "--parsable",
      "--job-name=mcpbg-ab12",
      "--no-requeue",
      "--chdir=/home/me/project",
      "--output=/data/jobs/ab12/slurm.out",
      "--open-mode=append",
      "--export=ALL",
      "/data/jobs/ab12/batch.sh",
    ]);
  });

  it("adds partition, account, time limit and extra options, each one argument, before the script", () => {
    const args = sbatchArgs({
      ...base,
      cwd: "/home/me/my project; rm -rf /",
      partition: "gpu",
      account: "lab",
      timeMinutes: 90,
      extra: ["--mem=4G", "--comment=a b"],
    });
    expect(args).toContain("--partition=gpu");
    expect(args).toContain("--account=lab");
    expect(args).toContain("--time=90");
    expect(args).toContain("--chdir=/home/me/my project; rm -rf /");
    expect(args.slice(-3)).toEqual(["--mem=4G", "--comment=a b", "/data/jobs/ab12/batch.sh"]);
  });

  it("leaves out the options that are not set", () => {
    const args = sbatchArgs({ ...base, partition: "", timeMinutes: 0 });
    expect(args.some((a) => a.startsWith("--partition") || a.startsWith("--time") || a.startsWith("--account"))).toBe(
      false,
    );
  });
});
