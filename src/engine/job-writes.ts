import { lookForWrites, watchWrites } from "../text/watch-writes.js";

/** How often the files of a job that runs on another machine are looked at. */
const REMOTE_LOOK_MS = 1000;
const FILES = ["stdout", "stderr", "exit"] as const;

/** What is watched: a job's folder, and where it runs. */
export interface JobFolder {
  readonly dir: string;
  readonly state: { readonly executor: string };
}

/**
 * Calls `onWrite` with a file's name when a job's output or end is written: through inotify on its
 * folder, and for a job whose executor runs it elsewhere (Slurm: a shared filesystem, where inotify
 * does not see other machines' writes) also when a look once a second finds a file grown or changed.
 * Returns the function that stops it.
 */
function watchJobWrites(job: JobFolder, onWrite: (name: string | null) => void): () => void {
  const stop = watchWrites(job.dir, onWrite);
  if (job.state.executor === "local") return stop;
  const stopLooking = lookForWrites(job.dir, onWrite, { names: FILES, everyMs: REMOTE_LOOK_MS });
  return () => {
    stop();
    stopLooking();
  };
}

/**
 * One watch of a job's folder for everyone in this process who follows the job (waits, output
 * streams, subscribers, `logs -f`): a hundred readers of one job cost one inotify watch, not a
 * hundred. What was written is told once per turn of the event loop, each file's name once, however
 * many write events a flooding job raised meanwhile.
 */
export class SharedWrites {
  private readonly listeners = new Set<(name: string | null) => void>();
  private stopWatching: (() => void) | undefined;
  private readonly written = new Set<string | null>();
  private telling: NodeJS.Immediate | undefined;

  constructor(private readonly job: JobFolder) {}

  /** Calls `onWrite` with a file's name when the job writes it; returns what stops that. */
  subscribe(onWrite: (name: string | null) => void): () => void {
    this.listeners.add(onWrite);
    this.stopWatching ??= watchJobWrites(this.job, (name) => this.written_(name));
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.listeners.delete(onWrite);
      if (this.listeners.size > 0) return;
      this.stopWatching?.();
      this.stopWatching = undefined;
      clearImmediate(this.telling);
      this.telling = undefined;
      this.written.clear();
    };
  }

  private written_(name: string | null): void {
    this.written.add(name);
    this.telling ??= setImmediate(() => {
      this.telling = undefined;
      const names = [...this.written];
      this.written.clear();
      for (const listener of [...this.listeners]) for (const name of names) listener(name);
    });
  }
}
