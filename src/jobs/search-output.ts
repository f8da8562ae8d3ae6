import { cutText, MAX_LINE_CHARS } from "../output/cut.js";
import { LineScanner } from "../output/line-scanner.js";
import { ringWritten } from "../output/ring-file.js";
import type { Job } from "./job.js";

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
}

// A line as returned: long lines are cut, saying so.
const shown = (text: string) => cutText(text, MAX_LINE_CHARS);

/**
 * Searches the retained output of both streams for lines matching `pattern`. Line numbers count
 * from the oldest retained line (line 1). Matches past `maxMatches`, or past about `maxChars` of
 * text in all, are counted in `total_matches` but not returned.
 */
export function searchJobOutput(
  job: Job,
  pattern: RegExp,
  opts: { contextLines: number; maxMatches: number; maxChars: number },
): SearchResult {
  const matches: SearchMatch[] = [];
  let total = 0;
  let chars = 0;
  let truncated = false;
  for (const stream of ["stdout", "stderr"] as const) {
    const recent: string[] = [];
    const waitingForAfter: SearchMatch[] = [];
    let line = 0;
    const path = stream === "stdout" ? job.stdoutPath : job.stderrPath;
    // What was there when the search began: a job that keeps printing must not keep it going.
    const upTo = ringWritten(path);
    new LineScanner(path, 0).scan(
      ({ text }) => {
        line++;
        for (const m of waitingForAfter) {
          m.after?.push(shown(text));
          chars += Math.min(text.length, MAX_LINE_CHARS);
        }
        while (waitingForAfter.length > 0 && (waitingForAfter[0]?.after?.length ?? 0) >= opts.contextLines) {
          waitingForAfter.shift();
        }
        if (pattern.test(text)) {
          total++;
          if (matches.length < opts.maxMatches && chars < opts.maxChars) {
            const m: SearchMatch = { stream, line, text: shown(text) };
            chars += m.text.length;
            if (opts.contextLines > 0) {
              m.before = recent.map(shown);
              m.after = [];
              chars += m.before.reduce((n, l) => n + l.length, 0);
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
  return { matches, total_matches: total, truncated };
}
