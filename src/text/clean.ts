import stripAnsi from "strip-ansi";

// Applies carriage returns as a terminal would: text after a `\r` overwrites the line from column 0.
// Column c shows the latest part that reaches it. Read from the last part back, each part adds the
// columns it reaches past every later one, and is looked at once: linear in the line's length,
// however many redraws it holds (a progress bar may redraw a long line thousands of times).
const SURROGATE = /[\ud800-\udfff]/;

function collapseRedraws(line: string): string {
  if (!line.includes("\r")) return line;
  const parts = line.split("\r");
  const pieces: string[] = [];
  // Columns are characters, not UTF-16 units: never cut a surrogate pair in two.
  let width = 0;
  for (let i = parts.length - 1; i >= 0; i--) {
    const part = parts[i] as string;
    if (part.length <= width) continue; // no more characters than columns already shown
    if (!SURROGATE.test(part)) {
      pieces.push(part.slice(width));
      width = part.length;
      continue;
    }
    const chars = Array.from(part);
    if (chars.length <= width) continue;
    pieces.push(chars.slice(width).join(""));
    width = chars.length;
  }
  return pieces.join("");
}

/**
 * Turns raw terminal output into what a reader should see: ANSI escape sequences removed, `\r\n`
 * read as a newline, and `\r` redraws (progress bars) collapsed to the line's final state.
 */
export function cleanTerminalText(text: string): string {
  // Most output has nothing to clean: skip the regex work for it.
  if (!text.includes("\x1b") && !text.includes("\x9b") && !text.includes("\r")) return text;
  const plain = stripAnsi(text).replace(/\r+\n/g, "\n");
  if (!plain.includes("\r")) return plain;
  return plain.split("\n").map(collapseRedraws).join("\n");
}
