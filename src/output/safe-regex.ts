import { setFlagsFromString } from "node:v8";

// Irregexp falls back to V8's linear-time engine when a match backtracks excessively: a hostile
// pattern such as (a+)+$ cannot stall the server. Only patterns the linear engine can run qualify.
setFlagsFromString("--enable-experimental-regexp-engine");
setFlagsFromString("--enable-experimental-regexp-engine-on-excessive-backtracks");

/** A pattern from a caller that cannot be used; its message says why. */
export class PatternError extends Error {}

/**
 * Compiles a caller's regular expression so that no input can make it take exponential time.
 * Backreferences and lookaround are refused: they are what makes a regex unbounded. So are flags:
 * V8's linear-time engine has no case-insensitive mode (write `[Ee]rror`).
 */
export function compileSafeRegex(source: string): RegExp {
  try {
    new RegExp(source, "l");
  } catch (err) {
    const why = (err as Error).message;
    if (/linear time/.test(why)) {
      throw new PatternError(
        `Pattern ${JSON.stringify(source)} uses backreferences or lookaround, which are not supported`,
      );
    }
    throw new PatternError(`Invalid regular expression ${JSON.stringify(source)}: ${why}`);
  }
  return new RegExp(source);
}
