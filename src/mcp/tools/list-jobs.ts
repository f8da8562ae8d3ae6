import type { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from "../../domain/defaults.js";
import type { JobsForTools } from "../../engine/index.js";
import { cutText } from "../../text/cut.js";
import { nullAsAbsent, uniformNullables } from "../schema-forms.js";
import { jobStatus } from "../schemas.js";
import { runTool } from "../tool-result.js";

const input = z.object({
  status: jobStatus.optional().describe("Only jobs with this status"),
  limit: z
    .number()
    .int()
    .min(1)
    .max(MAX_LIST_LIMIT)
    .optional()
    .describe(`Most jobs to return (default ${DEFAULT_LIST_LIMIT})`),
});

const summary = z.object({
  job_id: z.string(),
  status: jobStatus,
  command: z.string(),
  name: z.string().nullable(),
  started: z.string(),
  completed: z.string().nullable(),
  exit_code: z.number().int().nullable(),
  cpu_seconds: z.number().optional().describe("CPU time it used (ended jobs with a cgroup)"),
  peak_memory_bytes: z.number().optional().describe("Its peak memory (ended jobs whose cgroup counts it)"),
  ready: z.boolean().nullable().optional().describe("Its readiness probe matched (jobs with one; null unless running)"),
  restarts: z.number().int().optional().describe("Times it was started again (jobs that restart)"),
});

const output = z.object({ jobs: z.array(summary), total: z.number().int(), hint: z.string().optional() });

/** Longest command a list shows per job. */
const LIST_COMMAND_CHARS = 200;
/** A list stops growing past this many characters of JSON (sent twice: as text and structured). */
const LIST_BUDGET_CHARS = 50_000;

/** Registers list_jobs: the jobs, newest first. */
export function registerListJobsTool(server: McpServer, jobs: JobsForTools): void {
  server.registerTool(
    "list_jobs",
    {
      title: "List jobs",
      description: `List jobs, newest first (default ${DEFAULT_LIST_LIMIT}), optionally by status. \`total\` counts all that match.`,
      inputSchema: nullAsAbsent(input),
      outputSchema: uniformNullables(output),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args) =>
      runTool(jobs, () => {
        const { jobs: list, total } = jobs.list({ status: args.status, limit: args.limit });
        const shown: z.infer<typeof summary>[] = [];
        let chars = 0;
        for (const j of list) {
          const entry = {
            job_id: j.job_id,
            status: j.status,
            command: cutText(j.command, LIST_COMMAND_CHARS),
            name: j.name,
            started: j.started,
            completed: j.completed,
            exit_code: j.exit_code,
            ...(j.cpu_seconds !== undefined && { cpu_seconds: j.cpu_seconds }),
            ...(j.peak_memory_bytes !== undefined && { peak_memory_bytes: j.peak_memory_bytes }),
            ...(j.ready !== undefined && { ready: j.ready }),
            ...(j.restarts !== undefined && { restarts: j.restarts }),
          };
          chars += JSON.stringify(entry).length + 1;
          if (chars > LIST_BUDGET_CHARS) break;
          shown.push(entry);
        }
        const cut = shown.length < list.length;
        return {
          jobs: shown,
          total,
          ...(cut && {
            hint: `Only the newest ${shown.length} of ${list.length} fit in one result: ask for fewer (limit) or one status.`,
          }),
        };
      }),
  );
}
