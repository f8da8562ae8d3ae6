import { accessSync, constants, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type Database from "libsql";
import { ensureDir } from "../files/ensure-dir.js";
import { MIGRATIONS } from "./migrations.js";

/** The state database cannot be opened or used; the message names the file. */
export class StoreError extends Error {}

// Loaded when a store is opened, not with the program: a server answers its first request sooner.
const loadDatabase = () => createRequire(import.meta.url)("libsql") as typeof Database;

// Refuses, with a message people can act on, a database this user cannot open for reading and writing.
function checkAccess(stateDir: string, path: string): void {
  const problem = (target: string, mode: number) => {
    try {
      accessSync(target, mode);
      return false;
    } catch {
      return true;
    }
  };
  // SQLite writes its -wal and -shm files beside the database.
  if (problem(stateDir, constants.R_OK | constants.W_OK | constants.X_OK)) {
    throw new StoreError(
      `cannot use the state dir ${stateDir}: permission denied (this user needs to read and write it)`,
    );
  }
  const info = statSync(path, { throwIfNoEntry: false });
  if (info?.isDirectory()) throw new StoreError(`cannot use the state database ${path}: it is a directory`);
  if (info && problem(path, constants.R_OK | constants.W_OK)) {
    throw new StoreError(
      `cannot use the state database ${path}: permission denied (this user needs to read and write it)`,
    );
  }
}

// Applies the schema steps the database lacks, in one transaction (one process at a time).
function migrate(db: Database.Database): void {
  const version = () => (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (version() > MIGRATIONS.length) {
    throw new Error(`it was made by a newer mcp-bg-jobs (schema ${version()}; this one knows ${MIGRATIONS.length})`);
  }
  if (version() === MIGRATIONS.length) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    for (let v = version(); v < MIGRATIONS.length; v++) {
      db.exec(MIGRATIONS[v] as string);
      db.exec(`PRAGMA user_version = ${v + 1}`);
    }
    db.exec("COMMIT");
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}

/**
 * Opens `STATE_DIR/state.db` (WAL mode, schema brought up to date, integrity checked), making the
 * state dir and its `jobs` folder if need be. A state that cannot be used is a StoreError whose
 * message names the path and what to do.
 */
export function openDatabase(stateDir: string): { db: Database.Database; path: string } {
  const path = join(stateDir, "state.db");
  const unusable = (err: unknown) => new StoreError(`cannot use the state dir ${stateDir}: ${(err as Error).message}`);
  try {
    ensureDir(stateDir);
  } catch (err) {
    throw unusable(err);
  }
  checkAccess(stateDir, path);
  try {
    ensureDir(join(stateDir, "jobs"));
  } catch (err) {
    throw unusable(err);
  }
  try {
    const db = new (loadDatabase())(path, { timeout: 10_000 });
    db.exec("PRAGMA busy_timeout = 10000");
    db.exec("PRAGMA journal_mode = WAL");
    // In WAL mode, NORMAL never corrupts and survives any process crash; only a power cut may lose
    // the last commits.
    db.exec("PRAGMA synchronous = NORMAL");
    migrate(db);
    const check = db.prepare("PRAGMA quick_check").get() as { quick_check?: string } | undefined;
    if (check?.quick_check !== "ok") throw new Error(`integrity check failed: ${check?.quick_check}`);
    return { db, path };
  } catch (err) {
    throw new StoreError(
      `cannot use the state database ${path}: ${(err as Error).message} (move it away to start afresh)`,
    );
  }
}
