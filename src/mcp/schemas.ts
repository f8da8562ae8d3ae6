import { z } from "zod";
import { AFTER_CONDITIONS, EXECUTORS, JOB_STATUSES, RESTARTS } from "../domain/job-state.js";

/** A job id argument. */
export const jobId = z.string().min(1, "job_id is empty").max(200, "job_id is too long");

/** The status values of a job. */
export const jobStatus = z.enum(JOB_STATUSES);

const nullableString = z.string().nullable();
const nullableInt = z.number().int().nullable();
const nullableNumber = z.number().nullable();
const limitHit = z.enum(["memory", "processes"]);

/** A job's record as returned by get_job_status. */
export const jobRecord = z.object({
  job_id: z.string(),
  status: jobStatus,
  command: z.string(),
  name: nullableString,
  cwd: z.string(),
  pid: nullableInt,
  pty: z.boolean(),
  started: z.string(),
  completed: nullableString,
  exit_code: nullableInt,
  signal: nullableString,
  timed_out: z.boolean(),
  lost: z.boolean().describe("Its server died and its processes were gone when next looked for: exit_code is unknown"),
  executor: z.enum(EXECUTORS).describe("Where it runs"),
  slurm_job_id: nullableString.describe("Its Slurm job id (Slurm jobs)"),
  node: nullableString.describe("The node it runs on, once known (Slurm jobs)"),
  limit_hit: z.object({ limit: limitHit, value: nullableNumber }).optional(),
  cpu_seconds: z.number().optional(),
  peak_memory_bytes: z.number().optional(),
  ready: z.boolean().nullable().optional().describe("Its readiness probe matched (jobs with one; null unless running)"),
  restarts: z.number().int().optional().describe("Times it was started again (jobs that restart)"),
  not_started: z.string().optional().describe("Why it ended without starting"),
});

/** What supervises a job (get_job_status): its queue, order, restarts, readiness. */
export const supervisionFields = {
  place_in_queue: nullableInt.describe("Queued for a slot: its place (1: next)"),
  after: z.array(z.string()).describe("Jobs it starts after"),
  after_condition: z.enum(AFTER_CONDITIONS).nullable(),
  restart: z.enum(RESTARTS),
  max_restarts: nullableInt,
  restarts: z.number().int(),
  last_exit: z
    .object({ exit_code: nullableInt, signal: nullableString, ended: nullableString })
    .nullable()
    .describe("How its last run ended (restarted jobs)"),
  next_start_at: nullableString.describe("Queued to restart: when"),
  ready_at: nullableString.describe("When its readiness probe matched in this run"),
  last_output_at: nullableString,
};

/** What confines a job and what it has used (get_job_status). */
export const confinementFields = {
  sandbox: z.enum(["off", "workspace", "read-only"]).describe("As enforced"),
  network: z.boolean(),
  writable: z.array(z.string()).describe("Folders its sandbox lets it write below"),
  limits: z
    .object({ memory_bytes: nullableNumber, cpu: nullableNumber, processes: nullableInt })
    .describe("As enforced"),
  confined_by: z.array(z.string()).describe("What enforces the sandbox and limits"),
  usage: z
    .object({
      cpu_seconds: nullableNumber,
      memory_bytes: nullableNumber,
      peak_memory_bytes: nullableNumber,
      processes: nullableInt,
      peak_processes: nullableInt,
    })
    .nullable()
    .describe("From its cgroups (so far, or at its end); null where it has none"),
  limit_hit: limitHit.nullable().describe("The limit it ran into"),
};

/** Words for the agent: how a job ended, or what to do while it runs. */
export const words = { outcome: z.string().optional(), hint: z.string().optional() };

/** Both streams' text. */
export const streams = { stdout: z.string(), stderr: z.string() };
