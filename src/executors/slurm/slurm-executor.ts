import { accessSync, constants, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import type { JobEnd, JobState } from "../../domain/job-state.js";
import { lostEnd } from "../../domain/job-state.js";
import { log } from "../../log.js";
import {
  confinesNothing,
  type Executor,
  type JobSpec,
  type KillOrder,
  type Observation,
  type Placement,
  StartError,
  type Starting,
} from "../executor.js";
import { readExitFile, readPidFile } from "../job-folder.js";
import { JobStdin } from "../job-stdin.js";
import { SlurmError, slurm, slurmDetached } from "./slurm-commands.js";
import { type InputRoute, SlurmInput } from "./slurm-input.js";
import { sbatchArgs, sbatchId } from "./slurm-parse.js";
import { SlurmQueueWatch, type Watched } from "./slurm-queue.js";

/** What the Slurm executor is configured with. */
export interface SlurmSettings {
  /** Where jobs' folders are (`STATE_DIR/jobs`): compute nodes must see it at the same path. */
  jobsDir: string;
  /** The environment jobs start from (the server's own); sbatch passes it on (--export=ALL). */
  env: NodeJS.ProcessEnv;
  /** The capture process, run as each job's batch script: compute nodes must see it at the same path. */
  shepherdPath: string;
  drainMs: number;
  partition: string | undefined;
  account: string | undefined;
  /** Slurm's own time limit for every job, in minutes; undefined for the partition's default. */
  timeMinutes: number | undefined;
  /** More sbatch options, each one argument (never a shell string). */
  sbatchArgs: readonly string[];
  /**
   * How input reaches a job: `auto` writes its FIFO here when it runs on this machine and through
   * `srun --overlap` on its node otherwise; `srun` and `fifo` always so.
   */
  input: InputRoute;
}

/** After a kill's SIGKILL, the longest wait for Slurm to say the job has left its node. */
const LEAVE_MS = 60_000;

// The batch script: runs the job under its shepherd, which writes output, pid and exit into the job's
// folder. What the job needs is passed in the environment (no quoting of the command anywhere).
const BATCH_SCRIPT = `#!/bin/sh
# mcp-bg-jobs: one job, run under its capture process (see native/shepherd.c).
set -- "$MCPBG_SHEPHERD" "$MCPBG_DIR" "$MCPBG_ID" "$MCPBG_CAP" "$MCPBG_DRAIN" "$MCPBG_PTY" "$MCPBG_COLS" "$MCPBG_ROWS" \
  "$MCPBG_SHELL" "$MCPBG_CMD"
unset MCPBG_SHEPHERD MCPBG_DIR MCPBG_ID MCPBG_CAP MCPBG_DRAIN MCPBG_PTY MCPBG_COLS MCPBG_ROWS MCPBG_SHELL MCPBG_CMD
# scancel --batch signals this process and the job's: the shepherd outlives the signal to write the end.
trap '' TERM INT HUP QUIT USR1
exec "$@"
`;

/**
 * Runs jobs as Slurm batch jobs: `sbatch` of a script that runs the job under its shepherd, in the
 * job's folder on a filesystem the compute nodes share. Output, pid and exit are the shepherd's files,
 * as for local jobs; the queue (`squeue`, every second while jobs are watched, never on a request's
 * path) says whether a job waits, runs, or has left its node; `scontrol` gives the end of a job that
 * left no exit file. Every Slurm command has a time limit: an unreachable controller is an error, not
 * a hang.
 */
export class SlurmExecutor implements Executor {
  readonly name = "slurm" as const;
  private readonly stdin = new JobStdin();
  private readonly queue: SlurmQueueWatch;
  private readonly input: SlurmInput;
  private hasSbatch = false;

  constructor(private readonly settings: SlurmSettings) {
    this.queue = new SlurmQueueWatch(settings.env, (job) => this.dirOf(job));
    this.input = new SlurmInput(
      settings,
      this.stdin,
      (job) => this.dirOf(job),
      (id) => this.queue.seen(id)?.node,
    );
  }

  private dirOf(job: JobState): string {
    return join(this.settings.jobsDir, job.id);
  }

  unavailable(): string | undefined {
    // Looked up on PATH until found (then kept: a start does not search PATH again).
    this.hasSbatch ||= (this.settings.env.PATH ?? "").split(delimiter).some((d) => {
      try {
        accessSync(join(d || ".", "sbatch"), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
    return this.hasSbatch
      ? undefined
      : "mcp-bg-jobs: the Slurm executor needs sbatch, squeue, scancel and scontrol on PATH";
  }

  prepare(job: JobState, spec: JobSpec): Starting {
    confinesNothing(spec, "a Slurm job's are Slurm's (MCP_BG_SLURM_SBATCH_ARGS: --mem, --cpus-per-task)");
    const dir = this.dirOf(job);
    return {
      starter: null,
      confinement: null,
      run: async () => {
        writeFileSync(join(dir, "batch.sh"), BATCH_SCRIPT, { mode: 0o700 });
        const s = this.settings;
        const args = sbatchArgs({
          jobId: job.id,
          cwd: spec.cwd,
          dir,
          partition: s.partition,
          account: s.account,
          timeMinutes: s.timeMinutes,
          extra: s.sbatchArgs,
        });
        const env = {
          ...s.env,
          ...spec.env,
          MCPBG_SHEPHERD: s.shepherdPath,
          MCPBG_DIR: dir,
          MCPBG_ID: job.id,
          MCPBG_CAP: String(spec.capBytes),
          MCPBG_DRAIN: String(s.drainMs),
          // A PTY job gets its terminal from its shepherd, on its node: no attached srun to keep alive.
          MCPBG_PTY: spec.pty ? "1" : "0",
          MCPBG_COLS: String(spec.pty?.cols ?? 80),
          MCPBG_ROWS: String(spec.pty?.rows ?? 24),
          MCPBG_SHELL: spec.shell,
          MCPBG_CMD: spec.command,
        };
        let out: string;
        try {
          out = await slurm("sbatch", args, env);
        } catch (err) {
          throw new StartError(`sbatch refused the job: ${(err as Error).message}`);
        }
        const slurmId = sbatchId(out);
        if (!slurmId) throw new StartError(`sbatch answered ${JSON.stringify(out.trim())}`);
        const placed: JobState = { ...job, executorId: slurmId };
        const watched = this.queue.watch(placed) as Watched;
        const ended = new Promise<JobEnd>((resolve) => {
          watched.settle = resolve;
        });
        const running = new Promise<Placement>((resolve) => {
          watched.placed = resolve;
        });
        return {
          placement: { process: null, shepherd: null, cgroup: null, executorId: slurmId, node: null },
          ended,
          placed: running,
        };
      },
      abandon: () => {},
    };
  }

  observe(job: JobState, ownerGone: boolean): Observation {
    // Its server died while submitting it: lost (reapLeftovers cancels what sbatch may have queued).
    if (!job.executorId) return ownerGone ? { state: "ended", end: lostEnd() } : { state: "starting" };
    const end = this.queue.endOf(job.executorId);
    if (end) return { state: "ended", end };
    const written = this.writtenEnd(job);
    if (written) return { state: "ended", end: written };
    this.queue.watch(job);
    return { state: "running" };
  }

  placementOf(job: JobState): Placement | undefined {
    if (!job.executorId) return undefined;
    const procs = readPidFile(this.dirOf(job));
    const node = this.queue.seen(job.executorId)?.node || null;
    return {
      process: procs?.job ?? null,
      shepherd: procs?.shepherd ?? null,
      cgroup: null,
      executorId: job.executorId,
      node,
    };
  }

  writtenEnd(job: JobState): JobEnd | undefined {
    if (!job.executorId) return undefined;
    const known = this.queue.endOf(job.executorId);
    if (known) return known;
    // Believed once the queue, looked at lately, no longer shows the job: a job can write into its folder.
    return this.queue.leftLately(job) ? readExitFile(this.dirOf(job)) : undefined;
  }

  watchEnd(job: JobState, onChange: () => void): () => void {
    const w = this.queue.watch(job);
    if (!w) return () => {};
    w.listeners.add(onChange);
    return () => w.listeners.delete(onChange);
  }

  /** Queue state of a job in words, while it waits (`PENDING (Priority)`); undefined once it runs. */
  waiting(job: JobState): string | undefined {
    const q = job.executorId ? this.queue.seen(job.executorId) : undefined;
    return q && q.state === "PENDING" ? `${q.state} (${q.reason})` : undefined;
  }

  async kill(orders: readonly KillOrder[], signal: NodeJS.Signals, graceMs: number): Promise<void> {
    await Promise.all(orders.map((o) => this.killOne(o, signal, graceMs)));
  }

  private async killOne(order: KillOrder, signal: NodeJS.Signals, graceMs: number): Promise<void> {
    const id = order.job.executorId;
    if (!id) return;
    const env = this.settings.env;
    const w = this.queue.watch(order.job);
    await this.queue.poll();
    const q = this.queue.seen(id);
    // A job that has just left the queue is no error.
    const quietly = (p: Promise<unknown>) =>
      p.catch((err: unknown) => {
        if (!/invalid job id/i.test(String(err))) log("warn", `scancel ${id}`, err);
      });
    if (q?.state === "PENDING" || signal === "SIGKILL") {
      // Not started yet (or no grace asked for): out of the queue, or off its node, at once.
      if (w) w.hardKilled = true;
      await quietly(slurm("scancel", ["--full", "--signal=KILL", id], env));
      await quietly(slurm("scancel", [id], env));
    } else {
      // To the batch step's processes: the job's (the shepherd ignores it, to write the job's end down).
      await quietly(slurm("scancel", ["--batch", `--signal=${signal.replace(/^SIG/, "")}`, id], env));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([order.exited, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
      if (w) w.hardKilled = true;
      await quietly(slurm("scancel", ["--full", "--signal=KILL", id], env));
      await quietly(slurm("scancel", [id], env));
    }
    // Gone means gone from its node: Slurm's CANCELLED comes while processes may still be dying.
    const until = Date.now() + LEAVE_MS;
    while (w && this.queue.isWatched(order.job.id) && Date.now() < until && !this.queue.closed) {
      await new Promise((r) => setTimeout(r, 200));
      await this.queue.poll();
    }
  }

  async reapLeftovers(jobs: readonly JobState[]): Promise<void> {
    for (const job of jobs)
      await slurm("scancel", cancelTarget(job), this.settings.env).catch((err) =>
        log("debug", "scancel of leftovers", err),
      );
  }

  /** Slurm carries a kill through by itself once scancel has it: nothing to hand over. */
  orderStop(): void {}

  killNow(jobs: readonly JobState[]): void {
    for (const job of jobs) slurmDetached("scancel", cancelTarget(job), this.settings.env);
  }

  /** Its processes run on the job's node, not here. */
  processRoot(): undefined {
    return undefined;
  }

  writeInput(job: JobState, data: string): Promise<void> {
    return this.input.write(job, data);
  }

  endInput(job: JobState): Promise<void> {
    return this.input.end(job);
  }

  release(job: JobState): void {
    this.stdin.forget(join(this.dirOf(job), "stdin"));
  }

  usage = () => undefined; // on its node, in Slurm's accounting (sacct)

  recoverFolder(_id: string): JobState | undefined {
    return undefined;
  }
  sweep(_running: (id: string) => boolean): void {}
  tend(): void {}

  /** Starts no more jobs. (The queue is still looked at: a stop's kills wait on it; its timer does not hold the process.) */
  close(): void {}

  /** Stops looking at the queue. */
  dispose(): void {
    this.queue.dispose();
  }
}

export { SlurmError };

// What scancel is given for a job: its Slurm id, or, for one whose submission never came back (its
// server died during sbatch) and that may be queued all the same, unrecorded, its name.
const cancelTarget = (job: JobState) => (job.executorId ? [job.executorId] : [`--name=mcpbg-${job.id}`]);
