#!/usr/bin/env node
// Records the server's answers to a first `initialize` (each 2025-era protocol version, with and
// without --keep-jobs and --notify-channel) and `server/discover` (each 2026-era revision, with and
// without --keep-jobs) in dist/first-answers.json, asking the built server itself with its early
// answer off. The server gives them from there before it loads the SDK (src/cli/first-answer.ts).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SUPPORTED_PROTOCOL_VERSIONS } from "@modelcontextprotocol/server";
// The server's own names for what it records (tsc has built them by now).
import { ANSWERS_PATH, discoverKey, initializeKey } from "../dist/cli/first-answer.js";
import { VERSION } from "../dist/version.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(root, "dist", "mcp-bg-jobs.mjs");
const MODERN = "2026-07-28";
const legacyVersions = SUPPORTED_PROTOCOL_VERSIONS.filter((v) => v < MODERN);
const modernRevisions = [MODERN];
const client = { name: "mcp-bg-jobs-build", version: "1" };

// The result of the server's answer to `request` as the first message, with these settings.
async function ask(request, { keep, channel }) {
  const state = mkdtempSync(join(tmpdir(), "mcp-bg-first-"));
  const p = spawn(process.execPath, [BIN], {
    env: {
      ...process.env,
      MCP_BG_EARLY_ANSWER: "0",
      MCP_BG_STATE_DIR: state,
      MCP_BG_KEEP_JOBS: keep ? "1" : "0",
      MCP_BG_NOTIFY_CHANNEL: channel ? "1" : "0",
    },
    stdio: ["pipe", "pipe", "ignore"],
  });
  p.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 1, ...request })}\n`);
  let out = "";
  for await (const chunk of p.stdout) {
    out += chunk;
    if (out.includes("\n")) break;
  }
  p.stdin.end();
  await new Promise((r) => (p.exitCode === null ? p.on("close", r) : r()));
  rmSync(state, { recursive: true, force: true });
  const answer = JSON.parse(out.slice(0, out.indexOf("\n")));
  if (!answer.result) throw new Error(`first-answers: ${request.method} got ${out}`);
  return answer.result;
}

const jobs = [];
for (const keep of [false, true]) {
  for (const channel of [false, true]) {
    for (const version of legacyVersions) {
      const key = initializeKey(version, { keepJobs: keep, notifyChannel: channel });
      const params = { protocolVersion: version, capabilities: {}, clientInfo: client };
      jobs.push(ask({ method: "initialize", params }, { keep, channel }).then((r) => [key, r]));
    }
  }
  for (const revision of modernRevisions) {
    const key = discoverKey(revision, { keepJobs: keep });
    const _meta = {
      "io.modelcontextprotocol/protocolVersion": revision,
      "io.modelcontextprotocol/clientInfo": client,
      "io.modelcontextprotocol/clientCapabilities": {},
    };
    jobs.push(ask({ method: "server/discover", params: { _meta } }, { keep, channel: false }).then((r) => [key, r]));
  }
}
const results = Object.fromEntries(await Promise.all(jobs));
writeFileSync(ANSWERS_PATH, `${JSON.stringify({ version: VERSION, legacyVersions, results })}\n`);
