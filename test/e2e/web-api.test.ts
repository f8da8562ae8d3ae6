import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useServer } from "../support/harness.js";
import { httpClient, startHttpServer } from "../support/http-harness.js";
import { startUi, type UiProcess } from "../support/web-harness.js";

// The web page's HTTP side without a browser: the rules a browser cannot be made to break, tried with
// requests a hostile page or script could send, and the rate of the live list.

const TOKEN = "web-api-test-token-0123456789";

describe("the web page's HTTP side", () => {
  const s = useServer();
  let ui: UiProcess;
  let base: string;
  let host: string;
  beforeAll(async () => {
    ui = await startUi(s.stateDir, [], { MCP_BG_AUTH_TOKEN: TOKEN });
    base = ui.url;
    host = new URL(base).host;
  }, 30_000);
  afterAll(async () => {
    await ui?.stop();
  });
  const bearer = { authorization: `Bearer ${TOKEN}` };
  const fromPage = () => ({
    ...bearer,
    origin: `http://${host}`,
    "content-type": "application/json",
    "x-mcp-bg-jobs": "ui",
  });
  const start = async (command: string) => (await s.ok<{ job_id: string }>("execute_command", { command })).job_id;

  it("kills only for a request from the page's own origin: another port or scheme on this host is refused", async () => {
    const id = await start("sleep 300");
    for (const origin of ["http://localhost:3000", `ftp://${host}`, `http://${host}.evil.example`, "null"]) {
      const r = await fetch(`${base}api/jobs/${id}/kill`, {
        method: "POST",
        headers: { ...fromPage(), origin },
        body: "{}",
      });
      expect(r.status, origin).toBe(403);
    }
    expect((await s.ok<{ status: string }>("get_job_status", { job_id: id })).status).toBe("running");
    const r = await fetch(`${base}api/jobs/${id}/kill`, {
      method: "POST",
      headers: fromPage(),
      body: JSON.stringify({ grace_seconds: 1 }),
    });
    expect(await r.json()).toEqual({ status: "killed" });
  });

  it("answers bad requests with 4xx and a reason, never 500", async () => {
    const id = await start("sleep 300");
    const kill = (body: string) => fetch(`${base}api/jobs/${id}/kill`, { method: "POST", headers: fromPage(), body });
    for (const body of ["null", "[]", '"SIGKILL"', "{", '{"signal":"SIGSTOP"}', '{"grace_seconds":-1}']) {
      const r = await kill(body);
      expect(r.status, body).toBe(400);
      expect(((await r.json()) as { error?: string }).error).toBeTruthy();
    }
    expect((await kill(JSON.stringify({ pad: "x".repeat(10_000) }))).status).toBe(413);
    expect((await fetch(`${base}api/jobs/%E0%A4%A`, { headers: bearer })).status).toBe(400);
    expect((await fetch(`${base}api/jobs/no-such-job`, { headers: bearer })).status).toBe(404);
    expect((await fetch(`${base}api/jobs/%2e%2e`, { headers: bearer })).status).toBe(404);
    const get = await fetch(`${base}api/jobs/${id}/kill`, { headers: bearer });
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    const big = await fetch(`${base}login`, {
      method: "POST",
      headers: { origin: `http://${host}`, "content-type": "application/x-www-form-urlencoded" },
      body: `token=${"x".repeat(100_000)}`,
    });
    expect(big.status).toBe(413);
    expect((await s.ok<{ status: string }>("get_job_status", { job_id: id })).status).toBe("running");
    expect(ui.stderr()).not.toMatch(/warn|error/);
    await s.ok("kill_job", { job_id: id });
  });

  it("lets a signed-in browser in until its cookie's time is up, and never with a forged or stale one", async () => {
    const sign = (expires: number) =>
      createHmac("sha256", TOKEN).update(`mcp-bg-jobs ui until ${expires}`).digest("base64url");
    const login = await fetch(`${base}login`, {
      method: "POST",
      headers: { origin: `http://${host}`, "content-type": "application/x-www-form-urlencoded" },
      body: `token=${TOKEN}`,
      redirect: "manual",
    });
    expect(login.status).toBe(303);
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] as string;
    expect(cookie).toMatch(/^mcpbg_ui=\d+\.[\w-]+$/);
    expect((await fetch(`${base}api/jobs/x`, { headers: { cookie } })).status).toBe(404);
    const past = Date.now() - 1000;
    for (const forged of [
      `mcpbg_ui=${past}.${sign(past)}`,
      `mcpbg_ui=${Date.now() + 1e9}.${sign(past)}`,
      "mcpbg_ui=1.2",
    ]) {
      expect((await fetch(`${base}api/jobs/x`, { headers: { cookie: forged } })).status, forged).toBe(401);
    }
  });

  it("downloads all a stream keeps, escape sequences and all", async () => {
    const id = (
      await s.ok<{ job_id: string }>("execute_command", {
        command: "printf '\\033[31mred\\033[0m\\n'; seq 1 3000",
        wait_seconds: 20,
      })
    ).job_id;
    const r = await fetch(`${base}api/jobs/${id}/raw?stream=stdout`, { headers: bearer });
    expect(r.headers.get("content-disposition")).toContain(`job-${id}-stdout.log`);
    const text = await r.text();
    expect(text.startsWith("\u001b[31mred\u001b[0m\n1\n2\n")).toBe(true);
    expect(text.endsWith("2999\n3000\n")).toBe(true);
  });

  it("sends the live list at most about once a second, however fast jobs start (in the server that starts them)", async () => {
    // In --http mode the page is served by the process that starts the jobs: each start is a change.
    const server = await startHttpServer();
    const { client } = await httpClient(server.url);
    const res = await fetch(`http://127.0.0.1:${server.port}/api/events`);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const events: string[] = [];
    let text = "";
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += new TextDecoder().decode(value);
        for (let at = text.indexOf("\n\n"); at !== -1; at = text.indexOf("\n\n")) {
          events.push(text.slice(0, at).split("\n")[0] as string);
          text = text.slice(at + 2);
        }
      }
    })();
    const start = (command: string) => client.callTool({ name: "execute_command", arguments: { command } });
    const t0 = Date.now();
    for (let i = 0; i < 40; i++) await start("true");
    await new Promise((r) => setTimeout(r, 2500));
    const seconds = (Date.now() - t0) / 1000;
    await reader.cancel();
    await reading.catch(() => {});
    expect(events[0]).toBe("event: snapshot");
    const changes = events.filter((e) => e === "event: change").length;
    expect(changes).toBeGreaterThan(0);
    expect(changes).toBeLessThanOrEqual(Math.ceil(seconds) + 2);
    await client.close();
    await server.close();
  });
});
