#!/usr/bin/env node
// Bundles the compiled server (dist/cli/main.js) and its dependencies into dist/mcp-bg-jobs.mjs (and
// chunks it loads on demand): loading one file instead of hundreds of modules starts the server
// ~60 ms sooner.
import { chmodSync, rmSync } from "node:fs";
import { build } from "esbuild";

const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // Loaded on first use only (PTY jobs); it stays a normal dependency.
  external: ["@xterm/headless", "libsql"],
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  logLevel: "warning",
};
// Chunk names carry a hash: the last build's chunks would otherwise stay and be packed too.
rmSync("dist/chunks", { recursive: true, force: true });
// The server, and the thread that matches callers' patterns and renders terminals
// (src/workers/workers.ts); what is loaded only on demand (the HTTP side) goes into chunks.
await build({
  ...common,
  entryPoints: { "mcp-bg-jobs": "dist/cli/entry.js", worker: "dist/workers/worker-main.js" },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
});
chmodSync("dist/mcp-bg-jobs.mjs", 0o755);
