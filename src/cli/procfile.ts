import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import type { JobRecord } from "../domain/record.js";
import { type JobEngine, JobError } from "../engine/index.js";

/** One process type of a Procfile: `web: npm start`. */
export interface ProcfileEntry {
  name: string;
  command: string;
}

/** Names a Procfile's process types may have (as foreman takes them). */
const NAME = /^[A-Za-z0-9_-]+$/;

/**
 * The entries of a Procfile as foreman, honcho and overmind read it: `NAME: COMMAND` a line, blank
 * lines and `#` comments skipped. A line that is none of these, or a name given twice, is an error
 * naming its line.
 */
export function parseProcfile(text: string): ProcfileEntry[] {
  const out: ProcfileEntry[] = [];
  const seen = new Set<string>();
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const colon = line.indexOf(":");
    const name = colon === -1 ? "" : line.slice(0, colon).trim();
    const command = colon === -1 ? "" : line.slice(colon + 1).trim();
    if (!NAME.test(name) || command === "")
      throw new Error(`line ${i + 1} is not NAME: COMMAND (${JSON.stringify(line.slice(0, 80))})`);
    if (seen.has(name)) throw new Error(`line ${i + 1}: ${name} is named twice`);
    seen.add(name);
    out.push({ name, command });
  }
  if (out.length === 0) throw new Error("it names no process (lines of NAME: COMMAND)");
  return out;
}

/** The port foreman gives the n-th process type (from 0): 5000, 5100, ... */
export const foremanPort = (n: number) => 5000 + 100 * n;

/** The Procfile a command names (./Procfile if none), as one path for good: what `down` finds its jobs by. */
export function procfilePath(given: string | undefined): string {
  const path = resolve(given ?? "Procfile");
  try {
    return realpathSync(path);
  } catch {
    throw new JobError("not_found", `no Procfile at ${path}`);
  }
}

/** The jobs (queued or running) that `up` started from this Procfile. */
export const jobsOf = (jobs: JobEngine, procfile: string): JobRecord[] => jobs.group(procfile);
