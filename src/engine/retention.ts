import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { JOB_ID } from "../domain/job-state.js";
import type { Executor } from "../executors/executor.js";
import { bestEffort, log } from "../log.js";
import type { JobRegistry } from "./registry.js";

/** A job folder without a record is settled once it is this old (not a start under way). */
const STRAY_DIR_MS = 60_000;

// Forgets a finished job and deletes its output; false if it is running or already gone.
function dropJob(registry: JobRegistry, id: string): boolean {
  if (!registry.store.delete(id)) return false;
  registry.forget(id);
  rmSync(registry.dirOf(id), { recursive: true, force: true });
  return true;
}

/** What settling the job folders without a record did. */
export interface StraySettled {
  /** Jobs that still run, recovered from their folders. */
  running: number;
  /** Jobs that had ended, recovered from their folders (`ended` only). */
  ended: number;
}

/**
 * Job folders without a record: a job that still runs gets its record back at once (its folder holds
 * its shepherd's pid file, which a start under way does not have yet); with `ended` (a server's
 * start), so does one that ran and has ended, from its exit file, so that its output stays readable;
 * the others are removed once old enough not to be a start under way. Folders not named like a job
 * are left alone.
 */
export function settleStrayDirs(
  registry: JobRegistry,
  executor: Executor,
  now: number,
  opts: { ended?: boolean } = {},
): StraySettled {
  const settled = { running: 0, ended: 0 };
  let names: string[];
  try {
    names = readdirSync(registry.jobsDir);
  } catch {
    return settled;
  }
  for (const name of names) {
    if (!JOB_ID.test(name) || registry.store.has(name)) continue;
    const recovered = executor.recoverFolder(name, opts);
    if (recovered) {
      // Recorded meanwhile by someone else, it is not recorded again.
      bestEffort("recording a job recovered from its folder", () => {
        registry.store.insert(recovered);
        settled[recovered.status === "running" ? "running" : "ended"]++;
        log("info", `job ${name} had no record: recovered it from its folder (${recovered.status})`);
      });
      continue;
    }
    const dir = registry.dirOf(name);
    const age = now - (statSync(dir, { throwIfNoEntry: false })?.mtimeMs ?? now);
    if (age > STRAY_DIR_MS) rmSync(dir, { recursive: true, force: true });
  }
  return settled;
}

/** How many job folders have no record and hold a job that ran (only reads). */
export function countStrayDirs(registry: JobRegistry): number {
  let names: string[];
  try {
    names = readdirSync(registry.jobsDir);
  } catch {
    return 0;
  }
  return names.filter((n) => JOB_ID.test(n) && !registry.store.has(n) && existsSync(join(registry.dirOf(n), "pid")))
    .length;
}

/**
 * Drops finished jobs that ended more than `retentionSeconds` ago, and the oldest beyond the newest
 * `maxFinished`, with their output; settles folders without a record (see settleStrayDirs). Returns how many
 * jobs were dropped.
 */
export function dropExpired(
  registry: JobRegistry,
  executor: Executor,
  now: number,
  limits: { retentionSeconds: number; maxFinished: number },
): number {
  let dropped = 0;
  for (const id of registry.store.expired(now - limits.retentionSeconds * 1000, limits.maxFinished)) {
    if (dropJob(registry, id)) dropped++;
  }
  settleStrayDirs(registry, executor, now);
  return dropped;
}

/** Drops every finished job and its output; returns how many. */
export function dropFinished(registry: JobRegistry, executor: Executor): number {
  let dropped = 0;
  for (const id of registry.store.finished()) if (dropJob(registry, id)) dropped++;
  settleStrayDirs(registry, executor, Date.now());
  return dropped;
}

/**
 * At a server's start: job folders whose records are gone (a damaged or deleted WAL after a crash, a
 * state.db moved away) get them back, running or ended, and the log says so in one line.
 */
export function recoverLostRecords(registry: JobRegistry, executor: Executor, stateDir: string): void {
  try {
    const { running, ended } = settleStrayDirs(registry, executor, Date.now(), { ended: true });
    if (running + ended === 0) return;
    log(
      "warn",
      `the state database had no record of ${running + ended} job(s) whose folders are in ${stateDir}/jobs (lost with a damaged or deleted WAL, or a state.db moved away): recovered them from their folders, ${running} running and ${ended} ended (their commands are unknown)`,
    );
  } catch (err) {
    log("warn", "recovering jobs from their folders", err);
  }
}
