import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import type { Confinement } from "../../domain/job-state.js";
import { LimitError, limitSupport, makeLimitCgroups } from "../../process/limits.js";
import { type ConfineAsk, ConfineError } from "../executor.js";
import { SHEPHERD_PATH } from "./shepherd-binary.js";

/** What this kernel lets a job be confined by, as the capture binary finds (asked once). */
let support: { landlock: number; seccomp: boolean } | undefined;
function sandboxSupport(): { landlock: number; seccomp: boolean } {
  if (support) return support;
  const out = spawnSync(SHEPHERD_PATH, ["--confine-probe"], { encoding: "utf8", timeout: 5000 }).stdout ?? "";
  support = {
    landlock: Number(/^landlock (\d+)$/m.exec(out)?.[1] ?? 0),
    seccomp: /^seccomp 1$/m.test(out),
  };
  return support;
}

/** A job's confinement as it will be enforced, and the lines that tell its capture process so. */
export interface ConfinePlan {
  confinement: Confinement;
  /** For the capture process (native/confine-linux.c); "" for nothing. */
  spec: string;
}

/**
 * Plans what confines a job: checks that each part can be had here (a ConfineError, saying what
 * is missing, before anything starts), makes the cgroups that hold its limits, and says what is
 * enforced and how. `v2Folder`: where jobs' own cgroup v2 cgroups are made, if anywhere.
 */
export function planConfinement(
  jobId: string,
  ask: ConfineAsk,
  cwd: string,
  v2Folder: string | undefined,
): ConfinePlan {
  const via: string[] = [];
  const lines: string[] = [];
  let writable: string[] = [];
  if (ask.sandbox !== "off" || !ask.network) {
    const can = sandboxSupport();
    if (ask.sandbox !== "off") {
      if (can.landlock < 1) {
        throw new ConfineError(
          "sandbox cannot be had here: it needs Landlock (Linux 5.13+, with landlock among the kernel's LSMs), which this kernel does not offer",
        );
      }
      writable = [...new Set(ask.sandbox === "workspace" ? [cwd, tmpdir(), ...ask.writable] : [tmpdir()])];
      const bad = writable.find((p) => p.includes("\n"));
      if (bad !== undefined) throw new ConfineError(`a writable path cannot hold a line break: ${JSON.stringify(bad)}`);
      via.push(`Landlock ABI ${can.landlock}${can.landlock >= 6 ? " (signals only to its own processes)" : ""}`);
      lines.push(`sandbox ${ask.sandbox}`, ...writable.map((p) => `write ${p}`));
    }
    if (!ask.network) {
      if (!can.seccomp)
        throw new ConfineError("network: false cannot be had here: it needs seccomp (Linux 3.5+ on x64 or arm64)");
      via.push("seccomp (no sockets but Unix and netlink ones)");
      lines.push("network 0");
    }
  }
  let cgroups: string[] = [];
  if (Object.values(ask.limits).some((v) => v !== null)) {
    try {
      const made = makeLimitCgroups(jobId, ask.limits, v2Folder);
      cgroups = made.cgroups;
      via.push(...made.via);
      // The v2 cgroup is the job's own, which it is born in: checked, not joined (a move costs).
      lines.unshift(...cgroups.map((dir) => (dir === made.v2 ? `in ${dir}` : `join ${dir}`)));
    } catch (err) {
      if (err instanceof LimitError) throw new ConfineError(err.message);
      throw err;
    }
  }
  return {
    confinement: { sandbox: ask.sandbox, network: ask.network, writable, limits: ask.limits, via, cgroups },
    spec: lines.length > 0 ? `${lines.join("\n")}\n` : "",
  };
}

/** What can confine a job here, in words (for `mcp-bg-jobs doctor`). */
export function confineFacts(v2Folder: string | undefined): { name: string; value: string }[] {
  const can = sandboxSupport();
  const limits = limitSupport(v2Folder);
  const limit = (name: string, how: string | undefined) => `${name} ${how ? `(${how})` : "refused"}`;
  return [
    {
      name: "sandbox",
      value:
        can.landlock > 0
          ? `workspace and read-only (Landlock ABI ${can.landlock})`
          : "refused: this kernel offers no Landlock (Linux 5.13+, landlock among the LSMs)",
    },
    {
      name: "network: false",
      value: can.seccomp ? "no sockets but Unix ones (seccomp)" : "refused: no seccomp filter",
    },
    {
      name: "limits",
      value: [
        limit("memory", limits.memory_bytes),
        limit("cpu", limits.cpu),
        limit("processes", limits.processes),
      ].join(", "),
    },
  ];
}
