// The web page with many jobs on the state dir: how soon the list paints in a real browser (Debian's
// Chromium through playwright-core), and what the server that serves it (MCP over HTTP and the page,
// on one port) holds in memory meanwhile. Skipped, saying so, where there is no Chromium.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const CHROMIUM = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find(
  (p) => p && existsSync(p),
);

// CPU time a process has used, in clock ticks (utime + stime).
function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

// Share of one core a process uses over `ms`, in percent (clock ticks are 1/100 s here).
async function cpuPercent(pid, ms) {
  const t0 = cpuTicks(pid);
  await new Promise((r) => setTimeout(r, ms));
  return ((cpuTicks(pid) - t0) / 100 / (ms / 1000)) * 100;
}

function memMB(pid, field) {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1]) / 1024;
}

/** Runs the page figures for `jobs` sleeping jobs; `record(name, value, unit, target)` reports each. */
export async function benchPage(bin, jobs, record) {
  if (!CHROMIUM) {
    console.error("page: skipped: no Chromium (apt-get install chromium)");
    return;
  }
  const { chromium } = await import("playwright-core");
  const state = mkdtempSync(join(tmpdir(), "mcp-bg-bench-page-"));
  const server = spawn(process.execPath, [bin, "--http", "--port", "0"], {
    env: { ...process.env, MCP_BG_STATE_DIR: state, MCP_BG_MAX_JOBS: String(jobs + 50) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const port = await new Promise((resolve, reject) => {
    server.stderr.on("data", (c) => {
      stderr += c;
      const m = /listening on http:\/\/[^ ]+:(\d+)\/mcp/.exec(stderr);
      if (m) resolve(Number(m[1]));
    });
    server.on("exit", () => reject(new Error(`server exited: ${stderr}`)));
  });
  const client = new Client({ name: "bench-page", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  try {
    for (let i = 0; i < jobs; i++) {
      await client.callTool({ name: "execute_command", arguments: { command: "sleep 1000", name: `job ${i}` } });
    }
    const before = memMB(server.pid, "VmRSS");
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const t0 = Date.now();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction((n) => document.querySelectorAll("tbody tr").length >= n, jobs, { timeout: 30_000 });
    const seenMs = Date.now() - t0;
    // Painted with every row, as the page measures it (from the navigation's start).
    const rowsMs = Number(
      await page.waitForFunction(() => document.body.dataset.listShownAt).then((h) => h.jsonValue()),
    );
    const fcp = await page.evaluate(
      () => performance.getEntriesByType("paint").find((e) => e.name === "first-contentful-paint")?.startTime ?? -1,
    );
    // With the page open and nothing changing: a look a second (running jobs, their ports).
    await new Promise((r) => setTimeout(r, 1000));
    const busy = await cpuPercent(server.pid, 5000);
    const peak = memMB(server.pid, "VmHWM");
    await page.close();
    await new Promise((r) => setTimeout(r, 1000));
    const quiet = await cpuPercent(server.pid, 5000);
    record(`page with ${jobs} running jobs open, nothing changing: server CPU`, busy, "% of a core");
    record(`... the same server with no page open`, quiet, "% of a core");
    record(`page with ${jobs} jobs: first contentful paint`, fcp, "ms", "<= 1000 ms");
    record(`page with ${jobs} jobs: the list painted (its first screen), from navigation`, rowsMs, "ms", "<= 1000 ms");
    record(`page with ${jobs} jobs: all rows in the page, as the test driver sees it`, seenMs, "ms");
    record(`page with ${jobs} jobs: server RSS before the page opened`, before, "MB");
    record(`page with ${jobs} jobs open: server peak (MCP over HTTP + page)`, peak, "MB", "<= 280 MB (250 + 30)");
  } finally {
    await browser.close();
    await client.close().catch(() => {});
    server.kill("SIGTERM");
    await new Promise((r) => server.on("exit", r));
    rmSync(state, { recursive: true, force: true });
  }
}
