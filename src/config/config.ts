import { SHUTDOWN_GRACE_MS } from "../domain/defaults.js";
import { SETTINGS } from "./settings.js";
import { type Config, ConfigError } from "./types.js";

export { parseSize } from "./parsers.js";
export { type Config, ConfigError } from "./types.js";

/** Flags that take no value. */
export const SWITCH_SETTINGS: ReadonlySet<string> = new Set(
  SETTINGS.filter((s) => "isSwitch" in s && s.isSwitch).map((s) => s.flag),
);

/** Help lines for the settings: flag, variable, meaning and default (all from the settings table). */
export function settingsHelp(): string {
  return SETTINGS.map((s) => {
    const flag = "isSwitch" in s ? s.flag : `${s.flag} VALUE`;
    return `  ${flag.padEnd(28)} ${s.env.padEnd(26)} ${s.help} (${s.shown})`;
  }).join("\n");
}

/**
 * The defaults, for the given environment: each setting's from its row of the settings table (the
 * state dir follows XDG_STATE_HOME and HOME), then what is not a setting.
 */
function defaults(env: NodeJS.ProcessEnv, cwd: string): Config {
  const config: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const d = s.default as unknown;
    config[s.key] =
      typeof d === "function" ? (d as (ctx: { env: NodeJS.ProcessEnv; cwd: string }) => unknown)({ env, cwd }) : d;
  }
  return {
    ...(config as unknown as Config),
    shutdownGraceMs: SHUTDOWN_GRACE_MS,
    // A server started from inside a job must not mark its own jobs' shepherds as that job's; and the
    // HTTP token is the server's secret, not something every command it runs should see.
    baseEnv: Object.fromEntries(
      Object.entries(env).filter(([k]) => k !== "MCP_BG_JOB_ID" && k !== "MCP_BG_AUTH_TOKEN"),
    ),
  };
}

/**
 * Builds the configuration from flags (`--max-jobs 5` or `--max-jobs=5`) over environment
 * variables over defaults. Throws ConfigError with a one-line message on any bad value or flag.
 */
export function loadConfig(flags: ReadonlyMap<string, string>, env: NodeJS.ProcessEnv, cwd = process.cwd()): Config {
  const config = defaults(env, cwd);
  for (const flag of flags.keys()) {
    if (!SETTINGS.some((s) => s.flag === flag)) throw new ConfigError(`unknown option ${flag} (see --help)`);
  }
  for (const s of SETTINGS) {
    const fromFlag = flags.get(s.flag);
    const raw = fromFlag ?? env[s.env];
    if (raw === undefined || (fromFlag === undefined && raw === "")) continue;
    (config as unknown as Record<string, unknown>)[s.key] = s.parse(raw, fromFlag !== undefined ? s.flag : s.env, {
      env,
      cwd,
    });
  }
  if (config.executor === "slurm") config.slurm = true;
  if (config.http && !isLoopback(config.host) && !config.authToken) {
    throw new ConfigError(
      `--host ${config.host} is not a loopback address: set MCP_BG_AUTH_TOKEN so that only clients with the token get in`,
    );
  }
  return config;
}

/** Whether a host name or address reaches only this machine. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}
