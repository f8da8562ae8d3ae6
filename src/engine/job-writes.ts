import { statSync } from "node:fs";
import { join } from "node:path";
import { watchWrites } from "../text/watch-writes.js";
import type { TrackedJob } from "./tracked-job.js";

/** How often the files of a job that runs on another machine are looked at. */
const REMOTE_LOOK_MS = 1000;
const FILES = ["stdout", "stderr", "exit"] as const;

/**
 * Calls `onWrite` with a file's name when a job's output or end is written: through inotify on its
 * folder, and for a job whose executor runs it elsewhere (Slurm: a shared filesystem, where inotify
 * does not see other machines' writes) also when a look once a second finds a file grown or changed.
 * Returns the function that stops it.
 */
export function watchJobWrites(job: TrackedJob, onWrite: (name: string | null) => void): () => void {
  const stop = watchWrites(job.dir, onWrite);
  if (job.state.executor === "local") return stop;
  const seen = new Map<string, string>();
  const look = () => {
    for (const name of FILES) {
      let now = "";
      try {
        const st = statSync(join(job.dir, name));
        now = `${st.size}:${st.mtimeMs}`;
      } catch {}
      if (seen.has(name) && seen.get(name) !== now) onWrite(name);
      seen.set(name, now);
    }
  };
  look();
  const timer = setInterval(look, REMOTE_LOOK_MS);
  timer.unref();
  return () => {
    stop();
    clearInterval(timer);
  };
}
