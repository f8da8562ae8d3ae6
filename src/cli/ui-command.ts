import { type Config, ConfigError, isLoopback, loadConfig, SWITCH_SETTINGS } from "../config/config.js";
import type { JobEngine } from "../engine/index.js";
import { StoreError } from "../engine/index.js";
import { log } from "../log.js";
import { serveUi } from "../serve/serve-ui.js";
import { parseArgs } from "./args.js";
import { openJobEngine } from "./compose.js";

/** The page's port unless told otherwise (the MCP server's is 8765). */
export const UI_PORT = 8766;

export const UI_USAGE = "ui [--port 8766] [--host 127.0.0.1] [--auth-token TOKEN]";

/**
 * `mcp-bg-jobs ui`: serves the web page for the state dir until SIGINT, SIGTERM or SIGHUP, whether
 * any server runs on it or not. It looks at jobs and can kill them; it starts none and owns none.
 * A non-loopback address needs the token. Bad settings exit 2; a port in use exits 1.
 */
export async function runUi(argv: string[]): Promise<void> {
  const fail = (code: number, message: string) => {
    process.stderr.write(`mcp-bg-jobs ui: ${message}\n`);
    process.exit(code);
  };
  const args = parseArgs(argv, new Set(["--help", ...SWITCH_SETTINGS]));
  if (args.switches.has("--help") || argv.includes("-h")) {
    process.stdout.write(`usage: mcp-bg-jobs ${UI_USAGE} [--state-dir DIR]\n`);
    return;
  }
  const options = new Map(args.options);
  if (!options.has("--port")) options.set("--port", String(UI_PORT));
  let config: Config;
  try {
    if (args.positionals.length > 0) throw new ConfigError(`ui takes no arguments, not ${args.positionals[0]}`);
    config = loadConfig(options, process.env);
    if (!isLoopback(config.host) && !config.authToken)
      throw new ConfigError(
        `--host ${config.host} is not a loopback address: set MCP_BG_AUTH_TOKEN (people sign in with it)`,
      );
  } catch (err) {
    if (err instanceof ConfigError) return fail(2, err.message);
    throw err;
  }
  let jobs: JobEngine;
  try {
    jobs = openJobEngine(config, "cli");
  } catch (err) {
    return fail(1, err instanceof StoreError ? err.message : String((err as Error)?.message ?? err));
  }
  const server = await serveUi(jobs, config).catch((err: Error) =>
    fail(1, `cannot listen on ${config.host}:${config.port}: ${err.message}`),
  );
  if (!server) return;
  log("info", `web page for ${config.stateDir} at ${server.url}`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await server.close();
    jobs.close();
    process.exit(0);
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => void stop());
}
