import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { useServer } from "../support/harness.js";
import { waitFor } from "../support/helpers.js";

type Output = { stdout: string; stderr: string; cursor: string; truncated: boolean };

// Peak resident memory (VmHWM) of a process in bytes.
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1]) * 1024;
}

describe("output is safe", () => {
  const s = useServer({ env: { MCP_BG_MAX_OUTPUT_SIZE: "1MB", MCP_BG_MAX_RESPONSE_CHARS: "2000" } });

  const run = async (command: string) => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command });
    await waitFor(
      async () => (await s.ok<{ status: string }>("get_job_status", { job_id })).status !== "running",
      60_000,
    );
    return job_id;
  };

  it("keeps the server's memory bounded and the child unblocked under a 300 MB flood without newlines", async () => {
    const before = peakRss(s.pid);
    const job_id = await run("head -c 300000000 /dev/zero | tr '\\0' a; echo; echo end-of-flood");
    expect(await s.ok("get_job_status", { job_id })).toMatchObject({ status: "completed", exit_code: 0 });
    expect(peakRss(s.pid) - before).toBeLessThan(50 * 1024 * 1024);
    const out = await s.ok<Output>("get_job_output", { job_id });
    expect(out.truncated).toBe(true);
    // The newest bytes are kept; the text says what was dropped, and that this result was cut.
    expect(out.stdout.endsWith("a\nend-of-flood\n")).toBe(true);
    expect(out.stdout).toMatch(/earlier bytes not shown/);
    expect(out.stdout.length).toBeLessThan(2000 + 400);
    const tail = await s.ok<{ stdout: string }>("tail_job_output", { job_id, lines: 1 });
    expect(tail.stdout).toBe("end-of-flood");
  });

  it("says where and how much the log dropped once a stream passes its cap", async () => {
    const job_id = await run("seq 1 400000"); // ~2.6 MB with a 1 MB cap
    const out = await s.ok<Output>("get_job_output", { job_id, since: "0:0" });
    expect(out.truncated).toBe(true);
    const dropped = 2_688_895 - 1024 * 1024; // bytes of `seq 1 400000` minus the cap
    expect(out.stdout).toContain(`${dropped.toLocaleString("en-US")} bytes dropped`);
    const tail = await s.ok<{ stdout: string }>("tail_job_output", { job_id, lines: 2 });
    expect(tail.stdout).toBe("399999\n400000");
  });

  it("decodes a character split across two writes whole, and invalid bytes as U+FFFD", async () => {
    const job_id = await run("printf 'caf\\303'; sleep 0.2; printf '\\251\\n'; printf 'bad \\377\\376 bytes\\n' >&2");
    const out = await s.ok<Output>("get_job_output", { job_id });
    expect(out.stdout).toBe("café\n");
    expect(out.stderr).toBe("bad \uFFFD\uFFFD bytes\n");
  });

  it("holds back a character that is not complete yet, and hands it out whole on the next read", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: "printf 'x\\342\\202'; read _; printf '\\254\\n'",
    });
    const first = await waitFor(async () => {
      const o = await s.ok<Output>("get_job_output", { job_id });
      return o.cursor !== "0:0" && o;
    });
    expect(first.stdout).toBe("x");
    await s.ok("interact_with_job", { job_id, input: "" });
    const rest = await s.ok<Output>("get_job_output", { job_id, since: first.cursor });
    expect(rest.stdout).toBe("€\n");
  });

  it("strips ANSI sequences and collapses carriage-return redraws", async () => {
    const job_id = await run(
      "printf '\\033[31mred\\033[0m \\033[1mbold\\033[0m\\n'; printf 'progress 10%%\\rprogress 50%%\\rprogress 100%%\\n'; printf 'dos line\\r\\n'",
    );
    const out = await s.ok<Output>("get_job_output", { job_id });
    expect(out.stdout).toBe("red bold\nprogress 100%\ndos line\n");
    const tail = await s.ok<{ stdout: string }>("tail_job_output", { job_id, lines: 3 });
    expect(tail.stdout).toBe("red bold\nprogress 100%\ndos line");
  });

  it("caps one result at MCP_BG_MAX_RESPONSE_CHARS per stream, and cursors page through the rest", async () => {
    const job_id = await run("seq 1 3000"); // 13,893 bytes
    const whole = await s.ok<Output>("get_job_output", { job_id });
    expect(whole.truncated).toBe(true);
    expect(whole.stdout).toMatch(/^\[mcp-bg-jobs: 11,893 earlier bytes not shown.*since="0:0"/);
    expect(whole.stdout.endsWith("2999\n3000\n")).toBe(true);
    // Page forward from the start: each page at most 2000 characters, together exactly the output.
    let text = "";
    let cursor = "0:0";
    for (let pages = 0; pages < 20; pages++) {
      const page = await s.ok<Output>("get_job_output", { job_id, since: cursor });
      const body = page.stdout.replace(/\n\[mcp-bg-jobs: [^\]]*\]$/, "");
      expect(body.length).toBeLessThanOrEqual(2000);
      text += body;
      if (page.cursor === cursor) break;
      cursor = page.cursor;
    }
    const expected = `${Array.from({ length: 3000 }, (_, i) => i + 1).join("\n")}\n`;
    expect(text).toBe(expected);
    // Reading at the end returns empty strings, not the log again.
    expect(await s.ok("get_job_output", { job_id, since: cursor })).toMatchObject({ stdout: "", stderr: "" });
  });

  it("says so when the lines a tail asks for do not fit in one result", async () => {
    // 10 lines of 1,000 characters with a 2,000-character limit per result.
    const job_id = await run('for i in 1 2 3 4 5 6 7 8 9 10; do printf "%01000d\\n" $i; done');
    const tail = await s.ok<{ stdout: string }>("tail_job_output", { job_id, lines: 10 });
    expect(tail.stdout).toMatch(/^\[mcp-bg-jobs: these lines hold more than 2,000 bytes/);
    expect(tail.stdout.endsWith("0010")).toBe(true);
    expect(tail.stdout.length).toBeLessThan(2000 + 300);
    const fits = await s.ok<{ stdout: string }>("tail_job_output", { job_id, lines: 1 });
    expect(fits.stdout).toBe(`${"0".repeat(998)}10`);
    // A very long matching line comes back cut, saying so.
    const long = await run('printf "%05000d\\n" 7');
    const wait = await s.ok<{ match: string }>("wait_for_job", { job_id: long, until: "7$" });
    expect(wait.match).toBe(`${"0".repeat(1000)}… [4000 more chars]`);
  });

  it("rejects a malformed cursor with a clear error", async () => {
    const job_id = await run("true");
    expect(await s.error("get_job_output", { job_id, since: "yesterday" })).toMatch(/cursor/);
  });
});
