import { join } from "node:path";
import type { JobEnd, JobState, LimitHit, Usage } from "../../domain/job-state.js";
import { bestEffort, log } from "../../log.js";
import { jobCgroup, jobCgroupsFolder, killCgroup, removeStaleCgroups } from "../../process/cgroups.js";
import { type KillTarget, killProcessTree, type TreeFinder } from "../../process/kill-tree.js";
import { readUsage, removeLimitCgroups, sweepLimitCgroups } from "../../process/limits.js";
import { isSameProcessAlive, processStartTime, resumeIfStopped, sameBoot } from "../../process/proc.js";
import type { TreeRoot } from "../../process/process-tree.js";
import { sendSignal } from "../../process/signals.js";
import { watchWrites } from "../../text/watch-writes.js";
import {
  asksConfinement,
  type Executor,
  type JobSpec,
  type KillOrder,
  type Observation,
  type Placement,
  type Started,
  type Starting,
} from "../executor.js";
import { readPidFile } from "../job-folder.js";
import { JobStdin } from "../job-stdin.js";
import { type ConfinePlan, planConfinement } from "./confine.js";
import { believedEnd, jobProcesses, observeLocal } from "./observe.js";
import { recoveredJob } from "./recover.js";
import { JobSupport } from "./shepherd-binary.js";
import { Spawner } from "./spawner.js";

/** What the local executor is set up with. */
export interface LocalSettings {
  /** Where jobs' folders are (`STATE_DIR/jobs`). */
  jobsDir: string;
  /** The environment jobs start from (the server's own). */
  env: NodeJS.ProcessEnv;
  /** Remaining output is drained for at most this long after a job's exit. */
  drainMs: number;
  /** Give each job a cgroup of its own where cgroup v2 allows. */
  cgroups: boolean;
  /** Looks for jobs' processes (in a worker, for a server: a look may block). */
  findTree: TreeFinder;
  /** A server starts jobs (and keeps a spawner); the command line only looks and kills. */
  server: boolean;
}

/**
 * Jobs on this machine, each under a shepherd (native/shepherd.c) forked by a resident spawner:
 * its output in ring files, its stdin through a FIFO, its processes found by cgroup, ancestry and
 * MCP_BG_JOB_ID, its life and end told by pid and start time and by its files.
 */
export class LocalExecutor implements Executor {
  readonly name = "local" as const;
  private readonly spawner: Spawner | undefined;
  private readonly stdin = new JobStdin();
  /** Whether jobs can run here (checked by a server at its start). */
  private readonly support = new JobSupport();
  /** Where jobs get a cgroup of their own, if this process may make them. */
  private readonly cgroupsFolder: string | undefined;
  /** Shepherds and main processes of the jobs this executor started and that still run. */
  private readonly live = new Map<string, { shepherd: number; main: number }>();

  constructor(private readonly settings: LocalSettings) {
    this.cgroupsFolder = settings.server && settings.cgroups ? jobCgroupsFolder() : undefined;
    if (settings.server) {
      this.support.check((reason) => log("warn", `${reason} (the server runs; every tool call answers with this)`));
    }
    if (settings.server && !this.support.reason) {
      this.spawner = new Spawner(settings.env);
      // Started now, off any request's path (it is what starts jobs: see Spawner).
      bestEffort("starting the spawner", () => this.spawner?.identity());
    }
  }

  private dirOf(job: JobState): string {
    return join(this.settings.jobsDir, job.id);
  }

  unavailable(): string | undefined {
    return this.support.reason;
  }

  prepare(job: JobState, spec: JobSpec): Starting {
    const spawner = this.spawner;
    if (!spawner) throw new Error("this process starts no jobs");
    const starter = spawner.identity();
    // Checked and its cgroups made before anything runs (a ConfineError says what is missing).
    const plan: ConfinePlan | undefined = asksConfinement(spec.confine)
      ? planConfinement(job.id, spec.confine, spec.cwd, this.cgroupsFolder)
      : undefined;
    return {
      starter,
      confinement: plan?.confinement ?? null,
      run: async (): Promise<Started> => {
        const launched = await spawner.start({
          jobId: job.id,
          dir: this.dirOf(job),
          capBytes: spec.capBytes,
          drainMs: this.settings.drainMs,
          pty: spec.pty,
          shell: spec.shell,
          cgroups: this.cgroupsFolder,
          confine: plan?.spec ?? "",
          banner: spec.banner,
          cwd: spec.cwd,
          command: spec.command,
          env: spec.env,
        });
        this.live.set(job.id, { shepherd: launched.shepherd.pid, main: launched.job.pid });
        void launched.ended.then(() => this.live.delete(job.id));
        return {
          placement: {
            process: launched.job,
            shepherd: launched.shepherd,
            cgroup: launched.cgroup,
            executorId: null,
            node: null,
          },
          ended: launched.ended,
        };
      },
      abandon: () => removeLimitCgroups(plan?.confinement.cgroups ?? []),
    };
  }

  observe(job: JobState, ownerGone: boolean): Observation {
    // A shepherd its job stopped is continued (its spawner does so at once, but a taken-over job's
    // spawner is gone): stopped, it would capture nothing and never report the end.
    if (sameBoot(job.bootId) && !this.ownLive(job)) resumeIfStopped(jobProcesses(job, this.dirOf(job))?.shepherd);
    return observeLocal(job, this.dirOf(job), ownerGone);
  }

  placementOf(job: JobState): Placement | undefined {
    const procs = readPidFile(this.dirOf(job));
    if (!procs) return undefined;
    return { process: procs.job, shepherd: procs.shepherd, cgroup: job.cgroup, executorId: null, node: null };
  }

  writtenEnd(job: JobState): JobEnd | undefined {
    return believedEnd(job, this.dirOf(job));
  }

  watchEnd(job: JobState, onChange: () => void): () => void {
    return watchWrites(this.dirOf(job), (name) => {
      if (name === "exit") onChange();
    });
  }

  processRoot(job: JobState): TreeRoot {
    return this.treeRoot(job);
  }

  /** Where a job's processes are to be found: its cgroup, its shepherd's descendants, its id. */
  private treeRoot(job: JobState): TreeRoot {
    // A pid and start time of another boot may name another process.
    return {
      jobId: job.id,
      // Until its processes are recorded, a record names the process that starts the job (the spawner,
      // the parent of every job's shepherd), not its shepherd: never a tree to walk.
      shepherd: sameBoot(job.bootId) && job.process ? (job.shepherd ?? undefined) : undefined,
      // As recorded from its shepherd's report; for a job whose start was never recorded (its
      // server died at that moment), the file its shepherd wrote, if it names a real job cgroup.
      cgroup: job.cgroup ?? jobCgroup(this.dirOf(job), job.id),
    };
  }

  // A job this executor started whose end its spawner has not reported: its shepherd and main
  // process are the spawner's descendants, not reaped yet, so their pids name them without a look
  // at the processes (which, done for each of a thousand jobs at a stop, can fall behind).
  private ownLive(job: JobState): { shepherd: number; main: number } | undefined {
    return this.spawner?.runs() ? this.live.get(job.id) : undefined;
  }

  // A stopped shepherd would never report the end a kill waits for: continued (its own: at once).
  private resume(job: JobState): void {
    const own = this.ownLive(job);
    if (own) sendSignal(own.shepherd, "SIGCONT");
    else resumeIfStopped(this.treeRoot(job).shepherd);
  }

  // The job's process group, if its number still means it: a group outlives its leader, but once
  // the leader's pid belongs to another process, the group is gone (0: reach it by its id only).
  private groupOf(job: JobState): number {
    const main = job.process;
    if (!main || !sameBoot(job.bootId)) return 0;
    if (this.ownLive(job)?.main === main.pid) return main.pid;
    const start = processStartTime(main.pid);
    return start === undefined || start === main.start ? main.pid : 0;
  }

  // Pids that cannot be these jobs': the shepherds and main processes of the other jobs this
  // executor runs (a kill's look at the processes need not read their environments).
  private othersThan(ids: ReadonlySet<string>): Set<number> {
    const pids = new Set<number>();
    for (const [id, p] of this.live) {
      pids.add(p.shepherd);
      if (!ids.has(id)) pids.add(p.main);
    }
    return pids;
  }

  kill(orders: readonly KillOrder[], signal: NodeJS.Signals, graceMs: number): Promise<void> {
    const ids = new Set(orders.map((o) => o.job.id));
    for (const o of orders) this.resume(o.job);
    const targets: KillTarget[] = orders.map((o) => ({
      ...this.treeRoot(o.job),
      pgid: this.groupOf(o.job),
      exited: o.exited,
    }));
    return killProcessTree(targets, signal, graceMs, () => this.othersThan(ids), this.settings.findTree);
  }

  async reapLeftovers(jobs: readonly JobState[]): Promise<void> {
    const roots = jobs.map((j) => this.treeRoot(j));
    for (const job of jobs) {
      const pgid = this.groupOf(job);
      if (pgid) sendSignal(-pgid, "SIGKILL");
    }
    for (const root of roots) if (root.cgroup) killCgroup(root.cgroup);
    for (const pid of (await this.settings.findTree(roots, new Set())).keys()) sendSignal(pid, "SIGKILL");
  }

  orderStop(jobs: readonly JobState[]): void {
    // SIGTERM to a shepherd is its order to end its job (native/shepherd.c: stop_job).
    for (const job of jobs) {
      const own = this.ownLive(job);
      const shepherd = this.treeRoot(job).shepherd;
      if (own) sendSignal(own.shepherd, "SIGTERM");
      else if (shepherd && isSameProcessAlive(shepherd.pid, shepherd.start)) sendSignal(shepherd.pid, "SIGTERM");
    }
  }

  killNow(jobs: readonly JobState[]): void {
    for (const job of jobs) {
      const pgid = this.groupOf(job);
      if (pgid) sendSignal(-pgid, "SIGKILL");
      const { cgroup } = this.treeRoot(job);
      if (cgroup) killCgroup(cgroup);
    }
  }

  writeInput(job: JobState, data: string): Promise<void> {
    return this.stdin.write(join(this.dirOf(job), "stdin"), data);
  }

  endInput(job: JobState): Promise<void> {
    return this.stdin.end(join(this.dirOf(job), "stdin"), {
      pid: job.shepherd?.pid ?? null,
      start: job.shepherd?.start ?? null,
    });
  }

  release(job: JobState): void {
    this.stdin.forget(join(this.dirOf(job), "stdin"));
    // Those that still hold processes (left behind, being killed) go at a later sweep.
    removeLimitCgroups(job.confinement?.cgroups ?? []);
  }

  usage(job: JobState): { usage: Usage; limitHit: LimitHit | null } | undefined {
    if (!sameBoot(job.bootId)) return undefined;
    // Its own cgroup, its limits' cgroups, and what its shepherd kept of the first once it removed it.
    const own = job.cgroup ?? jobCgroup(this.dirOf(job), job.id);
    const dirs = [own, ...(job.confinement?.cgroups ?? [])];
    return readUsage(
      [...new Set(dirs.filter((d): d is string => typeof d === "string"))],
      join(this.dirOf(job), "usage"),
    );
  }

  recoverFolder(id: string, opts: { ended?: boolean } = {}): JobState | undefined {
    return recoveredJob(this.settings.jobsDir, id, opts);
  }

  // The spawner continued if a job stopped it: it then continues the shepherds that were stopped
  // meanwhile (their SIGCHLD waits for it), and answers starts again.
  tend(): void {
    this.spawner?.resume();
  }

  sweep(running: (id: string) => boolean): void {
    if (this.cgroupsFolder) removeStaleCgroups(this.cgroupsFolder, running);
    sweepLimitCgroups(running);
  }

  close(): void {
    this.spawner?.close();
  }

  dispose(): void {
    this.spawner?.dispose();
  }
}
