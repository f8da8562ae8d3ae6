import stripAnsi from "strip-ansi";

// Applies carriage returns as a terminal would: text after a `\r` overwrites the line from column 0.
function collapseRedraws(line: string): string {
  if (!line.includes("\r")) return line;
  // Columns are characters, not UTF-16 units: never cut a surrogate pair in two.
  let shown: string[] = [];
  for (const part of line.split("\r")) {
    const chars = Array.from(part);
    shown = chars.concat(shown.slice(chars.length));
  }
  return shown.join("");
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
