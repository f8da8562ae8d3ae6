import type { ServerContext } from "@modelcontextprotocol/server";
import { z } from "zod";
import { DEFAULT_WAIT_SECONDS } from "../../domain/defaults.js";
import { describeEnd } from "../../domain/ending.js";
import type { JobEngine } from "../../engine/job-engine.js";
import type { Cursor } from "../../engine/job-output.js";
import type { TrackedJob } from "../../engine/tracked-job.js";
import { withProgress } from "../progress.js";
import { jobStatus } from "../schemas.js";

/** What a wait answers (wait_for_job, and execute_command with a wait). */
export const waitOutput = z.object({
  status: jobStatus,
  matched: z.boolean(),
  match: z.string().nullable(),
  stream: z.enum(["stdout", "stderr"]).nullable(),
  timed_out: z.boolean(),
  exit_code: z.number().int().nullable(),
  cursor: z.string(),
  outcome: z.string().optional(),
  hint: z.string().optional(),
});

/**
 * Waits for a job to end or print a matching line, for at most `seconds` (default 30) and never past
 * the call bound, and answers with the words an agent needs: how it ended, or how to wait on.
 */
export async function waitAnswer(
  jobs: JobEngine,
  job: TrackedJob,
  opts: { until?: string; untilText?: string; since?: Cursor; seconds?: number },
  ctx: ServerContext,
): Promise<z.infer<typeof waitOutput>> {
  // No call waits past the bound hosts allow; a longer wait is several calls.
  const asked = opts.seconds ?? DEFAULT_WAIT_SECONDS;
  const seconds = Math.min(asked, jobs.callTimeoutMs / 1000);
  const result = await withProgress(
    ctx,
    seconds,
    `waiting for job ${job.id}${opts.until ? ` to print /${opts.untilText}/` : " to end"}`,
    jobs.wait(job, { until: opts.until, since: opts.since, timeoutMs: seconds * 1000, signal: ctx.mcpReq.signal }),
  );
  const again = `call wait_for_job again with since="${result.cursor}"`;
  const words =
    result.status !== "running"
      ? { outcome: describeEnd({ ...job.record(), status: result.status }) }
      : result.timed_out && asked > seconds
        ? {
            hint: `Still running after ${seconds} s, the longest one call waits here (MCP_BG_CALL_TIMEOUT). To wait on, ${again}.`,
          }
        : { hint: `Still running. To wait on, ${again}.` };
  return { ...result, ...words };
}
