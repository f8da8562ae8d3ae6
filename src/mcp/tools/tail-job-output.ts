import type { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import type { JobEngine } from "../../engine/job-engine.js";
import { progressWords } from "../hints.js";
import { nullAsAbsent, uniformNullables } from "../schema-forms.js";
import { jobId, jobStatus, streams, words } from "../schemas.js";
import { runTool } from "../tool-result.js";

const input = z.object({
  job_id: jobId,
  lines: z
    .number({ error: "lines must be a whole number from 1 to 1000" })
    .int("lines must be a whole number from 1 to 1000")
    .min(1, "lines must be from 1 to 1000")
    .max(1000, "lines must be from 1 to 1000")
    .optional()
    .describe("Lines per stream, 1..1000 (default 50)"),
});

/** Registers tail_job_output: the last lines of each stream. */
export function registerTailJobOutputTool(server: McpServer, jobs: JobEngine): void {
  server.registerTool(
    "tail_job_output",
    {
      title: "Tail job output",
      description: "The last `lines` lines (default 50) of a job's stdout and stderr. The cheap way to check on a job.",
      inputSchema: nullAsAbsent(input),
      outputSchema: uniformNullables(z.object({ ...streams, status: jobStatus, ...words })),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args) =>
      runTool(jobs, async () => {
        const job = jobs.lookup(args.job_id);
        const tail = await jobs.tail(job, args.lines ?? 50);
        const record = job.record();
        return { ...tail, status: record.status, ...progressWords(record) };
      }),
  );
}
