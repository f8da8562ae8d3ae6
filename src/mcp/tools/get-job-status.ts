import type { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import type { JobManager } from "../../jobs/job-manager.js";
import { jobId, jobRecord } from "../schemas.js";
import { runTool } from "../tool-result.js";

/** Registers get_job_status: one job's record. */
export function registerGetJobStatusTool(server: McpServer, jobs: JobManager): void {
  server.registerTool(
    "get_job_status",
    {
      title: "Job status",
      description:
        "Status of one job (running, completed, failed, killed) with exit_code, signal, pid, start and end times, timed_out.",
      inputSchema: z.object({ job_id: jobId }),
      outputSchema: jobRecord,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args) => runTool(() => jobs.get(args.job_id).record()),
  );
}
