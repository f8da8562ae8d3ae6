import type { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import { parseMemory } from "../../config/settings-confine.js";
import { DEFAULT_WAIT_SECONDS, MAX_TIMEOUT_SECONDS, MAX_WAIT_SECONDS } from "../../domain/defaults.js";
import { AFTER_CONDITIONS, EXECUTORS, RESTARTS, SANDBOXES } from "../../domain/job-state.js";
import type { JobsForTools } from "../../engine/index.js";
import { checkLocalUrl, JobError } from "../../engine/index.js";
import { cutTextStart } from "../../text/cut.js";
import { checkPatternSyntax } from "../../text/safe-regex.js";
import { nullAsAbsent, uniformNullables } from "../schema-forms.js";
import { jobStatus, streams } from "../schemas.js";
import { runTool } from "../tool-result.js";
import { waitAnswer, waitOutput } from "./wait-answer.js";

const input = z.object({
  command: z.string().min(1, "command is empty").describe("Shell command, run with /bin/sh -c (pipes, &&, cd work)"),
  cwd: z.string().optional().describe("Working directory (must exist)"),
  env: z.record(z.string(), z.string()).optional().describe("Extra environment variables"),
  timeout_seconds: z
    .number()
    .positive()
    .max(MAX_TIMEOUT_SECONDS, `timeout_seconds must be at most ${MAX_TIMEOUT_SECONDS} (24 days)`)
    .optional()
    .describe("Kill the job after this many seconds"),
  name: z.string().max(200).optional().describe("Label for list_jobs"),
  pty: z.boolean().optional().describe("Run under a pseudo-terminal (REPLs, prompts)"),
  sandbox: z.enum(SANDBOXES).optional().describe("workspace: write only in cwd and tmp; read-only: only tmp"),
  network: z.boolean().optional().describe("false: no TCP/UDP at all"),
  memory_limit: z.coerce.string().optional().describe("e.g. 512MB, 2GB"),
  cpu_limit: z.number().positive().optional().describe("Cores, e.g. 1.5"),
  process_limit: z.number().int().min(1).max(4194304).optional().describe("Max processes+threads"),
  executor: z
    .enum(EXECUTORS, { error: `executor must be one of ${EXECUTORS.join(", ")}` })
    .optional()
    .describe("local, or slurm where the server offers it"),
  queue: z.boolean().optional().describe("At the job limit, queue instead of failing"),
  after: z.array(z.string()).optional().describe("Job ids to start after"),
  after_condition: z.enum(AFTER_CONDITIONS).optional().describe("What they must do first (completed)"),
  restart: z.enum(RESTARTS).optional(),
  max_restarts: z.number().int().min(0).max(1000).optional(),
  wait_until: z
    .string()
    .min(1, "wait_until is empty")
    .optional()
    .describe("Wait in this call until a line matches this regex"),
  wait_port: z.number().int().min(1).max(65535).optional().describe("...or until this local TCP port is open"),
  wait_http: z.string().optional().describe("...or until this local http URL answers below 500"),
  wait_seconds: z
    .number()
    .positive()
    .max(MAX_WAIT_SECONDS)
    .optional()
    .describe(`Wait in this call at most this long (default ${DEFAULT_WAIT_SECONDS}) for the end or a wait_*`),
});

const output = waitOutput.partial().extend({
  job_id: z.string(),
  pid: z.number().int().nullable(),
  status: jobStatus,
  tail: z.object(streams).optional().describe("The last lines of each stream, once the job has ended"),
});

// memory_limit as given: bytes, or a size with a unit.
function memoryArg(v: number | string): number {
  try {
    return parseMemory(String(v), "memory_limit");
  } catch (err) {
    throw new JobError("invalid_input", (err as Error).message);
  }
}

/** Whether an execute_command call waits (start and wait in one call): any of its wait_* arguments. */
export const startWaits = (args: Record<string, unknown>) =>
  ["wait_until", "wait_port", "wait_http", "wait_seconds"].some((k) => args[k] != null);

/** Lines of each stream a start-and-wait shows once the job has ended, and their characters at most. */
const END_TAIL_LINES = 5;
const END_TAIL_CHARS = 1000;

/** Registers execute_command: start a command as a background job (`onStarted` hears of each). */
export function registerExecuteCommandTool(
  server: McpServer,
  jobs: JobsForTools,
  onStarted?: (jobId: string) => void,
): void {
  server.registerTool(
    "execute_command",
    {
      title: "Start a background job",
      description:
        "Run a shell command (dev server, build, tests) as a background job; returns job_id at once, or with wait_* once it ends (with its last lines), matches or is up. Then tail_job_output/get_job_output, interact_with_job (stdin), kill_job.",
      inputSchema: nullAsAbsent(input),
      outputSchema: uniformNullables(output),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    },
    (args, ctx) =>
      runTool(jobs, async () => {
        // A bad pattern is refused before anything starts.
        const until = args.wait_until === undefined ? undefined : checkPatternSyntax(args.wait_until);
        const ready = {
          port: args.wait_port,
          http: args.wait_http === undefined ? undefined : checkLocalUrl(args.wait_http),
        };
        const job = await jobs.start({
          command: args.command,
          cwd: args.cwd,
          env: args.env,
          timeoutSeconds: args.timeout_seconds,
          name: args.name,
          pty: args.pty,
          executor: args.executor,
          sandbox: args.sandbox,
          network: args.network,
          memoryBytes: args.memory_limit === undefined ? undefined : memoryArg(args.memory_limit),
          cpu: args.cpu_limit,
          processes: args.process_limit,
          queue: args.queue,
          after: args.after,
          afterCondition: args.after_condition,
          restart: args.restart,
          maxRestarts: args.max_restarts,
          // What it waits for is its readiness probe too (ready_at; jobs after it "ready").
          ready:
            until === undefined && ready.port === undefined && ready.http === undefined
              ? undefined
              : { until: args.wait_until, port: ready.port, http: ready.http },
        });
        onStarted?.(job.job_id);
        const started = { job_id: job.job_id, pid: job.pid, status: job.status };
        if (!startWaits(args)) return started;
        const tracked = jobs.lookup(job.job_id);
        const waited = await waitAnswer(
          jobs,
          tracked,
          { until, untilText: args.wait_until, ready, seconds: args.wait_seconds },
          ctx,
        );
        const answer = { ...started, pid: tracked.record().pid, ...waited };
        if (waited.status === "running" || waited.status === "queued") return answer;
        const tail = await jobs.tail(tracked, END_TAIL_LINES);
        return {
          ...answer,
          tail: {
            stdout: cutTextStart(tail.stdout, END_TAIL_CHARS),
            stderr: cutTextStart(tail.stderr, END_TAIL_CHARS),
          },
        };
      }),
  );
}
