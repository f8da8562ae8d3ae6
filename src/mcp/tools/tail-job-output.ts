import type { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import { DEFAULT_TAIL_LINES, MAX_TAIL_LINES } from "../../domain/defaults.js";
import type { JobsForTools } from "../../engine/index.js";
import { progressWords } from "../hints.js";
import { nullAsAbsent, uniformNullables } from "../schema-forms.js";
import { jobId, jobStatus, streams, words } from "../schemas.js";
import { runTool } from "../tool-result.js";

const input = z.object({
  job_id: jobId,
  lines: z
    .number({ error: `lines must be a whole number from 1 to ${MAX_TAIL_LINES}` })
    .int(`lines must be a whole number from 1 to ${MAX_TAIL_LINES}`)
    .min(1, `lines must be from 1 to ${MAX_TAIL_LINES}`)
    .max(MAX_TAIL_LINES, `lines must be from 1 to ${MAX_TAIL_LINES}`)
    .optional()
    .describe(`Lines per stream, 1..${MAX_TAIL_LINES} (default ${DEFAULT_TAIL_LINES})`),
});

/** Registers tail_job_output: the last lines of each stream. */
export function registerTailJobOutputTool(server: McpServer, jobs: JobsForTools): void {
  server.registerTool(
    "tail_job_output",
    {
      title: "Tail job output",
      description: `The last \`lines\` lines (default ${DEFAULT_TAIL_LINES}) of a job's stdout and stderr. The cheap way to check on a job.`,
      inputSchema: nullAsAbsent(input),
      outputSchema: uniformNullables(z.object({ ...streams, status: jobStatus, ...words })),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args) =>
      runTool(jobs, async () => {
        const job = jobs.lookup(args.job_id);
        const tail = await jobs.tail(job, args.lines ?? DEFAULT_TAIL_LINES);
        const record = job.record();
        return { ...tail, status: record.status, ...progressWords(record) };
      }),
  );
}
