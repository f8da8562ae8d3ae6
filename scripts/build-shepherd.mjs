#!/usr/bin/env node
// Compiles native/shepherd.c into build/shepherd (the per-job capture process). Runs on npm install and build.
import { execFileSync } from "node:child_process";
import { mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "native", "shepherd.c");
const out = join(root, "build", "shepherd");

const mtime = (p) => {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return -1;
  }
};

if (mtime(out) >= mtime(src) && !process.argv.includes("--force")) process.exit(0);
mkdirSync(dirname(out), { recursive: true });
const cc = process.env.CC || "cc";
try {
  execFileSync(cc, ["-O2", "-Wall", "-Wextra", "-o", out, src], { stdio: "inherit" });
} catch (err) {
  console.error(`mcp-bg-jobs: could not compile ${src} with '${cc}' (${err.message}); a C compiler is required`);
  process.exit(1);
}
