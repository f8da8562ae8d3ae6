import type { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import { DEFAULT_WAIT_SECONDS, MAX_WAIT_JOBS, MAX_WAIT_SECONDS } from "../../domain/defaults.js";
import type { JobsForTools } from "../../engine/index.js";
import { checkLocalUrl, JobError, parseCursor } from "../../engine/index.js";
import { checkPatternText } from "../../text/safe-regex.js";
import { nullAsAbsent, uniformNullables } from "../schema-forms.js";
import { jobId } from "../schemas.js";
import { runTool } from "../tool-result.js";
import { waitAnswer, waitManyAnswer, waitManyOutput, waitOutput } from "./wait-answer.js";

const input = z.object({
  job_id: jobId.optional(),
  job_ids: z.array(jobId).min(1).max(MAX_WAIT_JOBS).optional().describe("Wait on several jobs instead (with mode)"),
  mode: z.enum(["any", "all"]).optional().describe("job_ids: return when any (default) or all ended or matched"),
  until: z
    .string()
    .min(1, "until is empty")
    .optional()
    .describe("Regex (JS syntax, no lookaround); return when a line of stdout or stderr matches"),
  until_port: z
    .number()
    .int()
    .min(1)
    .max(65535)
    .optional()
    .describe("Return when this local TCP port accepts connections"),
  until_http: z.string().optional().describe("Return when this local http URL answers below 500"),
  since: z.string().optional().describe("Cursor: count only output after it"),
  timeout_seconds: z
    .number()
    .positive()
    .max(MAX_WAIT_SECONDS)
    .optional()
    .describe(`Longest wait (default ${DEFAULT_WAIT_SECONDS}; one call waits at most 50 s, then says how to wait on)`),
});

const output = waitOutput.partial().extend(waitManyOutput);

/** Registers wait_for_job: block until the job ends, a line matches, or a timeout. */
export function registerWaitForJobTool(server: McpServer, jobs: JobsForTools): void {
  server.registerTool(
    "wait_for_job",
    {
      title: "Wait for a job",
      description:
        "Wait until a job ends, or a line of its output matches `until` (earlier lines count too), or until_port/until_http is up, or timeout_seconds (30) pass. Use instead of polling: e.g. until='listening on|ready' for a server.",
      inputSchema: nullAsAbsent(input),
      outputSchema: uniformNullables(output),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args, ctx) =>
      runTool(jobs, async () => {
        if ((args.job_id === undefined) === (args.job_ids === undefined))
          throw new JobError("invalid_input", "Give job_id, or job_ids (a list) to wait on several jobs");
        const ask = {
          until: args.until === undefined ? undefined : checkPatternText(args.until),
          untilText: args.until,
          ready: {
            port: args.until_port,
            http: args.until_http === undefined ? undefined : checkLocalUrl(args.until_http),
          },
          seconds: args.timeout_seconds,
        };
        if (args.job_ids) {
          if (args.since !== undefined) throw new JobError("invalid_input", "since works with job_id only");
          const tracked = [...new Set(args.job_ids)].map((id) => jobs.lookup(id));
          return waitManyAnswer(jobs, tracked, { ...ask, mode: args.mode ?? "any" }, ctx);
        }
        const job = jobs.lookup(args.job_id as string);
        const since = args.since === undefined ? undefined : parseCursor(args.since);
        return waitAnswer(jobs, job, { ...ask, since }, ctx);
      }),
  );
}
