import type { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import { DEFAULT_GRACE_SECONDS, DEFAULT_KILL_SIGNAL, KILL_SIGNALS, MAX_GRACE_SECONDS } from "../../domain/defaults.js";
import type { JobsForTools } from "../../engine/index.js";
import { KILL_RESULTS } from "../../engine/index.js";
import { quietly } from "../../log.js";
import { withProgress } from "../progress.js";
import { nullAsAbsent, uniformNullables } from "../schema-forms.js";
import { jobId } from "../schemas.js";
import { runTool } from "../tool-result.js";

const input = z.object({
  job_id: jobId,
  signal: z
    .enum(KILL_SIGNALS, { error: `signal must be one of ${KILL_SIGNALS.join(", ")}` })
    .optional()
    .describe(`First signal (default ${DEFAULT_KILL_SIGNAL})`),
  grace_seconds: z
    .number()
    .min(0)
    .max(MAX_GRACE_SECONDS)
    .optional()
    .describe(`Seconds before SIGKILL (default ${DEFAULT_GRACE_SECONDS})`),
});

const output = z.object({
  status: z.enum([...KILL_RESULTS, "killing"]),
  hint: z.string().optional(),
});

/** Registers kill_job: end a job and everything it started. */
export function registerKillJobTool(server: McpServer, jobs: JobsForTools): void {
  server.registerTool(
    "kill_job",
    {
      title: "Kill a job",
      description:
        "Stop a job and every process it started: the signal (SIGTERM) to its process group, SIGKILL to what is left after grace_seconds (5). Returns when all are gone: killed, already_terminated or not_found (killing if the grace outlasts one call).",
      inputSchema: nullAsAbsent(input),
      outputSchema: uniformNullables(output),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
      // Words Claude Code's ToolSearch weighs above a description's: "stop a process" finds it.
      _meta: { "anthropic/searchHint": "stop or kill a process or job" },
    },
    (args, ctx) =>
      runTool(jobs, async () => {
        const grace = args.grace_seconds ?? DEFAULT_GRACE_SECONDS;
        const kill = jobs.kill(args.job_id, { signal: args.signal, graceMs: grace * 1000 });
        // A grace longer than a call may wait: the kill goes on after the answer, which says so.
        let timer: NodeJS.Timeout | undefined;
        const bound = new Promise<"killing">((r) => (timer = setTimeout(() => r("killing"), jobs.callTimeoutMs)));
        const status = await withProgress(ctx, grace, `killing job ${args.job_id}`, Promise.race([kill, bound]));
        clearTimeout(timer);
        if (status !== "killing") return { status };
        quietly("a kill that outlasted its call", kill);
        return {
          status,
          hint: `Signalled; what is left gets SIGKILL when the ${grace} s grace ends. wait_for_job tells when it has ended.`,
        };
      }),
  );
}
