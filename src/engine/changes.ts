import { log } from "../log.js";
import type { JobStore } from "../store/job-store.js";
import type { TrackedJob as Job } from "./tracked-job.js";

/** What changed about one job: its output grew, or its status (it ended). */
export type JobChange = "output" | "status";

/** How often the state database is looked at for jobs that other processes started or dropped. */
const LIST_POLL_MS = 1000;

/**
 * Tells listeners when jobs come or go (this process's at once, other servers' within a second, or
 * within two where a server's state watch looks for them: see lookedAtElsewhere)
 * and, for jobs being watched, when their output grows or their status changes. Costs nothing
 * while nobody listens: no poll runs and no folder is watched.
 */
export class JobChanges {
  private readonly listListeners = new Set<() => void>();
  /** Who to tell when a watched job ends: one hook on each job's end, however many watch it. */
  private readonly endListeners = new WeakMap<Job, Set<() => void>>();
  private poll: NodeJS.Timeout | undefined;
  private signature = "";
  private seenVersion = "";
  private telling: NodeJS.Immediate | undefined;
  /** A server's state watch calls checkList when the state changed: no poll of its own then. */
  private watched = false;

  constructor(
    private readonly store: JobStore,
    /** Makes sure the end of a job this process does not watch first hand is noticed. */
    private readonly follow: (job: Job) => void,
  ) {}

  /** Calls `listener` whenever the set of jobs changes; returns the function that stops it. */
  onListChanged(listener: () => void): () => void {
    this.listListeners.add(listener);
    // The list as it is now: only what changes after this is told.
    if (this.listListeners.size === 1) this.signature = this.currentSignature();
    if (!this.poll && !this.watched) {
      this.poll = setInterval(() => this.checkList(), LIST_POLL_MS);
      this.poll.unref();
    }
    return () => {
      this.listListeners.delete(listener);
      if (this.listListeners.size === 0) {
        clearInterval(this.poll);
        this.poll = undefined;
      }
    };
  }

  /**
   * Says that the set of jobs has just changed (a job started or was dropped here). Listeners hear
   * of it right after the current call has answered, not before: a start is not slowed by them.
   */
  listChanged(): void {
    if (this.listListeners.size === 0 || this.telling) return;
    this.telling = setImmediate(() => {
      this.telling = undefined;
      this.signature = this.currentSignature();
      this.emitList();
    });
  }

  /**
   * A short text that changes whenever anything in the state changed, here or in another process
   * (SQLite's data_version): cheap enough to ask every second.
   */
  stateVersion(): string {
    try {
      return this.store.version();
    } catch {
      return "";
    }
  }

  /**
   * From now on the caller (a server's state watch, every 2 s) calls checkList: an idle server then
   * wakes for one look, not two (each wakeup of an idle Node process costs more than what it reads).
   */
  lookedAtElsewhere(): void {
    this.watched = true;
    clearInterval(this.poll);
    this.poll = undefined;
  }

  /** Looks for jobs that other processes started or dropped; reads the list only when the state changed. */
  checkList(): void {
    if (this.listListeners.size === 0) return;
    const version = this.stateVersion();
    if (version === this.seenVersion) return;
    this.seenVersion = version;
    const now = this.currentSignature();
    if (now === this.signature) return;
    this.signature = now;
    this.emitList();
  }

  private emitList(): void {
    for (const listener of [...this.listListeners]) {
      try {
        listener();
      } catch (err) {
        log("warn", "job list listener", err);
      }
    }
  }

  private currentSignature(): string {
    try {
      return this.store.signature();
    } catch {
      return this.signature;
    }
  }

  /**
   * Calls `listener` when the job's output grows (inotify on its folder) and when it ends, however
   * it ends and whoever runs it. Returns the function that stops watching.
   */
  watchJob(job: Job, listener: (change: JobChange) => void): () => void {
    if (job.over) return () => {};
    let stopped = false;
    const guard = (change: JobChange) => {
      if (stopped) return;
      try {
        listener(change);
      } catch (err) {
        log("warn", "job listener", err);
      }
    };
    const stopWatching = job.writes.subscribe((name) => {
      if (name === "stdout" || name === "stderr") guard("output");
    });
    this.follow(job);
    let listeners = this.endListeners.get(job);
    if (!listeners) {
      const set = new Set<() => void>();
      this.endListeners.set(job, set);
      job.ended.then(() => {
        for (const fn of [...set]) fn();
        set.clear();
      });
      listeners = set;
    }
    const onEnd = () => {
      stopWatching();
      guard("status");
    };
    listeners.add(onEnd);
    const set = listeners;
    return () => {
      stopped = true;
      stopWatching();
      set.delete(onEnd);
    };
  }
}
