import { readdirSync, rmSync, statSync } from "node:fs";
import { JOB_ID } from "../domain/job-state.js";
import type { Executor } from "../executors/executor.js";
import { log } from "../log.js";
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

// Job folders without a record, old enough not to be a start under way: a job that still runs gets
// its record back; the others are removed. Folders not named like a job are left alone.
function settleStrayDirs(registry: JobRegistry, executor: Executor, now: number): void {
  let names: string[];
  try {
    names = readdirSync(registry.jobsDir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!JOB_ID.test(name)) continue;
    const dir = registry.dirOf(name);
    const age = now - (statSync(dir, { throwIfNoEntry: false })?.mtimeMs ?? now);
    if (age <= STRAY_DIR_MS || registry.store.has(name)) continue;
    const recovered = executor.recoverFolder(name);
    if (!recovered) {
      rmSync(dir, { recursive: true, force: true });
      continue;
    }
    try {
      registry.store.insert(recovered);
      log("info", `job ${name} runs but had no record: recovered it from its folder`);
    } catch {} // recorded meanwhile by someone else
  }
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
