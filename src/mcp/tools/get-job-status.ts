import type { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import { MAX_PORTS_SHOWN } from "../../domain/defaults.js";
import type { JobsForTools } from "../../engine/index.js";
import { recordView } from "../hints.js";
import { nullAsAbsent, uniformNullables } from "../schema-forms.js";
import { confinementFields, jobId, jobRecord, supervisionFields, words } from "../schemas.js";
import { runTool } from "../tool-result.js";

/** Registers get_job_status: one job's record. */
export function registerGetJobStatusTool(server: McpServer, jobs: JobsForTools): void {
  server.registerTool(
    "get_job_status",
    {
      title: "Job status",
      description:
        "One job's status (queued, running, completed, failed, killed), exit code, pid, times, ports, sandbox, limits, usage, queue place, restarts, readiness, and the outcome in words.",
      inputSchema: nullAsAbsent(z.object({ job_id: jobId })),
      outputSchema: uniformNullables(
        jobRecord.extend(words).extend({
          ports: z
            .array(z.number().int())
            .nullable()
            .describe(
              `TCP ports its processes listen on while it runs (the lowest ${MAX_PORTS_SHOWN}); null where not seen (on a Slurm node)`,
            ),
          ...confinementFields,
          ...supervisionFields,
        }),
      ),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args) =>
      runTool(jobs, async () => {
        const job = jobs.lookup(args.job_id);
        const ports = job.running ? ((await jobs.ports([job])).get(job.id) ?? null) : [];
        // Its usage once, in `usage` (a list's row carries two figures of it).
        const { cpu_seconds: _c, peak_memory_bytes: _p, ...record } = recordView(job.record(), jobs.waiting(job));
        return { ...record, ports, ...jobs.confinement(job), ...jobs.supervision(job) };
      }),
  );
}
