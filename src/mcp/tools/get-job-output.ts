import type { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import type { JobsForTools } from "../../engine/index.js";
import { parseCursor } from "../../engine/index.js";
import { progressWords } from "../hints.js";
import { nullAsAbsent, uniformNullables } from "../schema-forms.js";
import { jobId, jobStatus, streams, words } from "../schemas.js";
import { runTool } from "../tool-result.js";

const input = z.object({
  job_id: jobId,
  since: z.string().optional().describe("A cursor from an earlier result: return only output after it"),
});

const output = z.object({ ...streams, cursor: z.string(), truncated: z.boolean(), status: jobStatus, ...words });

/** Registers get_job_output: all retained output, or what came after a cursor. */
export function registerGetJobOutputTool(server: McpServer, jobs: JobsForTools): void {
  server.registerTool(
    "get_job_output",
    {
      title: "Job output",
      description:
        "A job's stdout and stderr as text (escape codes removed): all that is kept, newest part if long. Pass `since` (the `cursor` of an earlier result) to get only newer output.",
      inputSchema: nullAsAbsent(input),
      outputSchema: uniformNullables(output),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args) =>
      runTool(jobs, async () => {
        const job = jobs.lookup(args.job_id);
        const out = await jobs.output(job, args.since === undefined ? undefined : parseCursor(args.since));
        const record = job.record();
        return { ...out, status: record.status, ...progressWords(record) };
      }),
  );
}
