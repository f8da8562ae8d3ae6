/** Writes one log line to stderr: stdout belongs to the protocol. */
export function log(level: "info" | "warn" | "error", message: string, err?: unknown): void {
  const detail = err instanceof Error ? `: ${err.stack ?? err.message}` : err === undefined ? "" : `: ${String(err)}`;
  process.stderr.write(`mcp-bg-jobs ${level}: ${message}${detail}\n`);
}
