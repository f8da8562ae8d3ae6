import { setFlagsFromString } from "node:v8";

// Irregexp falls back to V8's linear-time engine when a match backtracks excessively: a hostile
// pattern such as (a+)+$ cannot stall the server. Only patterns the linear engine can run qualify.
setFlagsFromString("--enable-experimental-regexp-engine");
setFlagsFromString("--enable-experimental-regexp-engine-on-excessive-backtracks");
// Give up on backtracking early (default 50,000): a hostile 128 KB input then costs ~0.5 s, not ~1.5 s.
setFlagsFromString("--regexp-backtracks-before-fallback=10000");

/** A pattern from a caller that cannot be used; its message says why. */
export class PatternError extends Error {}

/**
 * Refuses what the rules refuse by the pattern's text alone (length, repeat counts): cheap, and
 * run where a call arrives. Compiling and matching happen in a worker (see workers/workers.ts).
 */
export function checkPatternText(source: string): string {
  if (source.length > MAX_PATTERN_CHARS) {
    throw new PatternError(`Pattern is too long (${source.length} characters; at most ${MAX_PATTERN_CHARS})`);
  }
  const count = /\{(\d+)(?:,(\d*))?\}/.exec(source.replace(/\\./g, ""));
  if (count && (Number(count[1]) > 16 || Number(count[2] || 0) > 16)) {
    throw new PatternError(
      `Pattern ${JSON.stringify(source)} repeats more than 16 times (${count[0]}), which the linear-time engine that keeps patterns safe cannot run: use + or * instead (e.g. [0-9a-f]+)`,
    );
  }
  return source;
}

/**
 * Compiles a caller's regular expression so that no input can make it take exponential time.
 * Backreferences and lookaround are refused: they are what makes a regex unbounded. So are flags:
 * V8's linear-time engine has no case-insensitive mode (write `[Ee]rror`).
 */
export function compileSafeRegex(source: string): RegExp {
  checkPatternText(source);
  let re: RegExp;
  try {
    new RegExp(source, "l");
    re = new RegExp(source);
    // V8 compiles a pattern on first use: do it here, where an error is an answer, not a crash.
    re.test("");
  } catch (err) {
    const why = (err as Error).message.slice(0, 200);
    if (/linear time/.test(why)) {
      throw new PatternError(
        `Pattern ${JSON.stringify(source)} cannot run in linear time: backreferences, lookaround and repeats nested in repeats are not supported`,
      );
    }
    throw new PatternError(`Invalid regular expression ${JSON.stringify(source)}: ${why}`);
  }
  return re;
}

/**
 * Checks a caller's pattern without compiling it for matching (parsing is linear in its length;
 * building the matcher is what may be costly, and happens in a worker): its length, its counts and
 * its syntax. Throws PatternError; returns the source.
 */
export function checkPatternSyntax(source: string): string {
  checkPatternText(source);
  try {
    new RegExp(source);
  } catch (err) {
    throw new PatternError(
      `Invalid regular expression ${JSON.stringify(source)}: ${(err as Error).message.slice(0, 200)}`,
    );
  }
  return source;
}

/** Longest pattern accepted: far more than a line-matching regex needs. */
export const MAX_PATTERN_CHARS = 1000;
