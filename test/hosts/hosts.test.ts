import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { markedLoop, marker, processesMatching, steadyCount, waitFor } from "../support/helpers.js";
import { findJson, type PrevResult, type Step, type ToolResult } from "./fake-model.js";
import {
  type HostName,
  type HostRun,
  type InstalledHost,
  installedHosts,
  methodsOf,
  type RunOptions,
  runClaudeInteractive,
  runHost,
  SERVER_NAME,
} from "./hosts-harness.js";

// The three agent hosts, for real, as MCP clients of the built server: Claude Code, Codex and Gemini CLI
// at the versions scripts/install-test-deps.mjs pins, each talking to a scripted fake model (fake-model.ts)
// on 127.0.0.1, no network. The hosts are installed into a cache outside the package (the script runs
// here, and installs what is missing unless MCP_BG_HOSTS_INSTALL=0; a second or two when all are
// there); a host that cannot be installed has its tests skipped, saying so in one line.

const found = installedHosts();
const HOSTS: { name: HostName; title: string; bin?: string; version?: string }[] = [
  { name: "claude", title: "Claude Code" },
  { name: "codex", title: "Codex" },
  { name: "gemini", title: "Gemini CLI" },
];
for (const h of HOSTS) {
  const r = found[h.name];
  if ("bin" in r)
    Object.assign(h, {
      bin: (r as InstalledHost).bin,
      version: /\d+\.\d+\.\d+/.exec((r as InstalledHost).version)?.[0],
    });
  else console.warn(`hosts.test.ts: ${h.title} tests skipped: ${r.error}`);
}
const hasScript = spawnSync("script", ["--version"], { stdio: "ignore" }).status === 0;

const TOOLS = [
  "execute_command",
  "list_jobs",
  "get_job_status",
  "get_job_output",
  "tail_job_output",
  "interact_with_job",
  "kill_job",
  "wait_for_job",
  "search_job_output",
];

/** What each host negotiates over stdio, read from the first message it sends (HOSTS-NOTES.md). */
const ERA: Record<HostName, { era: string; version: string; firstMethod: string }> = {
  claude: { era: "2026", version: "2026-07-28", firstMethod: "server/discover" },
  codex: { era: "2025", version: "2025-06-18", firstMethod: "initialize" },
  gemini: { era: "2025", version: "2025-06-18", firstMethod: "initialize" },
};

/**
 * Characters of results the model sees for the 2,000-line failing run (two calls), measured with the
 * server of December 2026: Claude Code 701, Codex 769 (its "Wall time" line varies by a few), Gemini
 * CLI 891 (its envelope escapes every quote). The bounds leave ~20% for ids, pids and cursors.
 */
const CHARS_SEEN_BOUND: Record<HostName, number> = { claude: 850, codex: 950, gemini: 1_100 };

// How each host stops its server (measured through mcp-tap.mjs, which writes down the signals it gets
// and outlives a SIGKILL of the host's): Claude Code sends SIGINT, SIGTERM 0.1 s later and SIGKILL
// ~0.4 s after that; Codex SIGTERM then SIGKILL ~60 ms later; Gemini CLI SIGTERM only.

/**
 * The script as each host's model writes it: Claude Code defers MCP tools behind its ToolSearch tool,
 * so its model first loads the tools the script uses (`select:` with their full names).
 */
function scriptFor(host: HostName, steps: Step[], load: string[] = []): Step[] {
  if (host !== "claude") return steps;
  const used = new Set(load);
  for (const s of steps) if ("tool" in s && !s.builtin) used.add(s.tool);
  const query = `select:${[...used].map((t) => `mcp__${SERVER_NAME}__${t}`).join(",")}`;
  return [{ tool: "ToolSearch", builtin: true, args: { query } }, ...steps];
}

/** The server's JSON in the latest result, or a failure saying what the model was shown instead. */
function json(prev: PrevResult | undefined): Record<string, unknown> {
  if (!prev?.json) throw new Error(`no JSON in the previous result: ${prev?.text.slice(0, 300)}`);
  return prev.json;
}

/** The server's JSON in a result the model saw (each host wraps it its own way). */
function seen(r: ToolResult | undefined): Record<string, unknown> {
  if (!r) throw new Error("the model was shown no such result");
  const parsed = findJson(r.text);
  if (!parsed) throw new Error(`no JSON in the result: ${r.text.slice(0, 300)}`);
  return parsed;
}

/** The MCP server's results the model saw, of one tool. */
function results(run: HostRun, tool: string): ToolResult[] {
  return run.model.mcpResults().filter((r) => r.tool === tool);
}

/** The main-turn request the model answered with a call of `tool`. */
function callOf(run: HostRun, tool: string) {
  return run.model.mainRequests().find((q) => q.call?.tool === tool);
}

/** How long the host took from the model's call of `tool` to its next request (the call, as the host made it). */
function callMs(run: HostRun, tool: string): number {
  const turns = run.model.mainRequests();
  const call = turns.find((q) => q.call?.tool === tool);
  const next = call ? turns[turns.indexOf(call) + 1] : undefined;
  return (next?.at ?? Number.NaN) - (call?.answeredAt ?? Number.NaN);
}

/** Says what went wrong when a host run did not go to its end. */
function expectClean(run: HostRun): void {
  const said = [
    `${run.host} exited ${run.code ?? run.signal}${run.timedOut ? " (timed out)" : ""}`,
    `stderr: ${run.stderr.slice(-2000)}`,
    `stdout: ${run.stdout.slice(-2000)}`,
    `model errors: ${run.model.errors.join("; ")}`,
    `server stderr: ${run.serverStderr.slice(-1000)}`,
  ].join("\n");
  expect(run.timedOut, said).toBe(false);
  expect(run.code, said).toBe(0);
  expect(run.model.errors, said).toEqual([]);
  // The turn went to the script's final text.
  expect(run.model.mainRequests().at(-1)?.answer, said).toMatch(/^text /);
}

const marks: string[] = [];
afterEach(() => {
  // Whatever a failed test left running is ended here, so that it does not hold up the next.
  for (const m of marks.splice(0))
    for (const pid of processesMatching(m)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
});

for (const host of HOSTS) {
  // Generous: a host starting on a busy 2-core machine (each run stops itself at 120 s, saying so).
  describe.skipIf(!host.bin)(
    `${host.title} ${host.version ?? ""} as a client of the server`,
    { timeout: 180_000 },
    () => {
      const bin = host.bin as string;
      const run = (script: Step[], opts: Partial<RunOptions> & { load?: string[] } = {}) =>
        runHost(host.name, { ...opts, bin, script: scriptFor(host.name, script, opts.load) });

      it("connects, negotiates its era, is offered every tool and sees results as it wraps them", async () => {
        const r = await run(
          [
            { tool: "execute_command", args: { command: "echo hello-from-the-job", wait_seconds: 10 } },
            { text: "Said hello." },
          ],
          { load: TOOLS },
        );
        expectClean(r);
        expect({ era: r.era.era, version: r.era.version, firstMethod: r.era.firstMethod }).toEqual(ERA[host.name]);
        expect(methodsOf(r.tap)).toContain("tools/call");
        expect(r.model.mcpToolsOffered().sort()).toEqual([...TOOLS].sort());
        const [result] = results(r, "execute_command");
        expect(seen(result)).toMatchObject({
          status: "completed",
          exit_code: 0,
          tail: { stdout: "hello-from-the-job" },
        });
        const text = result?.text ?? "";
        // Each host's wrapping of a tool's text.
        if (host.name === "claude") expect(text.startsWith('{"job_id":')).toBe(true);
        if (host.name === "codex") expect(text).toMatch(/^Wall time: [0-9.]+ seconds\nOutput:\n\{"job_id":/);
        if (host.name === "gemini")
          expect(text.startsWith('{"output":"<untrusted_context>\\n{\\"job_id\\":')).toBe(true);
        // The server stopped with the host, not left behind.
        expect(r.serverGone).toBe(true);
        console.log(
          `${host.title}: era ${r.era.era} (${r.era.version}, opened with ${r.era.firstMethod}); one turn with one call: ${r.ms} ms`,
        );
      });

      if (host.name === "claude") {
        it("MCP_PROTOCOL_NEGOTIATION=legacy opens the 2025 era instead", async () => {
          const r = await run([{ tool: "list_jobs", args: {} }, { text: "Listed." }], {
            env: { MCP_PROTOCOL_NEGOTIATION: "legacy" },
          });
          expectClean(r);
          expect(r.era).toMatchObject({ era: "2025", version: "2025-11-25", firstMethod: "initialize" });
          expect(seen(results(r, "list_jobs")[0])).toMatchObject({ total: 0 });
        });
      }

      if (host.name === "claude") {
        // Claude Code defers MCP tools: the model sees their names only, and loads them with its ToolSearch
        // tool, by name (`select:`) or by words. Its word search (2.1.328, read from its code and checked
        // here) gives each word of the query, for each deferred tool (its own and the MCP servers'):
        // +12 if it is a part of the tool's name (server and tool name, split at `_` and `.`; +10 for its
        // own tools, split at capitals), else +6 if it is inside one (+5); +12 if it is the whole server or
        // tool name, else +4 if inside it (+3); +4 if it is a whole word of the tool's search hint
        // (`_meta["anthropic/searchHint"]`); +2 if it is a whole word of its description (any case). It
        // keeps the tools scoring above 0, best first (ties: in the order of its list, its own tools
        // first), `max_results` of them (default 5); each found tool is loaded at once.
        it("ToolSearch finds the tool a model needs from the words it would use, and loads it", async () => {
          const mark = marker();
          marks.push(mark);
          const searches: { query: string; tool: string; max_results?: number }[] = [
            { query: "run a command in the background", tool: "execute_command" },
            { query: "dev server", tool: "execute_command" },
            { query: "wait for output", tool: "wait_for_job" },
            { query: "stop process", tool: "kill_job" },
            // No description could bring kill_job into the first five for these words: "a" is inside the
            // names of 12 of the 23 deferred tools (execute_command, CronCreate, TaskStop, ...), each
            // scoring 8 or 10 for it, while a description scores at most 2 a word (without a hint, 17th
            // of 21). kill_job's search hint ("stop or kill a process or job") brings it in.
            { query: "stop a process", tool: "kill_job" },
            { query: "kill a process", tool: "kill_job" },
          ];
          const r = await runHost("claude", {
            bin,
            script: [
              ...searches.map(
                (s): Step => ({
                  tool: "ToolSearch",
                  builtin: true,
                  args: { query: s.query, ...(s.max_results ? { max_results: s.max_results } : {}) },
                }),
              ),
              // Loaded by the searches: called without a select.
              { tool: "execute_command", args: { command: `echo starting; sleep 1; echo READY; ${markedLoop(mark)}` } },
              {
                tool: "wait_for_job",
                args: (prev) => ({ job_id: json(prev).job_id, until: "READY", timeout_seconds: 60 }),
              },
              {
                tool: "kill_job",
                args: (_prev, all) => ({ job_id: json(all.find((p) => p.name.endsWith("execute_command"))).job_id }),
              },
              { text: "Found, started, waited for and stopped." },
            ],
          });
          expectClean(r);
          const found = r.model
            .toolResults()
            .filter((t) => t.name === "ToolSearch")
            .map((t) =>
              [...t.text.matchAll(/"tool_name":"([^"]+)"/g)].map((m) =>
                (m[1] ?? "").replace(`mcp__${SERVER_NAME}__`, ""),
              ),
            );
          expect(found).toHaveLength(searches.length);
          const said = searches.map((s, i) => `"${s.query}": ${found[i]?.join(", ")}`).join("\n");
          searches.forEach((s, i) => {
            expect(found[i], said).toContain(s.tool);
            if (!s.max_results) expect(found[i]?.length, said).toBeLessThanOrEqual(5);
          });
          expect(seen(results(r, "wait_for_job")[0])).toMatchObject({ matched: true, match: "READY" });
          expect(seen(results(r, "kill_job")[0])).toMatchObject({ status: "killed" });
          expect(await steadyCount(mark)).toBe(0);
          console.log(
            `Claude Code ToolSearch:\n${searches.map((s, i) => `  "${s.query}" -> ${s.tool} ${(found[i]?.indexOf(s.tool) ?? -2) + 1} of ${found[i]?.length}`).join("\n")}`,
          );
        });
      }

      it("starts a dev server known ready in one call and stops it in one more, leaving no process", async () => {
        const mark = marker();
        marks.push(mark);
        // A real HTTP server that takes a second to come up; the marker is in its command line.
        const server = `${process.execPath} -e "setTimeout(() => require('http').createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1', function () { console.log('READY on ' + this.address().port) }), 1000)" ${mark}`;
        let runningBeforeKill = -1;
        const r = await run([
          { tool: "execute_command", args: { command: server, wait_until: "READY", name: "dev server" } },
          {
            tool: "kill_job",
            args: (prev) => {
              runningBeforeKill = processesMatching(mark).length;
              return { job_id: json(prev).job_id };
            },
          },
          { text: "Started and stopped the dev server." },
        ]);
        expectClean(r);
        const started = seen(results(r, "execute_command")[0]);
        expect(started).toMatchObject({ status: "running", matched: true, stream: "stdout" });
        expect(started.match).toMatch(/^READY on \d+$/);
        expect(started.job_id).toMatch(/^[0-9a-f-]{36}$/);
        // The model saw the job id, and the kill went to that job.
        expect(callOf(r, "kill_job")?.call?.args).toEqual({ job_id: started.job_id });
        expect(seen(results(r, "kill_job")[0])).toMatchObject({ status: "killed" });
        expect(runningBeforeKill).toBeGreaterThan(0);
        expect(await steadyCount(mark)).toBe(0);
        expect(results(r, "execute_command")).toHaveLength(1);
        expect(results(r, "kill_job")).toHaveLength(1);
        console.log(
          `${host.title}: dev server ready in one call (${callMs(r, "execute_command")} ms), stopped in ${callMs(r, "kill_job")} ms`,
        );
      });

      it("takes a 2,000-line failing test run to its exit code and failure lines in two calls", async () => {
        const suite = [
          "for i in $(seq 1 2000); do",
          '  case $i in 417|1203|1788) echo "FAIL test_$i: expected 200, got 500";;',
          '  *) echo "ok $i - test_$i passes in 3 ms";; esac',
          "done",
          'echo "2000 tests, 3 failed"',
          "exit 1",
        ].join("\n");
        const r = await run([
          { tool: "execute_command", args: { command: suite, wait_seconds: 30, name: "unit tests" } },
          { tool: "search_job_output", args: (prev) => ({ job_id: json(prev).job_id, pattern: "^FAIL" }) },
          { text: "3 tests failed." },
        ]);
        expectClean(r);
        const ended = seen(results(r, "execute_command")[0]);
        expect(ended).toMatchObject({ status: "failed", exit_code: 1 });
        expect((ended.tail as { stdout: string }).stdout).toContain("2000 tests, 3 failed");
        const search = seen(results(r, "search_job_output")[0]) as {
          matches: { text: string }[];
          total_matches: number;
        };
        expect(search.total_matches).toBe(3);
        expect(search.matches.map((m) => m.text)).toEqual([
          "FAIL test_417: expected 200, got 500",
          "FAIL test_1203: expected 200, got 500",
          "FAIL test_1788: expected 200, got 500",
        ]);
        const mcp = r.model.mcpResults();
        expect(mcp).toHaveLength(2);
        const chars = mcp.reduce((n, x) => n + x.text.length, 0);
        console.log(
          `${host.title}: a 2,000-line failing run in 2 calls, ${chars} characters of results seen by the model`,
        );
        expect(chars).toBeLessThan(CHARS_SEEN_BOUND[host.name]);
      });

      it("a wait longer than the call bound answers at the bound, and the model goes on", async () => {
        const mark = marker();
        marks.push(mark);
        const r = await run(
          [
            { tool: "execute_command", args: { command: markedLoop(mark) } },
            { tool: "wait_for_job", args: (prev) => ({ job_id: json(prev).job_id, timeout_seconds: 10 }) },
            {
              tool: "kill_job",
              args: (_prev, all) => ({ job_id: json(all.find((p) => p.name.endsWith("execute_command"))).job_id }),
            },
            { text: "It was still running after the wait, so I stopped it." },
          ],
          { serverArgs: ["--call-timeout", "3"] },
        );
        expectClean(r);
        const waited = seen(results(r, "wait_for_job")[0]);
        expect(waited).toMatchObject({ status: "running", timed_out: true, matched: false });
        expect(waited.hint).toMatch(/wait_for_job/);
        // The host's call came back at the server's 3 s bound, not the 10 s asked for.
        const waitedMs = callMs(r, "wait_for_job");
        expect(waitedMs).toBeGreaterThanOrEqual(2900);
        expect(waitedMs).toBeLessThan(9000);
        expect(seen(results(r, "kill_job")[0])).toMatchObject({ status: "killed" });
        expect(await steadyCount(mark)).toBe(0);
        console.log(`${host.title}: wait_for_job of 10 s under --call-timeout 3 came back in ${waitedMs} ms`);
      });

      it("its exit ends the job the model left running (the server started as a user configures it)", async () => {
        const mark = marker();
        marks.push(mark);
        const r = await run([{ tool: "execute_command", args: { command: markedLoop(mark) } }, { text: "Left it." }], {
          tap: false,
        });
        expectClean(r);
        expect(seen(results(r, "execute_command")[0])).toMatchObject({ status: "running" });
        expect(r.serverGone).toBe(true);
        expect(await steadyCount(mark)).toBe(0);
      });

      // A job that ignores SIGTERM gets the server's 2 s grace before its SIGKILL. A host that kills the
      // server outright sooner (KILLS_SERVER: Claude Code after 0.5 s, Codex after 0.06 s) cuts the server's
      // stop short: the job's capture process, handed the kill at the stop's start, carries it through.
      it("its exit ends a job that ignores SIGTERM, whenever it kills the server", async () => {
        const mark = marker();
        marks.push(mark);
        const r = await run(
          [{ tool: "execute_command", args: { command: markedLoop(mark, 'trap "" TERM; ') } }, { text: "Left it." }],
          { tap: false },
        );
        expectClean(r);
        expect(r.serverGone).toBe(true);
        // Gone within the grace (2 s) of the stop, server or no server.
        await waitFor(() => processesMatching(mark).length === 0);
        expect(await steadyCount(mark), `${host.title}'s exit left a job running`).toBe(0);
      });

      if (host.name === "claude") {
        it.skipIf(!hasScript)(
          "interactive mode: a start-and-wait runs as an MCP task told by a notification, and the session ends",
          async () => {
            const mark = marker();
            marks.push(mark);
            const r = await runClaudeInteractive({
              bin,
              script: scriptFor("claude", [
                {
                  tool: "execute_command",
                  args: { command: `echo starting; sleep 2; echo READY; ${markedLoop(mark)}`, wait_until: "READY" },
                },
                // The call returns at once (a task in the background) with the task's id only: the job's
                // own id, which the job's tools take at once.
                {
                  tool: "tail_job_output",
                  args: (prev) => ({ job_id: /server-side task ([0-9a-f-]{36})/.exec(prev?.text ?? "")?.[1] ?? "?" }),
                },
                // The turn ends; the notification resumes it.
                { text: "Waiting for the server to be ready." },
                { tool: "kill_job", args: (prev) => ({ job_id: json(prev).job_id }) },
                { text: "Stopped the server: ALL-DONE." },
              ]),
            });
            const shown = JSON.stringify(r.model.toolResults(), null, 1);
            expect(r.timedOut, r.stdout.slice(-2000)).toBe(false);
            expect(r.model.errors, shown).toEqual([]);
            expect(["exit-command", "ctrl-c"]).toContain(r.endedBy);
            expect(r.era.era).toBe("2026");
            const [started, told] = results(r, "execute_command");
            expect(started?.kind).toBe("tool_result");
            expect(started?.text).toMatch(/started server-side task [0-9a-f-]{36}/);
            // The model acted on the job before the task settled, with the id it was shown.
            expect(seen(results(r, "tail_job_output")[0])).toMatchObject({ stdout: "starting", status: "running" });
            expect(told?.kind, shown).toBe("task_notification");
            expect(seen(told)).toMatchObject({ status: "running", matched: true, match: "READY" });
            expect(methodsOf(r.tap)).toContain("tasks/get");
            expect(seen(results(r, "kill_job")[0])).toMatchObject({ status: "killed" });
            expect(await steadyCount(mark)).toBe(0);
            console.log(`Claude Code interactive: a task to its notification and /exit in ${r.ms} ms (${r.endedBy})`);
          },
        );
      }
    },
  );
}
