import { accessSync, constants, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError, type Parser } from "./types.js";

export type { ParseContext, Parser } from "./types.js";

// One line, whatever the value or the reason contain.
export const bad = (name: string, raw: string, why: string) =>
  new ConfigError(`${name}=${JSON.stringify(raw)}: ${why.replace(/\s*\n\s*/g, " ")}`);

// A whole number within [min, max].
export const integer =
  (min: number, max: number): Parser<number> =>
  (raw, name) => {
    if (!/^\s*\d+\s*$/.test(raw)) throw bad(name, raw, `expected a whole number from ${min} to ${max}`);
    const n = Number(raw);
    if (n < min || n > max) throw bad(name, raw, `expected a whole number from ${min} to ${max}`);
    return n;
  };

// Seconds: a positive number, fractions allowed.
export const seconds: Parser<number> = (raw, name) => {
  const n = Number(raw);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(raw) || n <= 0) throw bad(name, raw, "expected a number of seconds > 0");
  return n;
};

// Seconds that a Node timer will hold (at most 2^31 - 1 ms).
export const timerSeconds: Parser<number> = (raw, name, ctx) => {
  const s = seconds(raw, name, ctx);
  if (s > 2_147_483) throw bad(name, raw, "expected at most 2147483 seconds (24 days)");
  return s;
};

/** Parses a byte size such as `10MB`, `512KB`, `1GB` or `4096` (binary units: 1KB = 1024 bytes). */
export function parseSize(raw: string, name = "size"): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$/i.exec(raw);
  if (!m) throw bad(name, raw, "expected a size such as 10MB, 512KB or 4096");
  const unit = (m[2] ?? "b").toLowerCase()[0] as "b" | "k" | "m" | "g";
  const bytes = Math.floor(Number(m[1]) * { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit]);
  if (bytes < 1024 || bytes > 4 * 1024 ** 3) throw bad(name, raw, "expected a size from 1KB to 4GB");
  return bytes;
}

// Comma-separated regular expressions.
export const regexList = (raw: string, name: string): RegExp[] =>
  raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((src) => {
      try {
        return new RegExp(src);
      } catch (err) {
        throw bad(name, raw, `invalid regular expression ${JSON.stringify(src)}: ${(err as Error).message}`);
      }
    });

// Yes or no.
export const yesNo: Parser<boolean> = (raw, name) => {
  const v = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off", ""].includes(v)) return false;
  throw bad(name, raw, "expected 1 or 0 (true/false, yes/no, on/off)");
};

export const directory: Parser<string> = (raw, name, ctx) => {
  const dir = resolve(ctx.cwd, raw);
  let ok = false;
  try {
    ok = statSync(dir).isDirectory();
  } catch {}
  if (!ok) throw bad(name, raw, "not an existing directory");
  return dir;
};

// An executable file: a path, or a bare name looked up on PATH.
export const executable: Parser<string> = (raw, name, ctx) => {
  const candidates = raw.includes("/")
    ? [resolve(ctx.cwd, raw)]
    : (ctx.env.PATH ?? "").split(":").map((d) => join(d || ".", raw));
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      if (statSync(path).isFile()) return path;
    } catch {}
  }
  throw bad(name, raw, "not an executable file");
};

/** A Slurm partition or account name: letters, digits and `_.-` (it becomes one sbatch argument). */
export const slurmName: Parser<string> = (raw, name) => {
  if (!/^[A-Za-z0-9_.-]{1,200}$/.test(raw)) throw bad(name, raw, "expected a Slurm name (letters, digits, _ . -)");
  return raw;
};

/** A JSON list of strings, each one command-line argument (never a shell string to split). */
export const jsonStringList: Parser<string[]> = (raw, name) => {
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch {
    throw bad(name, raw, 'expected a JSON list of strings, such as ["--qos=high"]');
  }
  if (!Array.isArray(list) || !list.every((a) => typeof a === "string" && a.length > 0 && !a.includes("\0"))) {
    throw bad(name, raw, 'expected a JSON list of non-empty strings, such as ["--qos=high"]');
  }
  return list as string[];
};
