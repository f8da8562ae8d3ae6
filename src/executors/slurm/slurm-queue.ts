import type { JobEnd, JobState } from "../../domain/job-state.js";
import { lostEnd } from "../../domain/job-state.js";
import { log } from "../../log.js";
import { signalName } from "../../process/signals.js";
import { watchWrites } from "../../text/watch-writes.js";
import type { Placement } from "../executor.js";
import { readExitFile, readPidFile } from "../job-folder.js";
import { type QueuedJob, queued, slurmEnd } from "./slurm-commands.js";

/** How often the queue is looked at while Slurm jobs are watched. */
const POLL_MS = 1000;
/** A job gone from the queue without its exit file: the file is waited for this long (a shared filesystem lags). */
const FILE_LAG_MS = 3000;

/** Ends of jobs that left the queue kept to answer with (the engine records them at once; more are let go). */
const KEPT_ENDS = 1000;
/** `scontrol` lookups at once for jobs that left the queue without an exit file (a node failure ends many). */
const LOOKUPS_AT_ONCE = 8;

/** Slurm states in which a job's end says nothing of its program's: its end is lost. */
const LOST_STATES: ReadonlySet<string> = new Set(["NODE_FAIL", "BOOT_FAIL", "PREEMPTED", "REVOKED", "DEADLINE"]);

/** A job watched here: its Slurm id, and who wants to hear of its end. */
export interface Watched {
  job: JobState;
  slurmId: string;
  listeners: Set<() => void>;
  settle?: (end: JobEnd) => void;
  /** Killed with SIGKILL, its shepherd too: no exit file will come. */
  hardKilled?: boolean;
  /** Told where it runs, once it does (see Started.placed). */
  placed?: (placement: Placement) => void;
  /** When it was first seen gone from the queue without an exit file. */
  goneSince?: number;
  stopWatching?: () => void;
}

/**
 * The Slurm jobs this process watches, and the queue as last seen: `squeue` for all of them once a
 * second while any is watched (never on a request's path), and at once when a job's exit file is
 * written. A job that has left the queue ends with its shepherd's exit file, or, without one, with
 * what `scontrol` says (or lost, when Slurm has forgotten it too).
 */
export class SlurmQueueWatch {
  private readonly watched = new Map<string, Watched>();
  private readonly queue = new Map<string, QueuedJob>();
  private readonly ends = new Map<string, JobEnd>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private lastPoll = 0;
  closed = false;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly dirOf: (job: JobState) => string,
  ) {}

  /** The job as the queue showed it last (undefined: not in the queue, or not looked at). */
  seen(slurmId: string): QueuedJob | undefined {
    return this.queue.get(slurmId);
  }

  /** The end found for a job that has left the queue. */
  endOf(slurmId: string): JobEnd | undefined {
    return this.ends.get(slurmId);
  }

  isWatched(id: string): boolean {
    return this.watched.has(id);
  }

  /** The queue, looked at lately, no longer shows this watched job. */
  leftLately(job: JobState): boolean {
    const fresh = Date.now() - this.lastPoll < 3 * POLL_MS;
    return fresh && !!job.executorId && !this.queue.has(job.executorId) && this.watched.has(job.id);
  }

  // Watches a job until its end is known; the queue is looked at while any job is watched. A job
  // without a Slurm id (its submission never came back) cannot be watched.
  watch(job: JobState): Watched | undefined {
    let w = this.watched.get(job.id);
    if (!w && job.executorId) {
      const entry: Watched = { job, slurmId: job.executorId, listeners: new Set() };
      entry.stopWatching = watchWrites(this.dirOf(job), (name) => {
        if (name === "exit") void this.poll();
      });
      this.watched.set(job.id, entry);
      w = entry;
      this.timer ??= setInterval(() => void this.poll(), POLL_MS);
      this.timer.unref();
      void this.poll();
    }
    return w;
  }

  /** Looks at the queue once (one look at a time), and settles the watched jobs that have ended. */
  poll(): Promise<void> {
    this.polling ??= this.look().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  private async look(): Promise<void> {
    if (this.watched.size === 0 || this.closed) return;
    const at = Date.now();
    let seen: Map<string, QueuedJob>;
    try {
      seen = await queued(
        [...this.watched.values()].map((w) => w.slurmId),
        this.env,
      );
    } catch (err) {
      log("warn", "looking at the Slurm queue", err);
      // The controller does not answer: a job whose shepherd has written its end down has ended all
      // the same (it is not shown running for as long as the controller is away).
      for (const w of [...this.watched.values()]) {
        const written = readExitFile(this.dirOf(w.job));
        if (written) this.settle(w, written);
      }
      return;
    }
    this.lastPoll = at;
    const unwritten: Watched[] = [];
    for (const w of [...this.watched.values()]) {
      const q = seen.get(w.slurmId);
      if (q) this.queue.set(w.slurmId, q);
      else this.queue.delete(w.slurmId);
      if (q?.state === "RUNNING" && w.placed) {
        const procs = readPidFile(this.dirOf(w.job));
        if (procs) {
          w.placed({
            process: procs.job,
            shepherd: procs.shepherd,
            cgroup: null,
            executorId: w.slurmId,
            node: q.node || null,
          });
          w.placed = undefined;
        }
      }
      if (q && q.state !== "COMPLETING") continue;
      // It has left its node (or is leaving): its shepherd's exit file, else what Slurm says.
      const written = readExitFile(this.dirOf(w.job));
      if (written && !q) this.settle(w, written);
      else if (!q) {
        w.goneSince ??= at;
        if (w.hardKilled || at - w.goneSince >= FILE_LAG_MS) unwritten.push(w);
      }
    }
    for (let i = 0; i < unwritten.length; i += LOOKUPS_AT_ONCE) {
      const batch = unwritten.slice(i, i + LOOKUPS_AT_ONCE);
      const ends = await Promise.all(batch.map((w) => this.endFromSlurm(w.slurmId)));
      for (const [k, w] of batch.entries()) this.settle(w, ends[k] ?? lostEnd());
    }
  }

  private async endFromSlurm(slurmId: string): Promise<JobEnd> {
    try {
      const end = await slurmEnd(slurmId, this.env);
      if (!end) return lostEnd();
      // Its node failed (or never booted, or it was preempted): its shepherd could not write its end,
      // and Slurm's exit code (0:0) says nothing of the program's. Lost, in the logs with Slurm's reason.
      if (LOST_STATES.has(end.state)) {
        log("warn", `Slurm job ${slurmId} ended ${end.state} (${end.reason}): its end was not observed`);
        return lostEnd();
      }
      const signal = end.signal ? (signalName(end.signal) ?? `signal ${end.signal}`) : null;
      return { code: signal ? null : end.code, signal, endedMs: Date.now(), lost: false };
    } catch {
      return lostEnd();
    }
  }

  private settle(w: Watched, end: JobEnd): void {
    this.ends.set(w.slurmId, end);
    for (const old of this.ends.keys()) {
      if (this.ends.size <= KEPT_ENDS) break;
      this.ends.delete(old);
    }
    this.watched.delete(w.job.id);
    w.stopWatching?.();
    w.settle?.(end);
    for (const fn of w.listeners) fn();
    if (this.watched.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  dispose(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const w of this.watched.values()) w.stopWatching?.();
  }
}
