// Once stderr is gone (the host died), logging stops: a failed write must not become an error that
// is logged again, which fails again (a loop that once kept a server at 100% CPU).
let stderrGone = false;
// What logOnce has said already (a handful of fixed keys).
const said = new Set<string>();
process.stderr.on("error", () => {
  stderrGone = true;
});

/** Writes one log line to stderr: stdout belongs to the protocol. Never throws. */
export function log(level: "info" | "warn" | "error", message: string, err?: unknown): void {
  if (stderrGone) return;
  try {
    const detail = err instanceof Error ? `: ${err.stack ?? err.message}` : err === undefined ? "" : `: ${String(err)}`;
    process.stderr.write(`mcp-bg-jobs ${level}: ${message}${detail}\n`);
  } catch {
    stderrGone = true;
  }
}

/** Writes a log line the first time `key` is logged in this process only: a condition that lasts is told once. */
export function logOnce(key: string, level: "info" | "warn" | "error", message: string, err?: unknown): void {
  if (said.has(key)) return;
  said.add(key);
  log(level, message, err);
}
