// Runs the MCP conformance suite (@modelcontextprotocol/conformance 0.1.13, the last that runs on
// Node 20) against the built server in HTTP mode: every scenario that applies to this server
// (conformance/scenarios.json says which do and why the others do not). Exits 1 if any fails.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const { applies } = JSON.parse(readFileSync(join(root, "conformance", "scenarios.json"), "utf8"));
const state = mkdtempSync(join(tmpdir(), "mcp-bg-conformance-"));
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MCP_BG_")));
const server = spawn(process.execPath, [join(root, "dist", "mcp-bg-jobs.mjs"), "--http", "--port", "0"], {
  env: { ...env, MCP_BG_STATE_DIR: state },
  stdio: ["ignore", "ignore", "pipe"],
});
let log = "";
const url = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`the server did not start:\n${log}`)), 15_000);
  server.stderr.on("data", (chunk) => {
    log += chunk;
    const m = /listening on http:\/\/[^:]+:(\d+)\/mcp/.exec(log);
    if (m) {
      clearTimeout(timer);
      // The DNS-rebinding scenario wants a localhost URL.
      resolve(`http://localhost:${m[1]}/mcp`);
    }
  });
  server.on("exit", (code) => reject(new Error(`the server exited (${code}):\n${log}`)));
});

const bin = join(root, "node_modules", ".bin", "conformance");
const failed = [];
for (const scenario of applies) {
  const r = spawnSync(bin, ["server", "--url", url, "--scenario", scenario], { encoding: "utf8" });
  const summary = /Passed: .*/.exec(r.stdout ?? "")?.[0] ?? "(no summary)";
  // A warning (for instance no session id where one is expected) counts as a failure here.
  const ok = r.status === 0 && /, 0 warnings/.test(summary);
  console.log(`${ok ? "PASS" : "FAIL"}  ${scenario.padEnd(28)} ${summary}`);
  if (!ok) {
    failed.push(scenario);
    console.log(r.stdout, r.stderr);
  }
}
server.kill("SIGTERM");
await new Promise((r) => server.on("close", r));
rmSync(state, { recursive: true, force: true });
console.log(`conformance: ${applies.length - failed.length} of ${applies.length} scenarios passed`);
process.exit(failed.length ? 1 : 0);
