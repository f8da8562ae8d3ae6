// Loaded on first use: most servers never render a terminal, and loading it costs ~25 ms at start-up.
let xtermModule: Promise<{ default: typeof import("@xterm/headless") }> | undefined;
const loadXterm = () => {
  xtermModule ??= import("@xterm/headless");
  return xtermModule;
};

const MAX_SCROLLBACK = 20_000;

// A control sequence (CSI): ESC [ or the one-byte 0x9b, parameters, intermediates, a final byte.
// A terminal carries out C0 controls met inside one (a bell, a line feed) and goes on with the
// sequence: they may stand anywhere in it. ESC, CAN and SUB end it instead.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control sequences are made of control characters
const CSI = /(\x1b\[|\x9b)([0-?\x00-\x17\x19\x1c-\x1f\x7f]*)([ -/\x00-\x17\x19\x1c-\x1f\x7f]*)([@-~])/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the controls met inside a sequence
const INNER_CONTROLS = /[\x00-\x17\x19\x1c-\x1f\x7f]/g;

/**
 * Control sequences in a form that costs a bounded amount to carry out: the controls inside a
 * sequence moved in front of it (where a terminal carries them out all the same), and the counts of
 * the sequences whose work grows with their count (scroll, insert or delete lines or characters,
 * repeat a character, tab) cut to what the screen can show, which looks the same; any other number
 * to 9999. A few bytes could otherwise ask for billions of rows.
 */
export function boundControlSequences(text: string, cols: number, rows: number): string {
  if (!text.includes("\x1b[") && !text.includes("\x9b")) return text;
  return text.replace(CSI, (seq, intro: string, rawParams: string, rawInter: string, final: string) => {
    const inner = `${rawParams}${rawInter}`.match(INNER_CONTROLS)?.join("") ?? "";
    const params = inner ? rawParams.replace(INNER_CONTROLS, "") : rawParams;
    const inter = inner ? rawInter.replace(INNER_CONTROLS, "") : rawInter;
    if (!inner && !/\d{4}/.test(params)) return seq;
    let max = 9999;
    if (inter === "") {
      if ("STLM".includes(final)) max = rows;
      else if ("@PXIZ".includes(final)) max = cols;
      else if (final === "b") max = cols * rows;
    }
    return `${inner}${intro}${params.replace(/\d+/g, (n) => String(Math.min(Number(n), max)))}${inter}${final}`;
  });
}

/**
 * Renders what a program wrote to a terminal as the text a person would see on it: escape
 * sequences applied (colours dropped, cursor moves and erases done), `\r\n` as line ends, redraws
 * collapsed, wrapped rows joined back into their line. Ends with a newline when the cursor sits on
 * an empty line after the text.
 */
export async function renderTerminal(raw: string, cols: number, rows: number): Promise<string> {
  if (raw === "") return "";
  const text = boundControlSequences(raw, cols, rows);
  let newlines = 0;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) newlines++;
  // Rows the text can fill: one per line end, plus one per `cols` characters of wrapped lines.
  const needed = newlines + Math.ceil(text.length / cols) + rows;
  const xterm = (await loadXterm()).default;
  const term = new xterm.Terminal({
    cols,
    rows,
    scrollback: Math.min(MAX_SCROLLBACK, needed),
    allowProposedApi: true,
    convertEol: false,
  });
  try {
    await new Promise<void>((resolve) => term.write(text, resolve));
    const buffer = term.buffer.active;
    const lines: string[] = [];
    let lastContentRow = -1;
    let lastContentLine = -1;
    for (let y = 0; y < buffer.length; y++) {
      const row = buffer.getLine(y);
      if (!row) continue;
      const content = row.translateToString(true);
      if (row.isWrapped && lines.length > 0) lines[lines.length - 1] += content;
      else lines.push(content);
      if (content !== "") {
        lastContentRow = y;
        lastContentLine = lines.length - 1;
      }
    }
    if (lastContentLine < 0) return "";
    let body = lines.slice(0, lastContentLine + 1).join("\n");
    if (needed > MAX_SCROLLBACK + rows) {
      body = `[mcp-bg-jobs: the oldest rows of this output scrolled off a ${MAX_SCROLLBACK}-row terminal; ask for less (tail_job_output lines) or page with since]\n${body}`;
    }
    return buffer.baseY + buffer.cursorY > lastContentRow ? `${body}\n` : body;
  } finally {
    term.dispose();
  }
}
