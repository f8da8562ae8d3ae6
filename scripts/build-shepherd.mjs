#!/usr/bin/env node
// The per-job capture process (native/shepherd.c) for this machine. Runs at install (npm's `install`
// script, so also `npm rebuild mcp-bg-jobs`), in `npm run build` (--dev), and from a server that finds
// none (an install that skipped scripts).
//
// - A package from npm carries builds for Linux and macOS, prebuilt/<platform>-<arch>/shepherd
//   (scripts/build-prebuilt.mjs, run by `npm pack`): when the one for this machine runs, nothing is
//   compiled and no compiler is needed.
// - Otherwise (another architecture; a clone of the project, where prebuilt/ does not exist), shepherd.c
//   is compiled with $CC or cc into build/shepherd, again whenever shepherd.c is newer. The server prefers
//   build/shepherd when both exist (src/executors/local/shepherd-binary.ts), so an edited shepherd.c
//   always wins. In a clone, the install script builds all (see below).
// - It never fails: without a usable compiler it prints one line saying what is missing and exits 0. The
//   server then starts all the same, and every tool call answers with that line.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const native = join(root, "native");
// shepherd.c includes the other files of native/ (os-linux.c or os-darwin.c, procs.c).
const src = join(native, "shepherd.c");
const out = join(root, "build", "shepherd");
const target = `${process.platform}-${process.arch}`;
const prebuilt = join(root, "prebuilt", target, "shepherd");
const dev = process.argv.includes("--dev");
const inClone = existsSync(join(root, "src"));

const say = (line) => console.error(`mcp-bg-jobs: ${line}`);

const mtime = (p) => {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return -1;
  }
};

// Whether a binary starts here (without arguments it prints its usage and exits 2); a binary for another
// libc or architecture fails to start (ENOENT, ENOEXEC) or its loader exits 126/127.
const runs = (binary) => {
  const r = spawnSync(binary, [], { stdio: "ignore", timeout: 10_000 });
  return !r.error && r.signal === null && r.status !== 126 && r.status !== 127;
};

if (process.platform !== "linux" && process.platform !== "darwin") {
  say(
    `jobs need Linux or macOS, and this is ${process.platform}: the server starts, and each tool says so (README: Platforms)`,
  );
  process.exit(0);
}
// In a clone, `npm ci` (or `npm install`) runs this as the install script: it builds all, this included
// (`npm run build`). The package has no `prepare` script: one would be carried into the tarball, where it
// could not run (no sources, no TypeScript).
if (!dev && inClone && process.env.npm_lifecycle_event === "install") {
  const npm = process.env.npm_execpath;
  const r = npm
    ? spawnSync(process.execPath, [npm, "run", "build"], { stdio: "inherit", cwd: root })
    : spawnSync("npm", ["run", "build"], { stdio: "inherit", cwd: root });
  process.exit(r.status ?? 1);
}
if (!dev && existsSync(prebuilt) && runs(prebuilt)) process.exit(0);
// Up to date, and (at install) it starts here: one compiled elsewhere (a glibc build/ mounted into
// an Alpine container) is compiled again.
const newestSource = () => {
  try {
    return Math.max(...readdirSync(native).map((f) => mtime(join(native, f))));
  } catch {
    return mtime(src);
  }
};
if (mtime(out) >= newestSource() && !process.argv.includes("--force") && (dev || runs(out))) process.exit(0);

const cc = process.env.CC || "cc";
let why;
if (!existsSync(src)) {
  why = `${src} is missing`;
} else {
  try {
    mkdirSync(dirname(out), { recursive: true });
    execFileSync(cc, ["-O2", "-Wall", "-Wextra", "-o", out, src], { stdio: ["ignore", "ignore", "inherit"] });
  } catch (err) {
    why =
      err.code === "ENOENT"
        ? `there is no C compiler ('${cc}' not found)`
        : `compiling native/shepherd.c with '${cc}' failed (${typeof err.status === "number" ? `exit ${err.status}` : err.message})`;
  }
}
if (why) {
  const remedy = inClone ? "run `npm run build`" : "start the server again (it compiles native/shepherd.c at start)";
  const install =
    process.platform === "darwin"
      ? "install Xcode's command line tools (xcode-select --install)"
      : "install a C compiler (cc)";
  say(`no capture process for ${target}: ${why}; ${install} and ${remedy}`);
}
process.exit(0);
