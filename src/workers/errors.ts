import { PatternError } from "../text/safe-regex.js";

/** A request that its worker could not finish: too slow, too big, or the worker failed. */
export class CutOffError extends Error {}

/** A step for a scan that its worker does not hold (the worker was replaced meanwhile). */
export class UnknownSession extends Error {}

/** An error as a worker sends it back. */
export interface WorkerError {
  kind: "pattern" | "session" | "other";
  message: string;
}

export const errorOf = (e: WorkerError) =>
  e.kind === "pattern"
    ? new PatternError(e.message)
    : e.kind === "session"
      ? new UnknownSession(e.message)
      : new Error(e.message);

// A pattern whose matching was cut off: an answer that says so, and what to do.
export const cutOffPattern =
  (source: string) =>
  (err: unknown): never => {
    if (!(err instanceof CutOffError)) throw err;
    throw new PatternError(
      `Matching the pattern ${JSON.stringify(source.slice(0, 100))} was cut off (${err.message}) so that it cannot stall the server: simplify it (groups of optional or repeated parts inside a repeat are what make matching slow)`,
    );
  };
