import type { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import { DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS } from "../../domain/defaults.js";
import type { JobEngine } from "../../engine/job-engine.js";
import { parseCursor } from "../../engine/job-output.js";
import { checkPatternText } from "../../text/safe-regex.js";
import { nullAsAbsent, uniformNullables } from "../schema-forms.js";
import { jobId } from "../schemas.js";
import { runTool } from "../tool-result.js";
import { waitAnswer, waitOutput } from "./wait-answer.js";

const input = z.object({
  job_id: jobId,
  until: z
    .string()
    .min(1, "until is empty")
    .optional()
    .describe("Regex (JS syntax, no lookaround); return when a line of stdout or stderr matches"),
  since: z.string().optional().describe("Cursor: only output after it counts (default: all output)"),
  timeout_seconds: z
    .number()
    .positive()
    .max(MAX_WAIT_SECONDS)
    .optional()
    .describe(`Longest wait (default ${DEFAULT_WAIT_SECONDS}; one call waits at most 50 s, then says how to wait on)`),
});

const output = waitOutput;

/** Registers wait_for_job: block until the job ends, a line matches, or a timeout. */
export function registerWaitForJobTool(server: McpServer, jobs: JobEngine): void {
  server.registerTool(
    "wait_for_job",
    {
      title: "Wait for a job",
      description:
        "Wait until a job ends, or a line of its output matches `until` (earlier lines count too), or timeout_seconds (30) pass. Use instead of polling: e.g. until='listening on|ready' for a server.",
      inputSchema: nullAsAbsent(input),
      outputSchema: uniformNullables(output),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args, ctx) =>
      runTool(jobs, async () => {
        const job = jobs.lookup(args.job_id);
        const until = args.until === undefined ? undefined : checkPatternText(args.until);
        const since = args.since === undefined ? undefined : parseCursor(args.since);
        return waitAnswer(jobs, job, { until, untilText: args.until, since, seconds: args.timeout_seconds }, ctx);
      }),
  );
}
