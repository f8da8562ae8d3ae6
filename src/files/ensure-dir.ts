import { mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Creates a directory and its missing parents. Written out instead of `mkdirSync(..., {recursive})`
 * because Node 20's recursive mkdir spins forever on paths it cannot create (such as under /proc).
 */
export function ensureDir(path: string, mode = 0o700): void {
  try {
    if (statSync(path).isDirectory()) return;
  } catch {}
  const parent = dirname(path);
  if (parent !== path) ensureDir(parent, mode);
  try {
    mkdirSync(path, { mode });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST" || !statSync(path).isDirectory()) throw err;
  }
}
