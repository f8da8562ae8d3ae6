import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, cleanEnv, useServer } from "../support/harness.js";
import { tempDir, waitFor } from "../support/helpers.js";
import { type HttpServer, httpClient, startHttpServer } from "../support/http-harness.js";

// What real clients did with the server: hosts that end a request after 60 s, fetch clients that
// wait for headers, 2026-era clients over stdio, OAuth probes, strict schemas that send null.

describe("no call waits past MCP_BG_CALL_TIMEOUT (1 s here, 50 s by default)", () => {
  const s = useServer({ env: { MCP_BG_CALL_TIMEOUT: "1" } });

  it("wait_for_job returns at the bound with a hint that says how to wait on", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: "sleep 300" });
    const t0 = Date.now();
    const r = await s.ok<{ status: string; timed_out: boolean; cursor: string; hint: string }>("wait_for_job", {
      job_id,
      timeout_seconds: 120,
    });
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(r).toMatchObject({ status: "running", timed_out: true });
    expect(r.hint).toContain("MCP_BG_CALL_TIMEOUT");
    expect(r.hint).toContain(`since="${r.cursor}"`);
    await s.ok("kill_job", { job_id, grace_seconds: 0 });
  });

  it("interact_with_job gives up its wait at the bound", async () => {
    // It never goes quiet, so only the bound can end the wait.
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: "cat >/dev/null & while :; do echo tick; sleep 0.05; done",
    });
    const t0 = Date.now();
    await s.ok("interact_with_job", { job_id, input: "x", wait_ms: 600_000 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(Date.now() - t0).toBeLessThan(15_000);
    await s.ok("kill_job", { job_id, grace_seconds: 0 });
  });

  it("kill_job with a grace longer than the bound answers killing, and the kill goes on to the end", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: "trap '' TERM; echo ready; while :; do sleep 1; done",
    });
    // A kill sent before the shell has run its trap would end it at once.
    // (Each wait here is cut at 1 s, so wait again until the line has come.)
    await waitFor(async () => (await s.ok<{ matched: boolean }>("wait_for_job", { job_id, until: "^ready$" })).matched);
    const r = await s.ok<{ status: string; hint: string }>("kill_job", { job_id, grace_seconds: 4 });
    expect(r.status).toBe("killing");
    expect(r.hint).toMatch(/SIGKILL.*4 s grace/);
    expect((await s.ok<{ status: string }>("get_job_status", { job_id })).status).toBe("running");
    await waitFor(
      async () => (await s.ok<{ status: string }>("get_job_status", { job_id })).status !== "running",
      20_000,
    );
    expect(await s.ok("get_job_status", { job_id })).toMatchObject({ status: "killed", signal: "SIGKILL" });
  });
});

describe("2026-07-28 era", () => {
  let http: HttpServer;
  beforeAll(async () => {
    http = await startHttpServer();
  });
  afterAll(async () => {
    await http.close();
  });

  const META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": { name: "raw-fetch", version: "1" },
    "io.modelcontextprotocol/clientCapabilities": {},
  };
  let id = 0;
  const toolCall = (name: string, args: Record<string, unknown>) =>
    fetch(http.url, {
      method: "POST",
      headers: {
        accept: "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": name,
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: ++id,
        method: "tools/call",
        params: { name, arguments: args, _meta: META },
      }),
    });
  const resultOf = (body: string) => {
    const data = body
      .split("\n")
      .filter((l) => l.startsWith("data:"))
      .map((l) => JSON.parse(l.slice(5)))
      .find((m) => "result" in m);
    return (data ?? JSON.parse(body)).result.structuredContent;
  };

  it("over HTTP, a tool call that waits starts its answer at once as an event stream", async () => {
    const started = resultOf(await (await toolCall("execute_command", { command: "sleep 300" })).text());
    const t0 = Date.now();
    const res = await toolCall("wait_for_job", { job_id: started.job_id, timeout_seconds: 4 });
    // Headers come before the wait ends (a fetch client would otherwise give up waiting for them).
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const result = resultOf(await res.text());
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3500);
    expect(result).toMatchObject({ status: "running", timed_out: true });
    resultOf(await (await toolCall("kill_job", { job_id: started.job_id, grace_seconds: 0 })).text());
  });

  it("over stdio, subscriptions/listen delivers list changes and resource updates", async () => {
    const state = tempDir("mcp-bg-state-");
    const client = new Client(
      { name: "modern-stdio", version: "1" },
      { versionNegotiation: { mode: { pin: "2026-07-28" } } },
    );
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [BIN],
        env: { ...cleanEnv(), MCP_BG_STATE_DIR: state.path },
        stderr: "ignore",
      }),
    );
    try {
      expect(client.getServerCapabilities()?.resources).toMatchObject({ subscribe: true, listChanged: true });
      const got: string[] = [];
      client.setNotificationHandler("notifications/resources/updated", (n) => {
        got.push(n.params.uri);
      });
      client.setNotificationHandler("notifications/resources/list_changed", () => {
        got.push("list_changed");
      });
      const all = await client.listen({ resourcesListChanged: true });
      const job = (await client.callTool({ name: "execute_command", arguments: { command: "read go; echo got $go" } }))
        .structuredContent as { job_id: string };
      await waitFor(() => got.includes("list_changed"), 5000);
      const sub = await client.listen({ resourceSubscriptions: [`job://${job.job_id}/output`, `job://${job.job_id}`] });
      await client.callTool({
        name: "interact_with_job",
        arguments: { job_id: job.job_id, input: "yes", wait_ms: 300 },
      });
      await waitFor(() => got.includes(`job://${job.job_id}`), 10_000);
      expect(got).toContain(`job://${job.job_id}/output`);
      await sub.close();
      await all.close();
    } finally {
      await client.close();
      state.remove();
    }
  });
});

describe("OAuth probes with a token set", () => {
  let http: HttpServer;
  const token = "a-token-of-sixteen-or-more";
  beforeAll(async () => {
    http = await startHttpServer([], { MCP_BG_AUTH_TOKEN: token });
  });
  afterAll(async () => {
    await http.close();
  });

  it("/.well-known/oauth-* answers 404, so clients do not wait for an OAuth flow; /mcp keeps its 401", async () => {
    const base = `http://127.0.0.1:${http.port}`;
    for (const path of [
      "/.well-known/oauth-authorization-server",
      "/.well-known/oauth-protected-resource",
      "/.well-known/oauth-protected-resource/mcp",
      "/.well-known/openid-configuration",
    ]) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    }
    expect((await fetch(`${base}/mcp`, { method: "POST", body: "{}" })).status).toBe(401);
    // The token is not passed on to the jobs the server runs.
    const { client } = await httpClient(http.url, { token });
    const started = (
      await client.callTool({
        name: "execute_command",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, for the job
        arguments: { command: "echo token=${MCP_BG_AUTH_TOKEN:-none}" },
      })
    ).structuredContent as { job_id: string };
    await client.callTool({ name: "wait_for_job", arguments: { job_id: started.job_id } });
    const out = await client.callTool({ name: "get_job_output", arguments: { job_id: started.job_id } });
    expect(out.structuredContent).toMatchObject({ stdout: "token=none\n" });
    await client.close();
    // The Host guard still comes first.
    expect(
      (await fetch(`${base}/.well-known/oauth-authorization-server`, { headers: { origin: "http://evil.test" } }))
        .status,
    ).toBe(403);
  });
});

describe("strict clients", () => {
  const s = useServer();

  it("null for an optional argument counts as absent; a required one given null is still refused", async () => {
    const job = await s.ok<{ job_id: string }>("execute_command", {
      command: "echo nulls",
      cwd: null,
      env: null,
      timeout_seconds: null,
      name: null,
      pty: null,
    });
    expect(
      await s.ok("wait_for_job", { job_id: job.job_id, until: null, since: null, timeout_seconds: null }),
    ).toMatchObject({ status: "completed" });
    expect(await s.ok("get_job_output", { job_id: job.job_id, since: null })).toMatchObject({ stdout: "nulls\n" });
    expect(await s.ok("tail_job_output", { job_id: job.job_id, lines: null })).toMatchObject({ stdout: "nulls" });
    expect(await s.ok("list_jobs", { status: null, limit: null })).toMatchObject({ total: 1 });
    expect(
      await s.ok("search_job_output", { job_id: job.job_id, pattern: "nul", context_lines: null, max_matches: null }),
    ).toMatchObject({
      total_matches: 1,
    });
    expect(await s.ok("kill_job", { job_id: job.job_id, signal: null, grace_seconds: null })).toEqual({
      status: "already_terminated",
    });
    expect(await s.error("get_job_status", { job_id: null })).toMatch(/job_id/);
  });

  it("output schemas write every nullable field one way (anyOf), never as a type list", async () => {
    const { tools } = await s.client.listTools();
    const typeLists: string[] = [];
    let anyOfNulls = 0;
    const walk = (node: unknown, path: string) => {
      if (Array.isArray(node)) {
        for (const [i, n] of node.entries()) walk(n, `${path}[${i}]`);
        return;
      }
      if (node === null || typeof node !== "object") return;
      const o = node as Record<string, unknown>;
      if (Array.isArray(o.type)) typeLists.push(path);
      if (Array.isArray(o.anyOf) && o.anyOf.some((b) => (b as { type?: string }).type === "null")) anyOfNulls++;
      for (const [k, v] of Object.entries(o)) walk(v, `${path}.${k}`);
    };
    for (const t of tools) {
      walk(t.outputSchema, `${t.name}.outputSchema`);
      walk(t.inputSchema, `${t.name}.inputSchema`);
    }
    expect(typeLists).toEqual([]);
    expect(anyOfNulls).toBeGreaterThan(10);
  });
});
