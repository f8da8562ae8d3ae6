import { spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { BIN, cleanEnv, type Harness, runCli, startServer } from "../support/harness.js";
import { tempDir, waitFor } from "../support/helpers.js";

// Every result is bounded, and says so; what a script reads is escaped as what a person reads.
// (Found by a hostile review: search_job_output with context_lines 20 on 1 KB lines returned 687,504
// characters; `list --json` and `logs --json` printed raw C1 controls and bidi characters; 56 calls
// in flight on stdio printed MaxListenersExceededWarning.)

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(env: Record<string, string> = {}): Promise<Harness> {
  const s = await startServer({ env });
  cleanups.push(() => s.close());
  return s;
}

describe("search_job_output's result", () => {
  it("holds at most MCP_BG_MAX_RESPONSE_CHARS of lines, context included, and says it left some out", async () => {
    const s = await server();
    // 2,000 lines of 1 KB, every one a match: each would bring 40 lines of context.
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: `for i in $(seq 2000); do printf 'match %04d %s\\n' $i "$(head -c 1000 /dev/zero | tr '\\0' x)"; done`,
      wait_seconds: 60,
    });
    const r = await s.call("search_job_output", { job_id, pattern: "match", context_lines: 20, max_matches: 1000 });
    const text = r.content.map((c) => c.text ?? "").join("");
    const found = r.structuredContent as {
      matches: { before?: string[]; after?: string[] }[];
      total_matches: number;
      truncated: boolean;
    };
    console.log(
      `search: ${text.length.toLocaleString()} characters, ${found.matches.length} matches of ${found.total_matches}`,
    );
    expect(found).toMatchObject({ total_matches: 2000, truncated: true });
    expect(text.length).toBeLessThanOrEqual(50_000 + 1_000);
    expect(found.matches.length).toBeGreaterThan(0);
  });
});

describe("the command line's --json", () => {
  it("escapes C1 controls and bidi characters from a job's name, command and output", async () => {
    const s = await server();
    const evil = "name \u009b31m \u202eevil \u2028 \u0085";
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: `printf 'out \\302\\233 \\342\\200\\256x\\n'`,
      name: evil,
      wait_seconds: 20,
    });
    for (const args of [
      ["list", "--json"],
      ["status", job_id, "--json"],
      ["logs", job_id, "--json"],
    ]) {
      const r = await runCli(s.stateDir, args);
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.stdout, args.join(" ")).not.toMatch(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
      // The same data, as any JSON reader sees it.
      const parsed = JSON.parse(r.stdout);
      if (args[0] === "logs") expect(parsed.stdout).toBe("out \u009b \u202ex\n");
      else expect(JSON.stringify(parsed)).toContain(JSON.stringify(evil).slice(1, -1));
    }
  });
});

describe("many answers into a full pipe", () => {
  it("80 large answers due at once: no listener warning, every answer arrives", async () => {
    const state = tempDir("mcp-bg-state-");
    cleanups.push(() => state.remove());
    const child = spawn(process.execPath, [BIN], {
      env: { ...cleanEnv(), MCP_BG_STATE_DIR: state.path },
      stdio: ["pipe", "pipe", "pipe"],
    });
    cleanups.push(() => void child.kill("SIGKILL"));
    let err = "";
    let out = "";
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    const line = (m: object) => `${JSON.stringify({ jsonrpc: "2.0", ...m })}\n`;
    const init = { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } };
    const start = {
      name: "execute_command",
      arguments: { command: "head -c 60000 /dev/zero | tr '\\0' y", wait_seconds: 20 },
    };
    child.stdin.write(
      line({ id: 0, method: "initialize", params: init }) +
        line({ method: "notifications/initialized" }) +
        line({ id: 1, method: "tools/call", params: start }),
    );
    await waitFor(() => out.includes('"id":1'), 30_000);
    const jobId = (/job_id\\":\\"([0-9a-f-]{36})/.exec(out) as RegExpExecArray)[1];
    // All in one write: their answers (60 KB each) are due together.
    let batch = "";
    const read = { name: "get_job_output", arguments: { job_id: jobId } };
    for (let i = 2; i < 82; i++) batch += line({ id: i, method: "tools/call", params: read });
    child.stdin.write(batch);
    await waitFor(() => (out.match(/"id":\d+/g) ?? []).length >= 82, 30_000);
    expect(err).not.toMatch(/MaxListenersExceededWarning/);
  });
});
