import type { ServerContext } from "@modelcontextprotocol/server";
import { z } from "zod";
import { DEFAULT_WAIT_SECONDS } from "../../domain/defaults.js";
import { describeEnd } from "../../domain/ending.js";
import { isEnded } from "../../domain/job-state.js";
import type { Cursor, JobsForTools, Readiness, TrackedJob, WaitResult } from "../../engine/index.js";
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

/** What a wait on several jobs answers: each job's wait, and which of them are done. */
export const waitManyOutput = {
  jobs: z.array(waitOutput.omit({ hint: true }).extend({ job_id: z.string() })).optional(),
  done: z.array(z.string()).optional().describe("job_ids: the jobs that ended or matched"),
};

/** What a wait is for: a line (until), a port or URL (ready), from a cursor, for how long. */
export interface WaitAsk {
  until?: string;
  untilText?: string;
  ready?: Readiness;
  since?: Cursor;
  seconds?: number;
}

// How long a call may wait: as asked (default 30 s), never past the call bound (hosts give up).
function bounded(jobs: JobsForTools, asked: number | undefined): { asked: number; seconds: number } {
  const a = asked ?? DEFAULT_WAIT_SECONDS;
  return { asked: a, seconds: Math.min(a, jobs.callTimeoutMs / 1000) };
}

// What to wait for, in words (progress messages).
function waitingFor(ask: WaitAsk): string {
  const what = [
    ask.until ? `to print /${ask.untilText}/` : "",
    ask.ready?.port !== undefined ? `port ${ask.ready.port}` : "",
    ask.ready?.http ?? "",
  ].filter(Boolean);
  return what.length > 0 ? `${what.join(" or ")}, or to end` : "to end";
}

/**
 * Waits for a job to end, print a matching line or get ready, for at most `seconds` (default 30)
 * and never past the call bound, and answers with the words an agent needs: how it ended, or how
 * to wait on.
 */
export async function waitAnswer(
  jobs: JobsForTools,
  job: TrackedJob,
  ask: WaitAsk,
  ctx: ServerContext,
): Promise<z.infer<typeof waitOutput>> {
  const { asked, seconds } = bounded(jobs, ask.seconds);
  const result = await withProgress(
    ctx,
    seconds,
    `waiting for job ${job.id} ${waitingFor(ask)}`,
    jobs.wait(job, { ...ask, timeoutMs: seconds * 1000, signal: ctx.mcpReq.signal }),
  );
  const again = `call wait_for_job again with since="${result.cursor}"`;
  const still = result.status === "queued" ? "Still queued (not started)" : "Still running";
  const words = isEnded(result.status)
    ? { outcome: describeEnd({ ...job.record(), status: result.status }) }
    : result.timed_out && asked > seconds
      ? {
          hint: `${still} after ${seconds} s, the longest one call waits here (MCP_BG_CALL_TIMEOUT). To wait on, ${again}.`,
        }
      : { hint: `${still}. To wait on, ${again}.` };
  return { ...result, ...words };
}

const isDone = (r: WaitResult) => isEnded(r.status) || r.matched;

/**
 * Waits on several jobs at once, until any (or all) of them has ended or matched, or the time
 * passes. Each job's answer is its own wait's; `done` lists the jobs that ended or matched.
 */
export async function waitManyAnswer(
  jobs: JobsForTools,
  tracked: TrackedJob[],
  ask: WaitAsk & { mode: "any" | "all" },
  ctx: ServerContext,
) {
  const { seconds } = bounded(jobs, ask.seconds);
  const stop = new AbortController();
  const cancel = () => stop.abort();
  ctx.mcpReq.signal.addEventListener("abort", cancel);
  const opts = { ...ask, timeoutMs: seconds * 1000, signal: stop.signal };
  const waits = tracked.map((job) =>
    jobs.wait(job, opts).then((r) => {
      // One done is enough for `any`: the others answer as they stand.
      if (ask.mode === "any" && isDone(r)) stop.abort();
      return r;
    }),
  );
  const ids = tracked.map((j) => j.id).join(", ");
  try {
    const results = await withProgress(ctx, seconds, `waiting for ${ask.mode} of jobs ${ids}`, Promise.all(waits));
    const each = results.map((r, i) => {
      const job = tracked[i] as TrackedJob;
      return {
        job_id: job.id,
        ...r,
        ...(isEnded(r.status) ? { outcome: describeEnd({ ...job.record(), status: r.status }) } : {}),
      };
    });
    const done = each.filter(isDone).map((r) => r.job_id);
    const enough = ask.mode === "any" ? done.length > 0 : done.length === each.length;
    const answer = { timed_out: !enough && results.some((r) => r.timed_out), done, jobs: each };
    return enough ? answer : { ...answer, hint: "Not done yet: call wait_for_job again to wait on." };
  } finally {
    ctx.mcpReq.signal.removeEventListener("abort", cancel);
  }
}
