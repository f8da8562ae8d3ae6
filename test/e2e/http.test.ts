import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, cleanEnv } from "../support/harness.js";
import { isAlive, markedLoop, marker, processesMatching, waitFor } from "../support/helpers.js";
import { type HttpServer, httpClient, startHttpServer } from "../support/http-harness.js";

type Structured = Record<string, unknown>;
const call = async (client: Awaited<ReturnType<typeof httpClient>>["client"], name: string, args: Structured) =>
  (await client.callTool({ name, arguments: args })).structuredContent as Structured;

// A raw POST to the server, as a browser or a script would send it.
function post(url: string, headers: Record<string, string>, body: unknown = initialize()) {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

function initialize() {
  return {
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
  };
}

describe("Streamable HTTP", () => {
  let server: HttpServer;
  beforeAll(async () => {
    // Room for the 12 clients that start a job each at once (the default limit is 10 running).
    server = await startHttpServer([], { MCP_BG_MAX_JOBS: "50" });
  });
  afterAll(() => server.close());

  it("serves 2025-era clients (initialize, a session) with every tool", async () => {
    const { client, transport } = await httpClient(server.url);
    expect(transport.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain("execute_command");
    const job = await call(client, "execute_command", { command: "echo over http" });
    expect(await call(client, "wait_for_job", { job_id: job.job_id })).toMatchObject({ status: "completed" });
    expect(await call(client, "get_job_output", { job_id: job.job_id })).toMatchObject({ stdout: "over http\n" });
    await transport.terminateSession();
    await client.close();
  });

  it("answers a stateless 2026-07-28 tools/list request that carries its protocol fields in _meta", async () => {
    const res = await post(
      server.url,
      { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" },
      {
        jsonrpc: "2.0",
        id: 7,
        method: "tools/list",
        params: {
          _meta: {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
            "io.modelcontextprotocol/clientCapabilities": {},
          },
        },
      },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("mcp-session-id")).toBeNull();
    const text = await res.text();
    const json = JSON.parse(text.includes("data:") ? (/data: (.*)/.exec(text)?.[1] ?? "") : text);
    expect(json).toMatchObject({
      id: 7,
      result: { tools: expect.arrayContaining([expect.objectContaining({ name: "kill_job" })]) },
    });
  });

  it("serves a 2026-era SDK client too", async () => {
    const { client, transport } = await httpClient(server.url, { modern: true });
    expect(transport.sessionId).toBeUndefined();
    const job = await call(client, "execute_command", { command: "echo modern" });
    expect(await call(client, "wait_for_job", { job_id: job.job_id })).toMatchObject({ status: "completed" });
    const read = await client.readResource({ uri: `job://${job.job_id}/output` });
    expect(read.contents[0]).toMatchObject({ text: "modern\n" });
    await client.close();
  });

  it("serves many clients at once, each seeing every job", async () => {
    const clients = await Promise.all(Array.from({ length: 12 }, () => httpClient(server.url)));
    const jobs = await Promise.all(
      clients.map(({ client }, i) => call(client, "execute_command", { command: `echo client ${i}` })),
    );
    await Promise.all(clients.map(({ client }, i) => call(client, "wait_for_job", { job_id: jobs[i]?.job_id })));
    // Any client reads any job.
    const other = await call(clients[0]?.client as never, "get_job_output", { job_id: jobs[11]?.job_id });
    expect(other).toMatchObject({ stdout: "client 11\n" });
    await Promise.all(clients.map(({ client }) => client.close()));
  });

  it("a subscriber on the session's SSE stream receives updates of a job's output and status", async () => {
    const { client } = await httpClient(server.url);
    const updated: string[] = [];
    client.setNotificationHandler("notifications/resources/updated", (n) => {
      updated.push(n.params.uri);
    });
    const job = await call(client, "execute_command", { command: "read go; echo got $go" });
    await client.subscribeResource({ uri: `job://${job.job_id}/output` });
    await client.subscribeResource({ uri: `job://${job.job_id}` });
    await call(client, "interact_with_job", { job_id: job.job_id, input: "yes", wait_ms: 500 });
    await waitFor(() => updated.includes(`job://${job.job_id}`), 5000);
    expect(updated).toContain(`job://${job.job_id}/output`);
    await client.close();
  });

  it("a 2026-era listener receives updates and list changes", async () => {
    const { client } = await httpClient(server.url, { modern: true });
    const got: string[] = [];
    client.setNotificationHandler("notifications/resources/updated", (n) => {
      got.push(n.params.uri);
    });
    client.setNotificationHandler("notifications/resources/list_changed", () => {
      got.push("list_changed");
    });
    const listAll = await client.listen({ resourcesListChanged: true });
    const job = await call(client, "execute_command", { command: "read go; echo got $go" });
    await waitFor(() => got.includes("list_changed"), 5000);
    const sub = await client.listen({ resourceSubscriptions: [`job://${job.job_id}`] });
    // The server looks at running jobs for listeners once a second.
    await new Promise((r) => setTimeout(r, 1500));
    await call(client, "interact_with_job", { job_id: job.job_id, input: "yes", wait_ms: 300 });
    await waitFor(() => got.includes(`job://${job.job_id}`), 5000);
    await sub.close();
    await listAll.close();
    await client.close();
  });
});

describe("HTTP guards", () => {
  let server: HttpServer;
  let guarded: HttpServer;
  const token = "s3cret-token-of-sufficient-length";
  beforeAll(async () => {
    server = await startHttpServer();
    guarded = await startHttpServer([], { MCP_BG_AUTH_TOKEN: token });
  });
  afterAll(async () => {
    await server.close();
    await guarded.close();
  });

  it("a foreign Origin gets 403; the server's own and none pass", async () => {
    expect((await post(server.url, { origin: "http://evil.example.com" })).status).toBe(403);
    expect((await post(server.url, { origin: "null" })).status).toBe(403);
    expect((await post(server.url, { origin: `http://localhost:${server.port}` })).status).toBe(200);
    expect((await post(server.url, {})).status).toBe(200);
  });

  it("a foreign Host gets 403 (DNS rebinding)", async () => {
    // fetch will not forge Host: speak HTTP by hand.
    const { request } = await import("node:http");
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: server.port,
          path: "/mcp",
          method: "POST",
          headers: {
            host: "evil.example.com",
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
          },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end(JSON.stringify(initialize()));
    });
    expect(status).toBe(403);
  });

  it("with MCP_BG_AUTH_TOKEN: no token or a wrong one gets 401, the right one gets in", async () => {
    const none = await post(guarded.url, {});
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await post(guarded.url, { authorization: "Bearer wrong-token-of-the-same-size!" })).status).toBe(401);
    expect((await post(guarded.url, { authorization: token })).status).toBe(401);
    expect((await post(guarded.url, { authorization: `Bearer ${token}` })).status).toBe(200);
    const { client } = await httpClient(guarded.url, { token });
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await client.close();
  });

  it("a request body over the cap gets 413; a path other than /mcp gets 404; junk gets 400", async () => {
    const big = JSON.stringify({ ...initialize(), padding: "x".repeat(5 * 1024 * 1024) });
    expect((await post(server.url, {}, big)).status).toBe(413);
    expect((await post(server.url.replace("/mcp", "/other"), {})).status).toBe(404);
    expect((await post(server.url, {}, "{not json")).status).toBe(400);
    // Still serving.
    expect((await post(server.url, {})).status).toBe(200);
  });

  it("a non-loopback --host without a token refuses to start", () => {
    const r = spawnSync(process.execPath, [BIN, "--http", "--host", "0.0.0.0", "--port", "0"], {
      env: cleanEnv(),
      encoding: "utf8",
      timeout: 10_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/not a loopback address: set MCP_BG_AUTH_TOKEN/);
  });
});

describe("HTTP graceful stop", () => {
  it("SIGTERM ends open streams, kills the jobs and exits", async () => {
    const server = await startHttpServer();
    const mark = marker();
    const { client } = await httpClient(server.url);
    await call(client, "execute_command", { command: markedLoop(mark) });
    await waitFor(() => processesMatching(mark).length === 1);
    // A session's notification stream, opened by hand so that its end can be seen.
    const init = await post(server.url, {});
    const session = init.headers.get("mcp-session-id") as string;
    await init.body?.cancel();
    const headers = { "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" };
    await post(server.url, headers, { jsonrpc: "2.0", method: "notifications/initialized" });
    const stream = await fetch(server.url, { headers: { ...headers, accept: "text/event-stream" } });
    expect(stream.status).toBe(200);
    const reader = stream.body?.getReader();
    const ended = (async () => {
      try {
        while (!(await reader?.read())?.done) {}
        return "ended";
      } catch {
        return "ended";
      }
    })();
    server.proc.kill("SIGTERM");
    expect(await ended).toBe("ended");
    const code = await new Promise((r) => server.proc.on("exit", (c) => r(c)));
    expect(code).toBe(0);
    expect(processesMatching(mark)).toEqual([]);
    await waitFor(() => server.stderr().includes("stopping (SIGTERM)"), 5000);
    expect(isAlive(server.proc.pid as number)).toBe(false);
    await client.close().catch(() => {});
    await server.close();
  });
});
