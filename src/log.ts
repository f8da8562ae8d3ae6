// Once stderr is gone (the host died), logging stops: a failed write must not become an error that
// is logged again, which fails again (a loop that once kept a server at 100% CPU).
let stderrGone = false;
// What logOnce has said already (a handful of fixed keys).
const said = new Set<string>();
// Whether debug lines are written (MCP_BG_DEBUG, set once at start).
let debugging = false;
process.stderr.on("error", () => {
  stderrGone = true;
});

/** Writes one log line to stderr: stdout belongs to the protocol. Never throws. */
export function log(level: "debug" | "info" | "warn" | "error", message: string, err?: unknown): void {
  if (stderrGone || (level === "debug" && !debugging)) return;
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

/** Writes debug lines too from now on (MCP_BG_DEBUG=1). */
export function logDebug(on: boolean): void {
  debugging = on;
}

/**
 * Does a step whose failure harms nothing and needs no answer (closing what may be closed already,
 * telling a client that may be gone, writing down what another process may have written first):
 * a failure is logged at debug level (MCP_BG_DEBUG=1), and undefined returned.
 */
export function bestEffort<T>(what: string, step: () => T): T | undefined {
  try {
    return step();
  } catch (err) {
    log("debug", `${what} (best effort) failed`, err);
    return undefined;
  }
}

/** bestEffort for a step under way: its rejection is logged at debug level, never thrown. */
export function quietly(what: string, step: Promise<unknown> | undefined): void {
  step?.catch((err: unknown) => log("debug", `${what} (best effort) failed`, err));
}
