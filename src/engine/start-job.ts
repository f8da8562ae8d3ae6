import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import type { Config } from "../config/config.js";
import { PTY_SIZE } from "../domain/defaults.js";
import { type Owner, runningJob } from "../domain/job-state.js";
import { ConfineError, type Executors, StartError, type Starting } from "../executors/executor.js";
import { ensureDir } from "../files/ensure-dir.js";
import { bestEffort } from "../log.js";
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

/**
 * Starts a command as a background job, as named steps: check what is asked (strings the OS can
 * pass, the command policy, the working dir, a free slot), record it (naming who starts it, before
 * anything runs: a crash from then on leaves a job the next server can account for), have the
 * executor run it, record where it runs. A start that fails leaves no record and no folder.
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
  if (ownership.mine.size + ownership.pendingStarts >= config.maxJobs) {
    throw new JobError(
      "limit",
      `Job limit reached: ${config.maxJobs} jobs are running (MCP_BG_MAX_JOBS). Wait for one to end or kill one.`,
    );
  }
  if (opts.id !== undefined && (!/^[0-9a-f-]{36}$/.test(opts.id) || deps.store.get(opts.id))) {
    throw new JobError("invalid_input", `Job id ${opts.id} is not a new UUID`);
  }
  const id = opts.id ?? randomUUID();
  ownership.pendingStarts++;
  const dir = deps.registry.dirOf(id);
  const now = Date.now();

  let starting: Starting | undefined;
  try {
    let state = runningJob({
      id,
      command: opts.command,
      name: opts.name ?? null,
      cwd,
      pty: opts.pty ?? false,
      startedMs: now,
      owner: deps.owner,
      keep: config.keepJobs,
      deadlineMs: deadlineOf(now, opts.timeoutSeconds ?? config.jobTimeoutSeconds),
      executor: where,
      bootId: deps.owner.bootId,
    });
    ensureDir(dir);
    starting = executor.prepare(state, {
      command: opts.command,
      shell: config.shell,
      cwd,
      env: opts.env ?? {},
      pty: opts.pty ? PTY_SIZE : undefined,
      capBytes: config.maxOutputBytes,
      confine,
    });
    state = { ...state, shepherd: starting.starter, confinement: starting.confinement };
    deps.store.insert(state);
    const job = deps.registry.track(state);
    const started = await starting.run();
    starting = undefined;
    job.update({ ...job.state, ...started.placement });
    // It runs: where is written down now, or once there is room (a job that floods a small disk
    // can fill it before this line); the start stands either way.
    const placed = { ...job.state };
    ownership.pending.write(id, "where it runs", () => deps.store.recordPlacement(placed));
    ownership.started(job, started.ended, config.keepJobs);
    void started.placed?.then((placement) => {
      if (!job.running) return;
      job.update({ ...job.state, ...placement });
      const later = { ...job.state };
      ownership.pending.write(id, "where it runs", () => deps.store.recordPlacement(later));
    });
    return job;
  } catch (err) {
    starting?.abandon();
    deps.registry.forget(id);
    bestEffort("removing a failed start's record", () => deps.store.discard(id));
    rmSync(dir, { recursive: true, force: true });
    if (err instanceof ConfineError) throw new JobError("unavailable", `Nothing was started: ${err.message}`);
    if (err instanceof StartError) throw new JobError("spawn_failed", `Could not start the command: ${err.message}`);
    throw err;
  } finally {
    ownership.pendingStarts--;
  }
}
