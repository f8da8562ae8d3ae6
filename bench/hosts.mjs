// The workflows of workflows.mjs through the real agent hosts (Claude Code, Codex, Gemini CLI, as
// scripts/install-test-deps.mjs installs them), each driven by the scripted fake model of the host tests
// (test/hosts/fake-model.ts, hosts-harness.ts) on 127.0.0.1. For each host and workflow: the MCP calls,
// the characters of tool results the model was shown (as the host wrapped them, read from the requests the
// host sent the fake model), and the wall time from the model's first MCP call to its final answer (the
// host's start-up is not in it; the whole run is beside it). Beside them, the same workflows with the
// seed's tools only: start, then poll every second (get_job_output for the dev server's line,
// get_job_status for the suite's end, then get_job_output). Hosts that are not installed are left out;
// with none, the section says so in one line. `--quick`: one host, one workflow.
//
// Node 20 does not run TypeScript: the harness is bundled by esbuild (a dev dependency, as the SDK
// client run.mjs uses) into a temporary file, its import.meta.url kept as its own so that it finds the
// built server and its MCP tap.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { median } from "./timing.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const HARNESS = join(ROOT, "test", "hosts", "hosts-harness.ts");
const INSTALL = join(ROOT, "scripts", "install-test-deps.mjs");

const HOSTS = [
  { name: "claude", title: "Claude Code" },
  { name: "codex", title: "Codex" },
  { name: "gemini", title: "Gemini CLI" },
];

// The same two commands as workflows.mjs (not exported there).
// A dev server: ready after a moment, listening on a port it picks, printing where.
const DEV_SERVER = `python3 -c 'import socket,time
time.sleep(0.5); s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen()
print("compiled in 512 ms", flush=True); print("ready on http://127.0.0.1:%d/" % s.getsockname()[1], flush=True)
time.sleep(300)'`;

// A test suite: 2,000 lines of passing tests, 3 failures among them, a summary, exit code 1.
const TEST_SUITE = `python3 -c 'import sys,time
time.sleep(0.3)
for i in range(1, 1998):
  print("ok %d - test_case_%d passes" % (i, i))
  if i in (400, 1200, 1900): print("FAIL test_case_%d: expected 2, got 3 (tests/case_%d.py:17)" % (i, i))
print("1997 passed, 3 failed"); sys.exit(1)'`;

/** How long the seed's agent waits between two polls. */
const POLL_MS = 1000;
/** Polls at most (a hang guard: each workflow ends in a few). */
const MAX_POLLS = 120;

/** The server's JSON in a result the model saw, or a failure saying what it saw instead. */
const json = (prev) => {
  if (!prev?.json) throw new Error(`no JSON in the result: ${prev?.text.slice(0, 300)}`);
  return prev.json;
};
const jobIdOf = (all) => json(all.find((p) => /execute_command$/.test(p.name))).job_id;
const isTool = (prev, tool) => prev?.name.endsWith(tool) === true;

/** How many of the suite's 3 failure lines the model was shown, in words. */
const failuresShown = (shown) => `${new Set(shown.match(/FAIL test_case_\d+/g)).size}/3 failure lines shown`;

/**
 * The workflows: the tools of each (`uses`: what Claude Code's model loads first), the script, and a
 * check of the results (the server's JSON in each tool's latest result, and all result text as shown)
 * that says what the model learnt, or false.
 */
const WORKFLOWS = [
  {
    workflow: "dev server",
    tools: "start+wait",
    uses: ["execute_command", "kill_job"],
    script: [
      { tool: "execute_command", args: { command: DEV_SERVER, wait_until: "ready on", wait_seconds: 30 } },
      { tool: "kill_job", args: (prev) => ({ job_id: json(prev).job_id }) },
      { text: "The dev server came up and is stopped." },
    ],
    check: (seen) => seen.execute_command?.matched === true && seen.kill_job?.status === "killed" && "ready, stopped",
  },
  {
    workflow: "dev server",
    tools: "seed (poll output)",
    uses: ["execute_command", "get_job_output", "kill_job"],
    script: [
      { tool: "execute_command", args: { command: DEV_SERVER } },
      ...Array.from({ length: MAX_POLLS }, () => ({
        next: (prev, all) => {
          if (isTool(prev, "kill_job")) return { text: "The dev server came up and is stopped." };
          const job_id = jobIdOf(all);
          if (isTool(prev, "get_job_output") && /ready on/.test(json(prev).stdout))
            return { tool: "kill_job", args: { job_id } };
          return { tool: "get_job_output", args: { job_id }, delayMs: isTool(prev, "execute_command") ? 0 : POLL_MS };
        },
      })),
    ],
    check: (seen) =>
      /ready on/.test(seen.get_job_output?.stdout ?? "") && seen.kill_job?.status === "killed" && "ready, stopped",
  },
  {
    workflow: "test suite",
    tools: "start+wait, search",
    uses: ["execute_command", "search_job_output"],
    script: [
      { tool: "execute_command", args: { command: TEST_SUITE, wait_seconds: 50 } },
      { tool: "search_job_output", args: (prev) => ({ job_id: json(prev).job_id, pattern: "^FAIL" }) },
      { text: "3 tests failed." },
    ],
    check: (seen, shown) =>
      seen.execute_command?.exit_code === 1 && seen.search_job_output?.total_matches === 3 && failuresShown(shown),
  },
  {
    workflow: "test suite",
    tools: "seed (poll status)",
    uses: ["execute_command", "get_job_status", "get_job_output"],
    script: [
      { tool: "execute_command", args: { command: TEST_SUITE } },
      ...Array.from({ length: MAX_POLLS }, () => ({
        next: (prev, all) => {
          if (isTool(prev, "get_job_output")) return { text: "3 tests failed." };
          const job_id = jobIdOf(all);
          if (isTool(prev, "get_job_status") && json(prev).status !== "running")
            return { tool: "get_job_output", args: { job_id } };
          return { tool: "get_job_status", args: { job_id }, delayMs: isTool(prev, "execute_command") ? 0 : POLL_MS };
        },
      })),
    ],
    // What the model sees of the full output is what its host keeps of a large result.
    check: (seen, shown) => seen.get_job_status?.exit_code === 1 && failuresShown(shown),
  },
];

/** The installed hosts ({name: {bin, version}}), installing nothing. */
function installedHosts() {
  const r = spawnSync(process.execPath, [INSTALL, "--check", "--json", ...HOSTS.map((h) => h.name)], {
    encoding: "utf8",
    timeout: 120_000,
    stdio: ["ignore", "pipe", "pipe"],
  });
  try {
    const found = JSON.parse((r.stdout ?? "").trim().split("\n").at(-1) ?? "");
    return Object.fromEntries(Object.entries(found).filter(([, v]) => v.bin));
  } catch {
    return {};
  }
}

/** test/hosts/hosts-harness.ts and fake-model.ts's findJson, bundled for plain Node. */
async function loadHarness() {
  const { build } = await import("esbuild");
  const dir = mkdtempSync(join(tmpdir(), "mcp-bg-bench-hosts-"));
  try {
    const outfile = join(dir, "hosts-harness.mjs");
    await build({
      stdin: {
        contents: 'export * from "./hosts-harness.ts"; export { findJson } from "./fake-model.ts";',
        resolveDir: dirname(HARNESS),
        loader: "ts",
      },
      bundle: true,
      platform: "node",
      format: "esm",
      outfile,
      define: { "import.meta.url": JSON.stringify(pathToFileURL(HARNESS).href) },
      logLevel: "error",
    });
    return await import(pathToFileURL(outfile).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One run of a workflow through a host: its figures, or an error saying what went wrong. */
async function runOnce(h, host, wf) {
  const script =
    host.name === "claude"
      ? [
          // Claude Code's model loads the deferred MCP tools first (ToolSearch is not an MCP call).
          {
            tool: "ToolSearch",
            builtin: true,
            args: { query: `select:${wf.uses.map((t) => `mcp__${h.SERVER_NAME}__${t}`).join(",")}` },
          },
          ...wf.script,
        ]
      : wf.script;
  const r = await h.runHost(host.name, { bin: host.bin, script, timeoutMs: 180_000 });
  const results = r.model.mcpResults();
  const seen = {};
  for (const x of results) seen[x.tool] = h.findJson(x.text);
  const turns = r.model.mainRequests();
  const firstCall = turns.find((q) => q.call && q.call.name !== q.call.tool);
  const final = turns.at(-1);
  const said = `${host.title} ${wf.workflow}, ${wf.tools}: exit ${r.code ?? r.signal}${r.timedOut ? " (timed out)" : ""}; model errors: ${r.model.errors.join("; ")}; last answer: ${final?.answer}; stderr: ${r.stderr.slice(-500)}`;
  if (r.timedOut || r.code !== 0 || r.model.errors.length > 0 || !/^text /.test(final?.answer ?? ""))
    throw new Error(said);
  const outcome = wf.check(seen, results.map((x) => x.text).join("\n"));
  if (!outcome) throw new Error(`${said}; results: ${JSON.stringify(seen).slice(0, 1000)}`);
  // A host that keeps only part of a large result says so in it.
  const cut = results.some((x) => /<persisted-output>|tokens truncated|Output too large/.test(x.text));
  const calls = h.methodsOf(r.tap).filter((m) => m === "tools/call").length;
  if (calls !== results.length)
    throw new Error(`${said}: ${calls} tools/call to the server, ${results.length} results shown to the model`);
  return {
    calls,
    chars: results.reduce((n, x) => n + x.text.length, 0),
    workflowMs: (final?.at ?? Number.NaN) - (firstCall?.answeredAt ?? Number.NaN),
    runMs: r.ms,
    outcome: `${outcome}${cut ? " (result cut by the host)" : ""}`,
  };
}

/** Runs the section: `record(name, value, unit, target, extra)` as run.mjs does. */
export async function benchHosts({ quick, runs, record }) {
  const found = installedHosts();
  const hosts = HOSTS.filter((x) => found[x.name]).map((x) => ({
    ...x,
    bin: found[x.name].bin,
    version: /\d+\.\d+\.\d+/.exec(found[x.name].version)?.[0] ?? "",
  }));
  if (hosts.length === 0) {
    console.error("  hosts: skipped (no agent host installed: `node scripts/install-test-deps.mjs` installs them)");
    return;
  }
  let harness;
  try {
    harness = await loadHarness();
  } catch (err) {
    console.error(`  hosts: skipped (the harness could not be bundled: ${err.message.split("\n")[0]})`);
    return;
  }
  const plan = quick ? [{ host: hosts[0], wfs: [WORKFLOWS[2]] }] : hosts.map((host) => ({ host, wfs: WORKFLOWS }));
  const rows = [];
  for (const { host, wfs } of plan)
    for (const wf of wfs) {
      const got = [];
      for (let i = 0; i < (quick ? 1 : runs); i++) got.push(await runOnce(harness, host, wf));
      const row = {
        host: `${host.title} ${host.version}`,
        workflow: wf.workflow,
        tools: wf.tools,
        calls: median(got.map((g) => g.calls)),
        chars: median(got.map((g) => g.chars)),
        workflowMs: median(got.map((g) => g.workflowMs)),
        runMs: median(got.map((g) => g.runMs)),
        outcome: got[0]?.outcome,
      };
      rows.push(row);
      record(`${host.title}: ${wf.workflow}, ${wf.tools}: result chars`, row.chars, "chars", undefined, {
        calls: row.calls,
        workflow_ms: row.workflowMs,
        host_run_ms: row.runMs,
        outcome: row.outcome,
      });
    }
  const cols = [
    ["host", (r) => r.host, 20],
    ["workflow", (r) => r.workflow, 11],
    ["tools", (r) => r.tools, 19],
    ["MCP calls", (r) => r.calls, 10],
    ["result chars", (r) => r.chars, 13],
    ["workflow s", (r) => (r.workflowMs / 1000).toFixed(1), 11],
    ["host run s", (r) => (r.runMs / 1000).toFixed(1), 11],
    ["the model learnt", (r) => r.outcome, 0],
  ];
  const line = (cells) => `  ${cells.map((c, i) => String(c).padEnd(cols[i][2])).join(" ")}`.trimEnd();
  console.error(
    `  hosts: ${runs > 1 && !quick ? `medians of ${runs} runs; ` : ""}result chars as the host showed them to the model; workflow s from the first MCP call to the final answer`,
  );
  console.error(line(cols.map((c) => c[0])));
  for (const r of rows) console.error(line(cols.map((c) => c[1](r))));
}
