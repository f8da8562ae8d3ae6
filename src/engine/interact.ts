import type { Executor } from "../executors/executor.js";
import { quietly } from "../log.js";
import type { TextWorkers } from "../workers/workers.js";
import { JobError } from "./errors.js";
import { currentCursor, type JobOutput, readJobOutput } from "./job-output.js";
import { waitForQuietOutput } from "./quiet-output.js";
import type { TrackedJob } from "./tracked-job.js";

/** Output settles once the job has been quiet this long after printing. */
const QUIET_MS = 250;

/**
 * Writes input to a job's stdin (a newline appended unless `raw` or already there), then returns
 * what the job printed after it, once it has been quiet for a moment, has ended, or `waitMs`
 * passed. Works for any running job on this state dir, whichever server started it. End of input
 * (`eof`) comes after the input written before it, which a job that does not read may never take:
 * it is asked for, and the answer does not wait for it beyond its own time.
 */
export async function interact(
  deps: { executor: Executor; text: TextWorkers; limit: number },
  job: TrackedJob,
  input: string,
  opts: { waitMs: number; raw?: boolean; eof?: boolean },
): Promise<JobOutput> {
  if (!job.running) {
    throw new JobError("not_running", `Job ${job.id} is not running (status: ${job.status}); it takes no input`);
  }
  const data = opts.raw || input.endsWith("\n") ? input : `${input}\n`;
  const before = currentCursor(job);
  const wait = waitForQuietOutput(job, before, QUIET_MS, opts.waitMs);
  try {
    await Promise.race([deps.executor.writeInput(job.state, data), wait.done]);
  } catch (err) {
    wait.cancel();
    if ((err as NodeJS.ErrnoException).code === "ENOBUFS") {
      throw new JobError("stdin_closed", `Job ${job.id} is not reading its stdin: earlier input is still waiting`);
    }
    throw new JobError("stdin_closed", `Job ${job.id} has closed its stdin; it takes no more input`);
  }
  // A terminal has no end of input to close: it reads Ctrl-D (VEOF) as one.
  if (opts.eof && job.pty) quietly("Ctrl-D to a job's terminal", deps.executor.writeInput(job.state, "\x04"));
  else if (opts.eof) quietly("closing a job's stdin", deps.executor.endInput(job.state));
  await wait.done;
  return readJobOutput(job, before, deps.limit, deps.text);
}
