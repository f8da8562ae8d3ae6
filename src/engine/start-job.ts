import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import type { Config } from "../config/config.js";
import { PTY_SIZE } from "../domain/defaults.js";
import { type JobPlan, type JobState, type Owner, runningJob } from "../domain/job-state.js";
import {
  ConfineError,
  type Executor,
  type Executors,
  type JobSpec,
  StartError,
  type Starting,
  UNCONFINED,
} from "../executors/executor.js";
import { ensureDir } from "../files/ensure-dir.js";
import { bestEffort, log } from "../log.js";
import type { JobStore } from "../store/job-store.js";
import { checkCommand } from "./command-policy.js";
import { deadlineOf } from "./deadlines.js";
import { JobError } from "./errors.js";
import { checkStrings, checkWorkspace, confineAsk, resolveCwd, type StartOptions } from "./job-request.js";
import type { Ownership } from "./ownership.js";
import type { JobRegistry } from "./registry.js";
import type { TrackedJob } from "./tracked-job.js";

/** What a start needs of the engine. */
export interface StartDeps {
  config: Config;
  store: JobStore;
  registry: JobRegistry;
  ownership: Ownership;
  /** The executors, as one: the job starts on the one `forStart` chooses, once. */
  executor: Executors;
  owner: Owner;
}

/** Most jobs one job may come after. */
export const MAX_AFTER = 100;
/** Most restarts a job may ask for. */
export const MAX_RESTARTS = 1000;

/**
 * Starts a command as a background job, as named steps: check what is asked (strings the OS can
 * pass, the command policy, the working dir, the jobs it comes after, a free slot), record it
 * (naming who starts it, before anything runs: a crash from then on leaves a job the next server
 * can account for), have the executor run it, record where it runs. A start that fails leaves no
 * record and no folder. A job that is to wait (for a slot, with `queue`; for other jobs, with
 * `after`) is recorded `queued` instead: a server starts it later (see JobQueue).
 */
export async function startJob(deps: StartDeps, opts: StartOptions): Promise<TrackedJob> {
  const { config, ownership } = deps;
  checkStrings(opts);
  checkCommand({ allowed: config.allowedCommands, denied: config.deniedCommands }, opts.command);
  const cwd = resolveCwd(config.workingDir, opts.cwd);
  const confine = confineAsk(config, opts);
  checkWorkspace(config, confine, cwd);
  const where = opts.executor ?? config.executor;
  const executor = deps.executor.forStart(where);
  if (typeof executor === "string") throw new JobError("invalid_input", executor);
  const unavailable = executor.unavailable();
  if (unavailable) throw new JobError("unavailable", unavailable);
  const restart = opts.restart ?? "no";
  const queue = opts.queue ?? config.queue;
  const after = [...new Set(opts.after ?? [])];
  const plan: JobPlan = {
    // Kept in the state database only for a job that may be started later (from the queue, again):
    // a job's env may hold secrets.
    env: restart !== "no" || queue || after.length > 0 ? (opts.env ?? {}) : {},
    timeoutSeconds: opts.timeoutSeconds ?? config.jobTimeoutSeconds ?? null,
    confine,
    queue,
    after,
    afterCondition: opts.afterCondition ?? "completed",
    restart,
    maxRestarts: opts.maxRestarts ?? 5,
    ready: opts.ready && Object.values(opts.ready).some((v) => v !== undefined) ? opts.ready : null,
    group: opts.group ?? null,
  };
  checkPlan(deps, plan, where);
  const waits = plan.after.length > 0;
  if (!waits && !plan.queue && ownership.mine.size + ownership.pendingStarts >= config.maxJobs) {
    throw new JobError(
      "limit",
      `Job limit reached: ${config.maxJobs} jobs are running (MCP_BG_MAX_JOBS). Wait for one to end, kill one, or pass queue: true.`,
    );
  }
  if (opts.id !== undefined && (!/^[0-9a-f-]{36}$/.test(opts.id) || deps.store.get(opts.id))) {
    throw new JobError("invalid_input", `Job id ${opts.id} is not a new UUID`);
  }
  const id = opts.id ?? randomUUID();
  const now = Date.now();
  const given = {
    id,
    command: opts.command,
    name: opts.name ?? null,
    cwd,
    pty: opts.pty ?? false,
    startedMs: now,
    keep: config.keepJobs,
    executor: where,
    bootId: deps.owner.bootId,
    plan,
  };
  if (waits || plan.queue) {
    // Recorded queued, with its folder (a wait on its output watches it from now on); a server lets
    // it go when its turn comes (this one at once, if a slot is free).
    const state: JobState = { ...runningJob(given), status: "queued" };
    ensureDir(deps.registry.dirOf(id));
    try {
      deps.store.insert(state);
    } catch (err) {
      rmSync(deps.registry.dirOf(id), { recursive: true, force: true });
      throw err;
    }
    return deps.registry.track(state);
  }
  ownership.pendingStarts++;
  try {
    const state = runningJob({
      ...given,
      owner: deps.owner,
      deadlineMs: deadlineOf(now, plan.timeoutSeconds ?? undefined),
    });
    return await runJob(deps, executor, state, { insert: true, env: opts.env ?? {} });
  } finally {
    ownership.pendingStarts--;
  }
}

// What a plan may not ask: jobs to come after that do not exist, restarts where runs cannot go on
// in the same output.
function checkPlan(deps: StartDeps, plan: JobPlan, where: string): void {
  if (plan.after.length > MAX_AFTER)
    throw new JobError("invalid_input", `after names ${plan.after.length} jobs; at most ${MAX_AFTER}`);
  for (const id of plan.after) {
    const dep = deps.store.get(id);
    if (!dep) throw new JobError("invalid_input", `after: job ${id} not found (give full job ids)`);
    if (plan.afterCondition === "ready" && !dep.plan?.ready)
      throw new JobError(
        "invalid_input",
        `after_condition ready: job ${id} has no readiness probe (start it with wait_until, wait_port or wait_http)`,
      );
  }
  if (!Number.isInteger(plan.maxRestarts) || plan.maxRestarts < 0 || plan.maxRestarts > MAX_RESTARTS)
    throw new JobError("invalid_input", `max_restarts must be a whole number from 0 to ${MAX_RESTARTS}`);
  if (plan.restart !== "no" && where !== "local")
    throw new JobError("invalid_input", "restart applies to local jobs (a Slurm job is requeued by Slurm)");
}

/** The line written into a restarted job's output between its runs: `[mcp-bg-jobs: restart 2 of 5 after exit code 1]`. */
export function restartBanner(job: JobState): string {
  const last = job.lastExit;
  const why = !last
    ? "its end"
    : last.signal
      ? last.signal
      : last.code === null
        ? "its end was lost"
        : `exit code ${last.code}`;
  const of = job.plan ? ` of ${job.plan.maxRestarts}` : "";
  return `[mcp-bg-jobs: restart ${job.restarts}${of} after ${why}]\n`;
}

/**
 * Starts a queued job this server has let go (its record says `running`, owned by this server: see
 * JobStore.launch): as a first start, or a restart whose output goes on in the same rings. A start
 * that fails ends the job `failed`, saying why (its record stays: it was accepted).
 */
export async function launchQueued(deps: StartDeps, job: TrackedJob, queued: JobState): Promise<void> {
  const state = job.state;
  const executor = deps.executor.forStart(state.executor);
  try {
    if (typeof executor === "string") throw new StartError(executor);
    const unavailable = executor.unavailable();
    if (unavailable) throw new StartError(unavailable);
    // A restart: what the last run left behind (its record, queued, still names its processes and
    // cgroup) is ended first, before anything of the next run can be taken for it.
    if (queued.restarts > 0)
      await executor
        .reapLeftovers([queued])
        .catch((err) => log("warn", `ending what job ${state.id}'s last run left`, err));
    await runJob(deps, executor, state, { insert: false, env: state.plan?.env ?? {} });
  } catch (err) {
    const why = `not started: ${err instanceof JobError ? err.message : `could not start the command: ${(err as Error).message}`}`;
    deps.ownership.pending.write(state.id, "a start that failed", () => {
      deps.store.queue.failStart(state.id, state.restarts, why);
      const now = deps.store.get(state.id);
      if (now) job.update(now);
    });
    if (job.running) job.end({ code: null, signal: null, endedMs: Date.now(), lost: false });
  }
}

// Runs a job whose record is (insert: is to be) `running` and owned by this server.
async function runJob(
  deps: StartDeps,
  executor: Executor,
  initial: JobState,
  how: { insert: boolean; env: Record<string, string> },
): Promise<TrackedJob> {
  const { config, ownership } = deps;
  const id = initial.id;
  const dir = deps.registry.dirOf(id);
  const plan = initial.plan;
  let starting: Starting | undefined;
  let job: TrackedJob | undefined;
  try {
    ensureDir(dir);
    const spec: JobSpec = {
      command: initial.command,
      shell: config.shell,
      cwd: initial.cwd,
      env: how.env,
      pty: initial.pty ? PTY_SIZE : undefined,
      capBytes: config.maxOutputBytes,
      confine: plan?.confine ?? UNCONFINED,
      banner: initial.restarts > 0 ? restartBanner(initial) : undefined,
    };
    starting = executor.prepare(initial, spec);
    const state: JobState = { ...initial, shepherd: starting.starter, confinement: starting.confinement };
    if (how.insert) deps.store.insert(state);
    else deps.store.queue.recordStarting(state);
    job = deps.registry.track(state);
    const started = await starting.run();
    starting = undefined;
    job.update({ ...job.state, ...started.placement });
    // It runs: where is written down now, or once there is room (a job that floods a small disk
    // can fill it before this line); the start stands either way.
    const placed = { ...job.state };
    ownership.pending.write(id, "where it runs", () => deps.store.recordPlacement(placed));
    ownership.started(job, started.ended, job.state.keep);
    const tracked = job;
    void started.placed?.then((placement) => {
      if (!tracked.running) return;
      tracked.update({ ...tracked.state, ...placement });
      const later = { ...tracked.state };
      ownership.pending.write(id, "where it runs", () => deps.store.recordPlacement(later));
    });
    return job;
  } catch (err) {
    starting?.abandon();
    if (how.insert) {
      deps.registry.forget(id);
      bestEffort("removing a failed start's record", () => deps.store.discard(id));
      rmSync(dir, { recursive: true, force: true });
    }
    if (err instanceof ConfineError) throw new JobError("unavailable", `Nothing was started: ${err.message}`);
    if (err instanceof StartError) throw new JobError("spawn_failed", `Could not start the command: ${err.message}`);
    throw err;
  }
}
