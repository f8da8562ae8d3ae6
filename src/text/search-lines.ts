import { cutText, MAX_LINE_CHARS } from "./cut.js";
import { LineScanner } from "./line-scanner.js";
import { ringWritten } from "./ring-file.js";

/** One of the streams searched: its name and its ring file. */
export interface SearchedStream {
  name: "stdout" | "stderr";
  path: string;
}

/** One matching line, with its stream and 1-based line number among the retained lines. */
export interface SearchMatch {
  stream: "stdout" | "stderr";
  line: number;
  text: string;
  /** The lines before and after it, when context was asked for. */
  before?: string[];
  after?: string[];
}

/** What a search found. */
export interface SearchResult {
  matches: SearchMatch[];
  total_matches: number;
  /** Some matches (or their context) were left out to respect `maxMatches` or `maxChars`. */
  truncated: boolean;
  /** The search ran out of time before the end: where it stopped, in words. */
  stopped?: string;
}

// A line as returned: long lines are cut, saying so.
const shown = (text: string) => cutText(text, MAX_LINE_CHARS);

/**
 * Searches the retained lines of each stream for lines matching `pattern`. Line numbers count from
 * the oldest retained line (line 1). Matches past `maxMatches`, and lines (matches or their context)
 * past `maxChars` of text in all (as JSON carries it), are counted in `total_matches` but not
 * returned (`truncated`). Looks only at what was written when the
 * search began (a job that keeps printing must not keep it going), and stops at `deadline` (ms,
 * Date.now()), saying where.
 */
export function searchStreams(
  streams: readonly SearchedStream[],
  pattern: RegExp,
  opts: {
    contextLines: number;
    maxMatches: number;
    maxChars: number;
    deadline: number;
    /** Called now and then while the search goes on (it says the search is making progress). */
    progress?: () => void;
  },
): SearchResult {
  const matches: SearchMatch[] = [];
  let total = 0;
  let chars = 0;
  let truncated = false;
  // Whether a line's text (as JSON carries it) still fits in the result's budget; it is counted if so.
  const fits = (text: string): boolean => {
    const size = JSON.stringify(text).length + 1;
    if (chars + size > opts.maxChars) {
      truncated = true;
      return false;
    }
    chars += size;
    return true;
  };
  let stopped: string | undefined;
  for (const { name: stream, path } of streams) {
    if (stopped) break;
    const recent: string[] = [];
    const waitingForAfter: SearchMatch[] = [];
    let line = 0;
    const upTo = ringWritten(path);
    new LineScanner(path, 0).scan(
      ({ text }) => {
        line++;
        if (Date.now() > opts.deadline) {
          stopped = `the search ran out of time at line ${line} of ${stream}`;
          return true;
        }
        opts.progress?.();
        if (waitingForAfter.length > 0) {
          const after = shown(text);
          for (const m of waitingForAfter) {
            // Context past the budget is left out (the match keeps what fitted), saying so.
            if (fits(after)) m.after?.push(after);
          }
        }
        while (waitingForAfter.length > 0 && (waitingForAfter[0]?.after?.length ?? 0) >= opts.contextLines) {
          waitingForAfter.shift();
        }
        if (pattern.test(text)) {
          total++;
          const m: SearchMatch = { stream, line, text: shown(text) };
          if (matches.length < opts.maxMatches && fits(m.text)) {
            if (opts.contextLines > 0) {
              m.before = [];
              // The nearest lines first: what does not fit is the farthest.
              for (const l of recent.map(shown).reverse()) {
                if (!fits(l)) break;
                m.before.unshift(l);
              }
              m.after = [];
              waitingForAfter.push(m);
            }
            matches.push(m);
          } else {
            truncated = true;
          }
        }
        if (opts.contextLines > 0) {
          recent.push(text);
          if (recent.length > opts.contextLines) recent.shift();
        }
        return undefined;
      },
      true,
      { upTo },
    );
  }
  return { matches, total_matches: total, truncated: truncated || stopped !== undefined, ...(stopped && { stopped }) };
}
