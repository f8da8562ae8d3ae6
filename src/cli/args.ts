import { SWITCH_SETTINGS } from "../config/config.js";

/** Command-line arguments split into options (`--name value`, `--name=value`, `--switch`) and positionals. */
export interface ParsedArgs {
  options: Map<string, string>;
  switches: Set<string>;
  positionals: string[];
}

/**
 * Splits argv. Options named in `switchNames` take no value (`--name=value` still gives one, as an
 * option); every other `--name` takes the next argument (or the part after `=`) as its value.
 */
export function parseArgs(argv: readonly string[], switchNames: ReadonlySet<string>): ParsedArgs {
  const parsed: ParsedArgs = { options: new Map(), switches: new Set(), positionals: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith("--") || arg === "--") {
      parsed.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (switchNames.has(name) && eq === -1) {
      parsed.switches.add(name);
    } else if (eq !== -1) {
      parsed.options.set(name, arg.slice(eq + 1));
    } else if (i + 1 < argv.length) {
      parsed.options.set(name, argv[++i] as string);
    } else {
      parsed.options.set(name, "");
    }
  }
  return parsed;
}

/** Switches of the command line (settings that take no value, help and version). */
export const SWITCHES: ReadonlySet<string> = new Set(["--help", "-h", "--version", "-v", ...SWITCH_SETTINGS]);

/** Switches that are settings (`--keep-jobs`) become options with the value 1. */
export function settingOptions(args: { options: Map<string, string>; switches: Set<string> }): Map<string, string> {
  const options = new Map(args.options);
  for (const s of args.switches) if (SWITCH_SETTINGS.has(s)) options.set(s, "1");
  return options;
}
