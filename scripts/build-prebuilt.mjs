#!/usr/bin/env node
// The capture processes that the package carries, built by `npm pack` / `npm publish` (prepack):
//   prebuilt/linux-x64/shepherd     musl-gcc -static               (Debian: musl-tools)
//   prebuilt/linux-arm64/shepherd   aarch64-linux-gnu-gcc -static  (Debian: gcc-aarch64-linux-gnu, libc6-dev-arm64-cross)
//   prebuilt/darwin-arm64/shepherd  zig cc -target aarch64-macos   (Zig 0.11 from the npm registry: installed into
//   prebuilt/darwin-x64/shepherd    zig cc -target x86_64-macos     the test tools' cache by scripts/install-test-deps.mjs)
// The Linux ones are static, so they run on any Linux of their architecture, glibc or musl (Alpine), whatever
// its libc version. Debian has no musl cross compiler for arm64, so that one links glibc statically: a link
// warning that glibc would need its shared libraries at run time (getpwnam, getaddrinfo, dlopen, ...) is an
// error here. Each result is checked: an ELF for its machine without an interpreter or dynamic section; a
// Mach-O executable for its CPU that loads libSystem only, and on arm64 carries a code signature whose page
// hashes match (Zig signs ad hoc; Apple Silicon kills an unsigned binary). The macOS ones are built and
// checked here, never run: no Mac is at hand (README: Platforms).
// `--clean` (postpack) removes prebuilt/, so that a clone never runs a binary left over from a pack.
import { spawnSync } from "node:child_process";
import { chmodSync, closeSync, mkdirSync, openSync, readSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheRoot, ensureHost, TOOLS } from "./install-test-deps.mjs";
import { notMacExecutable } from "./macho.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "native", "shepherd.c");
const dir = join(root, "prebuilt");

/** What the package carries: target (process.platform-process.arch), compiler, ELF e_machine or Mach-O arch. */
const TARGETS = [
  { target: "linux-x64", cc: process.env.MUSL_CC || "musl-gcc", machine: 62 },
  { target: "linux-arm64", cc: process.env.AARCH64_CC || "aarch64-linux-gnu-gcc", machine: 183 },
  { target: "darwin-arm64", zig: "aarch64-macos", arch: "arm64" },
  { target: "darwin-x64", zig: "x86_64-macos", arch: "x64" },
];
const INSTALL = "apt-get install musl-tools gcc-aarch64-linux-gnu libc6-dev-arm64-cross";

/** Why an ELF file is not a static executable for `machine`, or undefined when it is one. */
function notStatic(path, machine) {
  const head = Buffer.alloc(4096);
  const fd = openSync(path, "r");
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (head.toString("latin1", 0, 4) !== "\x7fELF" || head[4] !== 2 || head[5] !== 1)
    return "not a 64-bit little-endian ELF";
  if (head.readUInt16LE(18) !== machine) return `built for ELF machine ${head.readUInt16LE(18)}, not ${machine}`;
  const phoff = Number(head.readBigUInt64LE(32));
  const phentsize = head.readUInt16LE(54);
  const phnum = head.readUInt16LE(56);
  if (phoff + phnum * phentsize > head.length) return "program headers beyond the first 4 KB";
  for (let i = 0; i < phnum; i++) {
    const type = head.readUInt32LE(phoff + i * phentsize);
    if (type === 3) return "it names a dynamic loader (PT_INTERP)";
    if (type === 2) return "it has a dynamic section (PT_DYNAMIC)";
  }
  return undefined;
}

/** Zig's compiler: $ZIG, else the one the test tools' cache holds (installed there if missing). */
function zig() {
  if (process.env.ZIG) return process.env.ZIG;
  const tool = TOOLS.find((t) => t.key === "zig");
  const r = ensureHost(tool);
  if (r.error) throw new Error(`no Zig to build the macOS capture processes with: ${r.error} (set ZIG to a zig 0.11+)`);
  return r.bin;
}

function buildMac({ target, zig: triple, arch }, compiler) {
  const out = join(dir, target, "shepherd");
  mkdirSync(dirname(out), { recursive: true });
  const cache = join(cacheRoot(), "zig-cache");
  const r = spawnSync(compiler, ["cc", "-target", triple, "-O2", "-Wall", "-Wextra", "-s", "-o", out, src], {
    encoding: "utf8",
    env: { ...process.env, ZIG_GLOBAL_CACHE_DIR: cache, ZIG_LOCAL_CACHE_DIR: cache },
  });
  if (r.error || r.status !== 0)
    throw new Error(`zig cc -target ${triple} failed on ${src}: ${r.error?.message ?? r.stderr}`);
  process.stderr.write(r.stderr);
  const wrong = notMacExecutable(out, arch);
  if (wrong) throw new Error(`${out} is not what a Mac of ${arch} runs: ${wrong}`);
  chmodSync(out, 0o755);
  return out;
}

function build({ target, cc, machine }) {
  const out = join(dir, target, "shepherd");
  mkdirSync(dirname(out), { recursive: true });
  // -s: no symbols (nobody debugs a user's copy; the x64 binary shrinks from 74 to 58 KB).
  const r = spawnSync(cc, ["-static", "-s", "-O2", "-Wall", "-Wextra", "-o", out, src], { encoding: "utf8" });
  if (r.error?.code === "ENOENT") throw new Error(`'${cc}' not found (Debian: ${INSTALL})`);
  if (r.error || r.status !== 0) throw new Error(`'${cc}' failed on ${src}: ${r.error?.message ?? r.stderr}`);
  process.stderr.write(r.stderr);
  // glibc's warning for a static program that calls getpwnam, getaddrinfo, dlopen, iconv...: such a
  // binary would load the build machine's shared libraries at run time after all.
  if (/statically linked applications requires at runtime/.test(r.stderr)) {
    throw new Error(`${target}: the shepherd calls a glibc function that needs shared libraries at run time`);
  }
  const wrong = notStatic(out, machine);
  if (wrong) throw new Error(`${out} is not a static executable: ${wrong}`);
  chmodSync(out, 0o755);
  return out;
}

if (process.argv.includes("--clean")) {
  rmSync(dir, { recursive: true, force: true });
} else {
  rmSync(dir, { recursive: true, force: true });
  try {
    let compiler;
    for (const t of TARGETS) {
      if (t.zig) compiler ??= zig();
      console.error(`mcp-bg-jobs: built ${t.zig ? buildMac(t, compiler) : build(t)}`);
    }
  } catch (err) {
    console.error(`mcp-bg-jobs: cannot build the prebuilt capture processes: ${err.message}`);
    process.exit(1);
  }
}
