import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../support/helpers.js";
import { type HttpServer, httpClient, startHttpServer } from "../support/http-harness.js";

// Cases found by a hostile review of the HTTP transport: each failed before its fix.

let servers: HttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});
async function server(args: string[] = [], env: Record<string, string> = {}) {
  const s = await startHttpServer(args, env);
  servers.push(s);
  return s;
}

const INIT = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
};
const HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };

// Opens a 2025-era session by hand; returns its id.
async function openSession(url: string): Promise<string> {
  const res = await fetch(url, { method: "POST", headers: HEADERS, body: JSON.stringify(INIT) });
  await res.body?.cancel();
  const id = res.headers.get("mcp-session-id") as string;
  const ack = await fetch(url, {
    method: "POST",
    headers: { ...HEADERS, "mcp-session-id": id, "mcp-protocol-version": "2025-11-25" },
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  });
  await ack.body?.cancel();
  return id;
}

const ping = (url: string, session: string) =>
  fetch(url, {
    method: "POST",
    headers: { ...HEADERS, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "ping" }),
  });

describe("HTTP sessions", () => {
  it("a session with a request in flight is not closed as idle; one with nothing open is", async () => {
    const s = await server(["--session-idle", "1"]);
    const { client } = await httpClient(s.url);
    const job = (await client.callTool({ name: "execute_command", arguments: { command: "sleep 3" } }))
      .structuredContent as { job_id: string };
    // A 3 s wait on a server whose sessions idle out after 1 s.
    const waited = await client.callTool({ name: "wait_for_job", arguments: { job_id: job.job_id } });
    expect(waited.structuredContent).toMatchObject({ status: "completed" });
    // Control: a session left alone is closed.
    const idle = await openSession(s.url);
    expect((await ping(s.url, idle)).status).toBe(200);
    // Left alone (each ping would count as use) past the idle time and a sweep.
    await new Promise((r) => setTimeout(r, 2500));
    expect((await ping(s.url, idle)).status).toBe(404);
    await client.close();
  });

  it("a full session table makes room by closing the session unused longest", async () => {
    const s = await server(["--max-sessions", "3"]);
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await openSession(s.url));
    // The newest ones work; the oldest made room.
    expect((await ping(s.url, ids[4] as string)).status).toBe(200);
    expect((await ping(s.url, ids[0] as string)).status).toBe(404);
  });

  it("a notification stream that drops can be opened again at once", async () => {
    const s = await server();
    const id = await openSession(s.url);
    const get = (signal?: AbortSignal) =>
      fetch(s.url, {
        headers: { accept: "text/event-stream", "mcp-session-id": id, "mcp-protocol-version": "2025-11-25" },
        signal,
      });
    const first = new AbortController();
    const stream = await get(first.signal);
    // Its headers came at once, before any event.
    expect(stream.status).toBe(200);
    first.abort();
    await waitFor(async () => {
      const again = await get(AbortSignal.timeout(2000)).catch(() => undefined);
      const ok = again?.status === 200;
      await again?.body?.cancel().catch(() => {});
      return ok;
    }, 3000);
  });

  it("a client that says initialized twice is told of new jobs once", async () => {
    const s = await server();
    const id = await openSession(s.url);
    const headers = { ...HEADERS, "mcp-session-id": id, "mcp-protocol-version": "2025-11-25" };
    const again = await fetch(s.url, {
      method: "POST",
      headers,
      body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
    });
    await again.body?.cancel();
    const stream = await fetch(s.url, { headers: { ...headers, accept: "text/event-stream" } });
    const reader = stream.body?.getReader() as ReadableStreamDefaultReader<Uint8Array>;
    let text = "";
    const reading = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        text += Buffer.from(value).toString();
      }
    })();
    const call = await fetch(s.url, {
      method: "POST",
      headers,
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 2,
        method: "tools/call",
        params: { name: "execute_command", arguments: { command: "true" } },
      }),
    });
    await call.text();
    await waitFor(() => text.includes("list_changed"), 5000);
    await new Promise((r) => setTimeout(r, 300));
    expect(text.split("notifications/resources/list_changed").length - 1).toBe(1);
    await reader.cancel();
    await reading.catch(() => {});
  });
});

describe("HTTP bodies over the cap", () => {
  it("a chunked body refused part way gets 413 and a closed connection, not a hung one", async () => {
    const s = await server(["--max-request-size", "1KB"]);
    const { connect } = await import("node:net");
    const socket = connect(s.port, "127.0.0.1");
    let answer = "";
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.on("data", (c: Buffer) => {
      answer += c.toString("latin1");
    });
    socket.on("error", () => {});
    socket.write(
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n`,
    );
    const chunk = "x".repeat(64 * 1024);
    for (let i = 0; i < 3; i++) socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    await Promise.race([closed, new Promise((r) => setTimeout(r, 4000))]);
    expect(answer).toMatch(/^HTTP\/1\.1 413/);
    expect(answer.toLowerCase()).toContain("connection: close");
    expect(socket.destroyed || socket.readableEnded).toBe(true);
    socket.destroy();
  });
});

describe("HTTP resources and guards", () => {
  it("only the URIs the server hands out subscribe to a job", async () => {
    const s = await server();
    const { client } = await httpClient(s.url);
    const job = (await client.callTool({ name: "execute_command", arguments: { command: "sleep 2" } }))
      .structuredContent as { job_id: string };
    const encoded = `job://%${job.job_id.charCodeAt(0).toString(16)}${job.job_id.slice(1)}`;
    await expect(client.subscribeResource({ uri: encoded })).rejects.toThrow(/not found/);
    await expect(client.subscribeResource({ uri: `JOB://${job.job_id}` })).rejects.toThrow(/not found/);
    await client.subscribeResource({ uri: `job://${job.job_id}` });
    await client.close();
  });

  it("accepts the Bearer scheme in any case, and refuses a Host with user info", async () => {
    const token = "0123456789abcdef-token";
    const s = await server([], { MCP_BG_AUTH_TOKEN: token });
    const post = (headers: Record<string, string>) =>
      fetch(s.url, { method: "POST", headers: { ...HEADERS, ...headers }, body: JSON.stringify(INIT) });
    expect((await post({ authorization: `bearer ${token}` })).status).toBe(200);
    expect((await post({ authorization: `BEARER ${token}` })).status).toBe(200);
    expect((await post({ authorization: `Bearer ${token}x` })).status).toBe(401);
    const { request } = await import("node:http");
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: s.port,
          path: "/mcp",
          method: "POST",
          headers: { ...HEADERS, host: "a@localhost", authorization: `Bearer ${token}` },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end(JSON.stringify(INIT));
    });
    expect(status).toBe(403);
    expect(s.stderr()).not.toMatch(/\n\s+at /);
  });
});
