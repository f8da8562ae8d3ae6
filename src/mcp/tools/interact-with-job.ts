import type { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import { DEFAULT_REPLY_WAIT_MS, MAX_REPLY_WAIT_MS } from "../../domain/defaults.js";
import type { JobsForTools } from "../../engine/index.js";
import { nullAsAbsent, uniformNullables } from "../schema-forms.js";
import { jobId, streams } from "../schemas.js";
import { runTool } from "../tool-result.js";

const input = z.object({
  job_id: jobId,
  input: z.string().max(1_000_000).describe("Text for the job's stdin; a newline is appended unless it ends with one"),
  wait_ms: z
    .number()
    .int()
    .min(0)
    .max(MAX_REPLY_WAIT_MS)
    .optional()
    .describe(`Longest wait for the reply (default ${DEFAULT_REPLY_WAIT_MS})`),
  raw: z.boolean().optional().describe("Send exactly as given: no newline added"),
  eof: z.boolean().optional().describe("Close stdin after writing (end of input)"),
});

const output = z.object({ ...streams, cursor: z.string(), truncated: z.boolean() });

/** Registers interact_with_job: write to stdin, return the reply. */
export function registerInteractWithJobTool(server: McpServer, jobs: JobsForTools): void {
  server.registerTool(
    "interact_with_job",
    {
      title: "Send input to a job",
      description: `Write text to a running job's stdin and return what it printed after that: once it has been quiet ~250 ms, exited, or wait_ms (${DEFAULT_REPLY_WAIT_MS}) passed.`,
      inputSchema: nullAsAbsent(input),
      outputSchema: uniformNullables(output),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    },
    (args) =>
      runTool(jobs, () =>
        jobs.interact(jobs.lookup(args.job_id), args.input, {
          waitMs: Math.min(args.wait_ms ?? DEFAULT_REPLY_WAIT_MS, jobs.callTimeoutMs),
          raw: args.raw,
          eof: args.eof,
        }),
      ),
  );
}
