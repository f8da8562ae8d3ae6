import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { type Browser, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startServer } from "../support/harness.js";
import { waitFor } from "../support/helpers.js";
import { httpClient, startHttpServer } from "../support/http-harness.js";
import { CHROMIUM, startUi, type UiProcess } from "../support/web-harness.js";

// The web page for people, in a real browser (Debian's Chromium through playwright-core): the list
// and a job's page live, a kill from the page, output shown as text and colours, and the guards.
// Without Chromium (.ci/run installs it) these tests are skipped, saying so in one line.

if (!CHROMIUM) console.warn("web-page.test.ts: skipped: needs Debian's chromium (.ci/run installs it)");

/** Where the screenshots go (the README shows copies of them). */
const SHOTS = join(process.cwd(), "test-output", "screenshots");

// Pids of live processes that carry this job's MCP_BG_JOB_ID.
function processesOf(jobId: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/environ`, "latin1").includes(`MCP_BG_JOB_ID=${jobId}\0`)) pids.push(Number(e));
    } catch {}
  }
  return pids;
}

// What a person sees of an element: its rendered text, a terminal's rows on lines of their own.
// biome-ignore lint/performance/useDomNodeTextContent: the rendered text is the point
const seen = (l: Locator) => l.innerText();
const rowOf = (page: Page, id: string) => page.locator(`tr[data-job="${id}"]`);
const terminalText = (page: Page) => seen(page.locator("#terminal .xterm-rows"));

describe.skipIf(!CHROMIUM)("the web page, in Chromium", () => {
  let s: Harness;
  let ui: UiProcess;
  let browser: Browser;
  let page: Page;
  beforeAll(async () => {
    s = await startServer();
    ui = await startUi(s.stateDir);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    mkdirSync(SHOTS, { recursive: true });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await ui?.stop();
    await s?.close();
  });
  const start = async (args: Record<string, unknown>) =>
    (await s.ok<{ job_id: string }>("execute_command", args)).job_id;

  it("lists jobs live: a job appears when it starts and shows how it ended", async () => {
    const before = await start({ command: "echo early", name: "earlier job", wait_seconds: 10 });
    await page.goto(ui.url);
    await expect.poll(() => rowOf(page, before).count()).toBe(1);
    // It fails once it is told to: its row is seen running first, whatever the machine's speed.
    const id = await start({ command: "read go; exit 3", name: "failing build" });
    const row = rowOf(page, id);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.getAttribute("data-status")).toBe("running");
    expect(await seen(row.locator("td.what a"))).toBe("failing build");
    // Newest first.
    expect(await page.locator("tbody tr").first().getAttribute("data-job")).toBe(id);
    await s.ok("interact_with_job", { job_id: id, input: "go" });
    await page.waitForSelector(`tr[data-job="${id}"][data-status="failed"]`, { timeout: 15_000 });
    expect(await seen(row.locator("td.result"))).toContain("exited with code 3");
    // Filters: by status and by text.
    await page.selectOption("select[aria-label=Status]", "failed");
    expect(await rowOf(page, before).count()).toBe(0);
    expect(await row.count()).toBe(1);
    await page.selectOption("select[aria-label=Status]", "");
    await page.fill("input[aria-label=Filter]", "earlier");
    expect(await row.count()).toBe(0);
    expect(await rowOf(page, before).count()).toBe(1);
    await page.fill("input[aria-label=Filter]", "");
  });

  it("shows a running job's listening ports in the list", async () => {
    const id = await start({
      command:
        "python3 -c 'import socket,time; s=socket.socket(); s.bind((\"127.0.0.1\",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(300)'",
      name: "dev server",
      wait_until: "^\\d+$",
      wait_seconds: 20,
    });
    const port = (await s.ok<{ ports: number[] }>("get_job_status", { job_id: id })).ports[0];
    await page.goto(ui.url);
    await expect.poll(() => seen(rowOf(page, id).locator("td.ports")), { timeout: 10_000 }).toBe(String(port));
    await page.screenshot({ path: join(SHOTS, "list.png") });
    await s.ok("kill_job", { job_id: id });
  });

  it("streams output into the job's page as it is printed, and searches it", async () => {
    const id = await start({
      command:
        "for i in $(seq 1 40); do printf '\\033[32mPASS\\033[0m line %s\\n' $i; sleep 0.1; done; printf '\\033[1;31mFAIL\\033[0m done-marker\\n'",
      name: "test suite",
    });
    // A job's page holds one stream (its output, which ends with the job's record): a browser allows
    // six connections a host, and each open page must not take two of them.
    const streams: string[] = [];
    const onRequest = (r: { url(): string }) => {
      if (r.url().includes("/api/")) streams.push(new URL(r.url()).pathname);
    };
    page.on("request", onRequest);
    await page.goto(`${ui.url}job/${id}`);
    await expect.poll(() => terminalText(page), { timeout: 10_000 }).toContain("line 1");
    await expect.poll(() => terminalText(page), { timeout: 15_000 }).toContain("done-marker");
    await page.waitForSelector("body[data-output-ended=stdout]", { timeout: 10_000 });
    await page.waitForSelector(".job-head .badge.completed", { timeout: 10_000 });
    page.off("request", onRequest);
    expect(streams).toEqual([`/api/jobs/${id}`, `/api/jobs/${id}/output`]);
    await page.screenshot({ path: join(SHOTS, "job.png") });
    await page.fill("input[aria-label='Search the output']", "line 17");
    await page.click("text=Next");
    const selected = await page.evaluate(() =>
      (globalThis as unknown as { mcpBgJobsTerminal: { getSelection(): string } }).mcpBgJobsTerminal.getSelection(),
    );
    expect(selected).toBe("line 17");
  });

  it("shows HTML as text and ANSI colours as colours, in the list and on the job's page", async () => {
    const id = await start({
      command:
        "printf '<script>window.pwned=1</script><b>bold?</b>\\n\\033[31mRED\\033[0m plain\\nab\\rXY\\n'; sleep 300",
      name: '<img src=x onerror="window.pwned=2"> tricky \u202egnp.exe',
    });
    await page.goto(ui.url);
    await rowOf(page, id).waitFor();
    // A bidi control is shown escaped, as the command line shows it: seen, not obeyed.
    expect(await seen(rowOf(page, id).locator("td.what a"))).toBe(
      '<img src=x onerror="window.pwned=2"> tricky \\u202egnp.exe',
    );
    expect(await page.locator("table img, table script, table b").count()).toBe(0);
    await page.goto(`${ui.url}job/${id}`);
    await expect
      .poll(() => terminalText(page), { timeout: 10_000 })
      .toContain("<script>window.pwned=1</script><b>bold?</b>");
    // A carriage return redraws the line, as in a terminal: "ab\rXY" shows "XY".
    const text = await terminalText(page);
    expect(text).toMatch(/^XY\s*$/m);
    expect(text).not.toContain("abXY");
    const red = page.locator("#terminal .xterm-rows span.xterm-fg-1", { hasText: "RED" });
    expect(await red.count()).toBe(1);
    expect(await page.evaluate(() => (globalThis as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(await page.locator("#app img, #app script").count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, "job-html.png") });
    await s.ok("kill_job", { job_id: id, grace_seconds: 1 });
  });

  it("shows a PTY job as a terminal does: redraws collapse, colours stay", async () => {
    const id = await start({
      command: "printf 'progress 10%%\\rprogress 55%%\\rprogress \\033[32m100%%\\033[0m\\n'; sleep 300",
      pty: true,
    });
    await page.goto(`${ui.url}job/${id}`);
    await expect.poll(() => terminalText(page), { timeout: 10_000 }).toMatch(/^progress 100%\s*$/m);
    expect(await terminalText(page)).not.toContain("10%");
    expect(await page.locator("#terminal .xterm-rows span.xterm-fg-2", { hasText: "100%" }).count()).toBe(1);
    await s.ok("kill_job", { job_id: id, grace_seconds: 1 });
  });

  it("kills a job and its whole tree from the page, after a confirmation", async () => {
    const id = await start({ command: "sleep 300 & setsid sleep 301 & sleep 302; wait", name: "tree" });
    await waitFor(() => processesOf(id).length >= 3, 10_000);
    await page.goto(`${ui.url}job/${id}`);
    await page.click("#kill");
    // Cancelling changes nothing.
    await page.click("#kill-cancel");
    expect((await s.ok<{ status: string }>("get_job_status", { job_id: id })).status).toBe("running");
    await page.click("#kill");
    await page.selectOption("#kill-signal", "SIGINT");
    await page.fill("#kill-grace", "1");
    await page.click("#kill-confirm");
    await page.waitForSelector("text=Killed: the job and every process it started have ended.", { timeout: 15_000 });
    expect(processesOf(id)).toEqual([]);
    const status = await s.ok<{ status: string; signal: string | null }>("get_job_status", { job_id: id });
    expect(status.status).toBe("killed");
    await page.waitForSelector(".job-head .badge.killed", { timeout: 10_000 });
  });

  it("shows queued jobs and what they wait for, restarts, readiness; a queued job is killed from its page", async () => {
    const build = await start({ command: "read go; exit 0", name: "slow build" });
    const deploy = await start({ command: "echo deployed", name: "deploy", after: [build] });
    const flaky = await start({
      command: "echo up; sleep 1; exit 1",
      name: "flaky",
      restart: "always",
      max_restarts: 1000,
      wait_until: "^up",
      wait_seconds: 0.1,
    });
    await page.goto(ui.url);
    const row = rowOf(page, deploy);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.getAttribute("data-status")).toBe("queued");
    expect(await seen(row.locator("td.result"))).toBe("waiting: after slow build (completed)");
    expect(await seen(row.locator(".badge"))).toBe("queued");
    // The flaky one comes and goes: queued for its restart, then running again, restarted.
    await page.waitForSelector(`tr[data-job="${flaky}"][data-status="queued"]`, { timeout: 30_000 });
    expect(await seen(rowOf(page, flaky).locator("td.result"))).toMatch(/^waiting: restart \d+ of 1000 at /);
    await page
      .locator(`tr[data-job="${flaky}"][data-status="running"] td.result`, { hasText: /^restarted \d+×/ })
      .waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(SHOTS, "queue.png") });
    await page.goto(`${ui.url}job/${deploy}`);
    await page.waitForSelector(".job-head .badge.queued", { timeout: 10_000 });
    await page.click("#kill");
    await page.click("#kill-confirm");
    await page.waitForSelector(".job-head .badge.killed", { timeout: 15_000 });
    expect((await s.ok<{ status: string }>("get_job_status", { job_id: deploy })).status).toBe("killed");
    await s.ok("kill_job", { job_id: flaky, grace_seconds: 1 });
    await s.ok("kill_job", { job_id: build, grace_seconds: 1 });
  });
});

describe.skipIf(!CHROMIUM)("the web page's guards, in Chromium", () => {
  let s: Harness;
  let ui: UiProcess;
  let browser: Browser;
  let evil: Server;
  let evilUrl: string;
  const TOKEN = "s3cret-token-for-the-page";
  beforeAll(async () => {
    s = await startServer();
    ui = await startUi(s.stateDir, [], { MCP_BG_AUTH_TOKEN: TOKEN });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    // A page on another origin that tries to kill a job through the visitor's browser.
    evil = createServer((req, res) => {
      const target = new URL(req.url ?? "/", "http://x").searchParams.get("target") ?? "";
      res.writeHead(200, { "content-type": "text/html" });
      res.end(`<!doctype html><form id=f method=post action="${target}" enctype="text/plain"><input name='{"signal":"SIGKILL","x":"' value='"}'></form>
<script>
fetch(${JSON.stringify(target)}, { method: "POST", mode: "no-cors", credentials: "include", headers: { "content-type": "text/plain" }, body: '{"signal":"SIGKILL"}' }).finally(() => { document.title = "sent"; document.getElementById("f").submit(); });
</script>`);
    });
    await new Promise<void>((r) => evil.listen(0, "127.0.0.1", r));
    evilUrl = `http://localhost:${(evil.address() as AddressInfo).port}/`;
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    evil?.close();
    await ui?.stop();
    await s?.close();
  });

  it("asks for the token, refuses a wrong one, and signs in with an HttpOnly, SameSite=Strict cookie", async () => {
    const id = (await s.ok<{ job_id: string }>("execute_command", { command: "sleep 300", name: "guarded" })).job_id;
    const context = await browser.newContext();
    const page = await context.newPage();
    const first = await page.goto(ui.url);
    expect(first?.status()).toBe(401);
    expect(await page.locator("input[name=token]").count()).toBe(1);
    expect(await page.content()).not.toContain(id);
    const api = await page.request.get(`${ui.url}api/jobs/${id}`);
    expect(api.status()).toBe(401);
    await page.fill("input[name=token]", "wrong");
    await page.click("button[type=submit]");
    await page.waitForSelector("text=That is not the token.");
    await page.fill("input[name=token]", TOKEN);
    await page.click("button[type=submit]");
    await rowOf(page, id).waitFor({ timeout: 10_000 });
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict" });
    expect(cookie?.value).not.toContain(TOKEN);
    await context.close();
    await s.ok("kill_job", { job_id: id });
  });

  it("a page on another origin cannot kill a job through a signed-in browser", async () => {
    const id = (await s.ok<{ job_id: string }>("execute_command", { command: "sleep 300", name: "target" })).job_id;
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(ui.url);
    await page.fill("input[name=token]", TOKEN);
    await page.click("button[type=submit]");
    await rowOf(page, id).waitFor({ timeout: 10_000 });
    const attack = await context.newPage();
    const killUrl = `${ui.url}api/jobs/${id}/kill`;
    await attack.goto(`${evilUrl}?target=${encodeURIComponent(killUrl)}`);
    await attack.waitForLoadState("networkidle");
    await new Promise((r) => setTimeout(r, 500));
    expect((await s.ok<{ status: string }>("get_job_status", { job_id: id })).status).toBe("running");
    // The same request from a script with a foreign Origin is refused outright.
    const res = await fetch(killUrl, {
      method: "POST",
      headers: {
        origin: "http://evil.example",
        "content-type": "application/json",
        "x-mcp-bg-jobs": "ui",
        authorization: `Bearer ${TOKEN}`,
      },
      body: "{}",
    });
    expect(res.status).toBe(403);
    expect((await s.ok<{ status: string }>("get_job_status", { job_id: id })).status).toBe("running");
    await context.close();
    await s.ok("kill_job", { job_id: id });
  });
});

describe.skipIf(!CHROMIUM)("the web page in HTTP mode: at / beside /mcp, on the same port", () => {
  it("serves the page and MCP together, with the same token", async () => {
    const token = "http-mode-token-1234567";
    const server = await startHttpServer([], { MCP_BG_AUTH_TOKEN: token });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const { client } = await httpClient(server.url, { token });
      const r = await client.callTool({
        name: "execute_command",
        arguments: { command: "sleep 300", name: "over http" },
      });
      const id = (r.structuredContent as { job_id: string }).job_id;
      const page = await browser.newPage();
      const base = `http://127.0.0.1:${server.port}/`;
      expect((await page.goto(base))?.status()).toBe(401);
      await page.fill("input[name=token]", token);
      await page.click("button[type=submit]");
      await rowOf(page, id).waitFor({ timeout: 10_000 });
      expect(await seen(rowOf(page, id).locator("td.what a"))).toBe("over http");
      // /mcp still wants the bearer token: the page's cookie is not a way in.
      expect((await page.request.post(server.url, { data: {} })).status()).toBe(401);
      await client.close();
    } finally {
      await browser.close();
      await server.close();
    }
  }, 60_000);
});
