import { readdirSync, rmSync, statSync } from "node:fs";
import type { JobRegistry } from "./job-registry.js";

/** A job folder without a record is removed once it is this old (a start that never finished). */
const STRAY_DIR_MS = 60_000;

// Forgets a finished job and deletes its output; false if it is running or already gone.
function dropJob(registry: JobRegistry, id: string): boolean {
  if (!registry.store.delete(id)) return false;
  registry.forget(id);
  rmSync(registry.dirOf(id), { recursive: true, force: true });
  return true;
}

// Removes job folders that have no record and are old enough not to be a start under way.
function removeStrayDirs(registry: JobRegistry, now: number): void {
  let names: string[];
  try {
    names = readdirSync(registry.jobsDir);
  } catch {
    return;
  }
  for (const name of names) {
    const dir = registry.dirOf(name);
    const age = now - (statSync(dir, { throwIfNoEntry: false })?.mtimeMs ?? now);
    if (age > STRAY_DIR_MS && !registry.store.has(name)) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Drops finished jobs that ended more than `retentionSeconds` ago, and the oldest beyond the newest
 * `maxFinished`, with their output; and folders left by starts that never finished. Returns how many
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
  removeStrayDirs(registry, now);
  return dropped;
}

/** Drops every finished job and its output; returns how many. */
export function dropFinished(registry: JobRegistry): number {
  let dropped = 0;
  for (const id of registry.store.finished()) if (dropJob(registry, id)) dropped++;
  removeStrayDirs(registry, Date.now());
  return dropped;
}
