import type { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import { DEFAULT_MAX_MATCHES, MAX_CONTEXT_LINES, MAX_MATCHES } from "../../domain/defaults.js";
import type { JobsForTools } from "../../engine/index.js";
import { checkPatternText } from "../../text/safe-regex.js";
import { nullAsAbsent, uniformNullables } from "../schema-forms.js";
import { jobId } from "../schemas.js";
import { runTool } from "../tool-result.js";

const input = z.object({
  job_id: jobId,
  pattern: z.string().min(1, "pattern is empty").describe("Regex (JS syntax, no lookaround) matched against each line"),
  context_lines: z
    .number()
    .int()
    .min(0)
    .max(MAX_CONTEXT_LINES)
    .optional()
    .describe("Lines of context before and after (default 0)"),
  max_matches: z
    .number()
    .int()
    .min(1)
    .max(MAX_MATCHES)
    .optional()
    .describe(`Most matches to return (default ${DEFAULT_MAX_MATCHES})`),
});

const match = z.object({
  stream: z.enum(["stdout", "stderr"]),
  line: z.number().int(),
  text: z.string(),
  before: z.array(z.string()).optional(),
  after: z.array(z.string()).optional(),
});

const output = z.object({
  matches: z.array(match),
  total_matches: z.number().int(),
  truncated: z.boolean(),
  stopped: z.string().optional().describe("Where a search that ran out of time stopped"),
});

/** Registers search_job_output: grep over a job's retained output. */
export function registerSearchJobOutputTool(server: McpServer, jobs: JobsForTools): void {
  server.registerTool(
    "search_job_output",
    {
      title: "Search job output",
      description:
        "Find lines matching a regex in a job's kept stdout and stderr: stream, 1-based line number, text, optional context. `total_matches` counts all.",
      inputSchema: nullAsAbsent(input),
      outputSchema: uniformNullables(output),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args, ctx) =>
      runTool(jobs, () => {
        const job = jobs.lookup(args.job_id);
        const pattern = checkPatternText(args.pattern);
        return jobs.search(job, pattern, {
          contextLines: args.context_lines ?? 0,
          maxMatches: args.max_matches ?? DEFAULT_MAX_MATCHES,
          signal: ctx.mcpReq.signal,
        });
      }),
  );
}
