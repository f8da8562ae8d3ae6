import { type Cursor, currentCursor } from "./job-output.js";
import type { TrackedJob as Job } from "./tracked-job.js";

/** A wait that can be given up early. */
export interface Wait {
  done: Promise<void>;
  cancel(): void;
}

/**
 * Resolves once output past `from` has appeared and then stayed quiet for `quietMs`, or the job has
 * ended, or `maxMs` has passed. Driven by write events on the job's output files, not by polling.
 */
export function waitForQuietOutput(job: Job, from: Cursor, quietMs: number, maxMs: number): Wait {
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    let last = from;
    let quiet: NodeJS.Timeout | undefined;
    const check = () => {
      const now = currentCursor(job);
      if (now.stdout === last.stdout && now.stderr === last.stderr) return;
      last = now;
      clearTimeout(quiet);
      quiet = setTimeout(finish, quietMs);
    };
    const stop = job.writes.subscribe(check);
    const deadline = setTimeout(() => finish(), maxMs);
    finish = () => {
      stop();
      clearTimeout(quiet);
      clearTimeout(deadline);
      resolve();
    };
    job.ended.then(() => finish());
    check();
  });
  return { done, cancel: () => finish() };
}
