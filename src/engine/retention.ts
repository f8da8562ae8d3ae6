import { readdirSync, rmSync, statSync } from "node:fs";
import { log } from "../log.js";
import type { JobRegistry } from "./job-registry.js";
import { JOB_ID, recoveredRow } from "./recover-job.js";

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
function settleStrayDirs(registry: JobRegistry, now: number): void {
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
    const row = recoveredRow(registry.jobsDir, name);
    if (!row) {
      rmSync(dir, { recursive: true, force: true });
      continue;
    }
    try {
      registry.store.insert(row);
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
  now: number,
  limits: { retentionSeconds: number; maxFinished: number },
): number {
  let dropped = 0;
  for (const id of registry.store.expired(now - limits.retentionSeconds * 1000, limits.maxFinished)) {
    if (dropJob(registry, id)) dropped++;
  }
  settleStrayDirs(registry, now);
  return dropped;
}

/** Drops every finished job and its output; returns how many. */
export function dropFinished(registry: JobRegistry): number {
  let dropped = 0;
  for (const id of registry.store.finished()) if (dropJob(registry, id)) dropped++;
  settleStrayDirs(registry, Date.now());
  return dropped;
}
