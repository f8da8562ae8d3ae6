// Characters a terminal acts on instead of showing: C0 controls (ESC starts sequences that set the
// window title, clear the screen or write the clipboard; a newline forges a new field or row), DEL,
// C1 controls (0x9b is a one-byte CSI), and the Unicode controls that reorder or break lines.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its purpose
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e" };

/**
 * Text from a job (its name, command, working dir) made safe to print on a terminal: every control
 * character is shown escaped (`\e`, `\n`, `\x07`, `\u202e`), so that it is seen, not obeyed.
 */
export function printable(text: string): string {
  return text.replace(CONTROLS, (c) => {
    const named = NAMED[c];
    if (named) return named;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
