#!/usr/bin/env node
// Puts the web page into dist/ui: its own files (ui/) and the terminal renderer it uses (@xterm/xterm
// and its search addon, from node_modules), so that the package serves everything itself: no CDN,
// no network at run time.
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "ui");
mkdirSync(out, { recursive: true });
for (const f of readdirSync(join(root, "ui"))) copyFileSync(join(root, "ui", f), join(out, f));
const require = createRequire(join(root, "package.json"));
const xterm = dirname(require.resolve("@xterm/xterm/package.json"));
const search = dirname(require.resolve("@xterm/addon-search/package.json"));
copyFileSync(join(xterm, "lib", "xterm.js"), join(out, "xterm.js"));
copyFileSync(join(xterm, "css", "xterm.css"), join(out, "xterm.css"));
copyFileSync(join(search, "lib", "addon-search.js"), join(out, "addon-search.js"));
