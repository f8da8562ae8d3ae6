import type { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import { MAX_TIMEOUT_SECONDS } from "../../domain/defaults.js";
import { EXECUTORS } from "../../domain/job-state.js";
import type { JobEngine } from "../../engine/job-engine.js";
import { nullAsAbsent, uniformNullables } from "../schema-forms.js";
import { jobStatus } from "../schemas.js";
import { runTool } from "../tool-result.js";

const input = z.object({
  command: z.string().min(1, "command is empty").describe("Shell command, run with /bin/sh -c (pipes, &&, cd work)"),
  cwd: z.string().optional().describe("Working directory (must exist; relative to the server's)"),
  env: z.record(z.string(), z.string()).optional().describe("Extra environment variables (strings)"),
  timeout_seconds: z
    .number()
    .positive()
    .max(MAX_TIMEOUT_SECONDS, `timeout_seconds must be at most ${MAX_TIMEOUT_SECONDS} (24 days)`)
    .optional()
    .describe("Kill the job after this many seconds"),
  name: z.string().max(200).optional().describe("Label shown in list_jobs"),
  pty: z.boolean().optional().describe("Run under a pseudo-terminal (REPLs, prompts, colours)"),
  executor: z
    .enum(EXECUTORS, { error: `executor must be one of ${EXECUTORS.join(", ")}` })
    .optional()
    .describe("Where to run it: local, or slurm where the server offers a Slurm cluster (default: the server's)"),
});

const output = z.object({ job_id: z.string(), pid: z.number().int().nullable(), status: jobStatus });

/** Registers execute_command: start a command as a background job. */
export function registerExecuteCommandTool(server: McpServer, jobs: JobEngine): void {
  server.registerTool(
    "execute_command",
    {
      title: "Start a background job",
      description:
        "Start a shell command as a background job and return at once with its job_id. For servers, builds, tests: anything that runs a while. Then: tail_job_output or get_job_output to read, interact_with_job for stdin, kill_job to stop.",
      inputSchema: nullAsAbsent(input),
      outputSchema: uniformNullables(output),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    },
    (args) =>
      runTool(jobs, async () => {
        const job = await jobs.start({
          command: args.command,
          cwd: args.cwd,
          env: args.env,
          timeoutSeconds: args.timeout_seconds,
          name: args.name,
          pty: args.pty,
          executor: args.executor,
        });
        return { job_id: job.job_id, pid: job.pid, status: job.status };
      }),
  );
}
