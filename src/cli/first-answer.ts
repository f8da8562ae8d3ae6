import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Config, loadConfig } from "../config/config.js";
import { log, logDebug } from "../log.js";
import { PACKAGE_ROOT } from "../package-root.js";
import type { EarlyStart } from "../serve/serve-stdio.js";
import { VERSION } from "../version.js";
import { parseArgs, SWITCHES, settingOptions } from "./args.js";

/**
 * The first answer of a stdio connection, given before the server is loaded. Loading the MCP SDK,
 * its schemas and the engine takes two to three times as long as Node's own start; some hosts give
 * the first answer one second, on a busy machine too. The answers to `initialize` and
 * `server/discover` depend on nothing but the request's protocol version and two settings, so the
 * build (scripts/first-answers.mjs) asks the real server each of them and keeps them in
 * dist/first-answers.json; this file, loaded without the SDK, gives the one that fits, puts the
 * request back on stdin for the server, which then sees it as usual, and drops the server's own
 * answer to it (see BoundedStdioTransport.skipAnswer). Anything not exactly of the kinds recorded
 * goes to the server untouched. `MCP_BG_EARLY_ANSWER=0` turns this off.
 */

/** The answers the build recorded (dist/first-answers.json). */
export interface FirstAnswers {
  version: string;
  /** The 2025-era protocol versions the server negotiates, the one it falls back to first. */
  legacyVersions: string[];
  /** `initialize` results by key (see initializeKey), `server/discover` results by key (discoverKey). */
  results: Record<string, unknown>;
}

export const ANSWERS_PATH = join(PACKAGE_ROOT, "dist", "first-answers.json");

/** How long the first line is waited for before the server is loaded anyway (hosts write at once). */
const WAIT_MS = 50;

/** A first line longer than this is left to the server. */
const MAX_LINE = 64 * 1024;

export const initializeKey = (version: string, config: Pick<Config, "keepJobs" | "notifyChannel">) =>
  `initialize ${version} keep=${Number(config.keepJobs)} channel=${Number(config.notifyChannel)}`;
export const discoverKey = (revision: string, config: Pick<Config, "keepJobs">) =>
  `discover ${revision} keep=${Number(config.keepJobs)}`;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const onlyKeys = (o: Record<string, unknown>, keys: readonly string[]) => Object.keys(o).every((k) => keys.includes(k));
const isId = (v: unknown): v is string | number =>
  typeof v === "string" || (typeof v === "number" && Number.isInteger(v));

// {name, version} with strings, and at most the other fields an Implementation has, as strings.
function isImplementation(v: unknown): boolean {
  return (
    isObject(v) &&
    typeof v.name === "string" &&
    typeof v.version === "string" &&
    onlyKeys(v, ["name", "version", "title", "description", "websiteUrl"]) &&
    Object.values(v).every((x) => typeof x === "string")
  );
}

// Client capabilities as the SDK takes them without complaint: an object of objects.
const isCapabilities = (v: unknown) => isObject(v) && Object.values(v).every(isObject);

/**
 * The result recorded for a first request of exactly a recorded kind, or undefined (the server
 * answers it). Shapes are checked strictly: whatever the SDK might refuse or treat otherwise (an
 * envelope on an initialize, unknown fields, a batch) is not answered here.
 */
function recordedResult(
  message: unknown,
  answers: FirstAnswers,
  config: Pick<Config, "keepJobs" | "notifyChannel">,
): unknown {
  if (!isObject(message) || message.jsonrpc !== "2.0" || !isId(message.id)) return undefined;
  if (!onlyKeys(message, ["jsonrpc", "id", "method", "params"]) || !isObject(message.params)) return undefined;
  const params = message.params;
  if (message.method === "initialize") {
    if (!onlyKeys(params, ["protocolVersion", "capabilities", "clientInfo"])) return undefined;
    if (typeof params.protocolVersion !== "string" || !isCapabilities(params.capabilities)) return undefined;
    if (!isImplementation(params.clientInfo)) return undefined;
    const requested = params.protocolVersion;
    const version = answers.legacyVersions.includes(requested) ? requested : answers.legacyVersions[0];
    return version === undefined ? undefined : answers.results[initializeKey(version, config)];
  }
  if (message.method === "server/discover") {
    if (!onlyKeys(params, ["_meta"]) || !isObject(params._meta)) return undefined;
    const meta = params._meta;
    const p = "io.modelcontextprotocol/";
    if (!onlyKeys(meta, [`${p}protocolVersion`, `${p}clientInfo`, `${p}clientCapabilities`])) return undefined;
    const revision = meta[`${p}protocolVersion`];
    if (typeof revision !== "string" || !isImplementation(meta[`${p}clientInfo`])) return undefined;
    if (!isCapabilities(meta[`${p}clientCapabilities`])) return undefined;
    return answers.results[discoverKey(revision, config)];
  }
  return undefined;
}

// The recorded answers, if this build has them and they are this version's.
function readAnswers(): FirstAnswers | undefined {
  try {
    const answers = JSON.parse(readFileSync(ANSWERS_PATH, "utf8")) as FirstAnswers;
    return answers.version === VERSION && Array.isArray(answers.legacyVersions) && isObject(answers.results)
      ? answers
      : undefined;
  } catch {
    return undefined;
  }
}

// Reads stdin until its first line ends (or it ends, or WAIT_MS pass), then puts every byte back.
function firstLine(): Promise<{ line?: Buffer; ended: boolean }> {
  const stdin = process.stdin;
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    const finish = (ended: boolean) => {
      clearTimeout(timer);
      stdin.off("data", onData);
      stdin.off("end", onEnd);
      stdin.pause();
      const all = Buffer.concat(parts, size);
      if (!ended && size > 0) stdin.unshift(all);
      const nl = all.indexOf(10);
      resolve({ ...(nl === -1 || nl > MAX_LINE || ended ? {} : { line: all.subarray(0, nl) }), ended });
    };
    const onData = (chunk: Buffer) => {
      parts.push(chunk);
      size += chunk.length;
      if (chunk.includes(10) || size > MAX_LINE) finish(false);
    };
    const onEnd = () => finish(true);
    const timer = setTimeout(() => finish(false), WAIT_MS);
    stdin.on("data", onData);
    stdin.on("end", onEnd);
  });
}

/**
 * For `mcp-bg-jobs` serving MCP on stdio with a usable configuration: answers the first request if
 * it is an `initialize` or `server/discover` the build recorded, and says what it did. Anything
 * else (a command, --http, help, a setting in error: the server says it) is left as it was.
 */
export async function answerFirst(argv: string[], env: NodeJS.ProcessEnv): Promise<EarlyStart | undefined> {
  if (env.MCP_BG_EARLY_ANSWER === "0") return undefined;
  const args = parseArgs(argv, SWITCHES);
  if (args.positionals.length > 0 || args.switches.has("--help") || args.switches.has("--version")) return undefined;
  if (argv.includes("-h") || argv.includes("-v")) return undefined;
  let config: Config;
  try {
    config = loadConfig(settingOptions(args), env);
  } catch {
    return undefined;
  }
  if (config.http) return undefined;
  const answers = readAnswers();
  if (!answers) return undefined;
  const { line, ended } = await firstLine();
  if (ended) return { stdinEnded: true };
  if (!line) return undefined;
  let message: unknown;
  try {
    message = JSON.parse(line.toString("utf8"));
  } catch {
    return undefined;
  }
  const result = recordedResult(message, answers, config);
  if (result === undefined) return undefined;
  const id = (message as { id: string | number }).id;
  process.stdout.write(`${JSON.stringify({ result, jsonrpc: "2.0", id })}\n`);
  logDebug(config.debug);
  log("debug", `the first request (${(message as { method: string }).method}) answered before the server was loaded`);
  return { answered: id };
}
