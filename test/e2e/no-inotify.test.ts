import { spawn, spawnSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { BIN, cleanEnv, type Harness, startServer } from "../support/harness.js";
import { tempDir, waitFor } from "../support/helpers.js";

// When inotify cannot be had (fs.inotify.max_user_instances is 128 by default, and editors take
// many), every wait must still see what it waits for: by looking at the files instead, and saying so
// once. (Found by a hostile review: `wait_for_job until` answered timed_out, matched false, with the
// line in the output, 0 of 10 with no instance left, 20 of 40 with 20 watches left; nothing logged.)
// Each server runs in a user namespace of its own, whose inotify limits the test sets: the machine's
// own limits are left alone.

const canLimit =
  spawnSync("unshare", ["--user", "--map-root-user", "sh", "-c", "echo 0 > /proc/sys/user/max_inotify_instances"])
    .status === 0;
if (!canLimit) console.log("no-inotify tests skipped: cannot make a user namespace with its own inotify limits here");

/** `node ARGS` in a user namespace whose inotify instances and watches are limited. */
function limited(limits: { instances?: number; watches?: number }, args: string[]): string[] {
  const set = [
    limits.instances !== undefined ? `echo ${limits.instances} > /proc/sys/user/max_inotify_instances` : "",
    limits.watches !== undefined ? `echo ${limits.watches} > /proc/sys/user/max_inotify_watches` : "",
  ].filter(Boolean);
  return [
    "unshare",
    "--user",
    "--map-root-user",
    "sh",
    "-c",
    [...set, 'exec "$@"'].join(" && "),
    "sh",
    process.execPath,
    ...args,
  ];
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(limits: { instances?: number; watches?: number }, stateDir?: string): Promise<Harness> {
  const s = await startServer({ command: limited(limits, [BIN]), stateDir, env: { MCP_BG_MAX_JOBS: "100" } });
  cleanups.push(() => s.close());
  return s;
}

type Wait = { matched: boolean; timed_out: boolean; status: string };

describe.skipIf(!canLimit)("without inotify", () => {
  it("waits see the line, starts that wait see it, and the log says once why it is slower", async () => {
    const s = await server({ instances: 0 });
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
        command: `sleep 1; echo ready ${i}; sleep 300`,
      });
      ids.push(job_id);
    }
    const waits = await Promise.all(
      ids.map((job_id, i) => s.ok<Wait>("wait_for_job", { job_id, until: `^ready ${i}$`, timeout_seconds: 45 })),
    );
    expect(waits.map((w) => w.matched)).toEqual(ids.map(() => true));
    // execute_command's own wait, and a wait for the end.
    const started = await s.ok<Wait>("execute_command", {
      command: "sleep 0.5; echo up; sleep 300",
      wait_until: "^up$",
      wait_seconds: 20,
    });
    expect(started).toMatchObject({ matched: true });
    const quick = await s.ok<{ job_id: string }>("execute_command", { command: "sleep 0.5; exit 3" });
    expect(await s.ok("wait_for_job", { job_id: quick.job_id, timeout_seconds: 45 })).toMatchObject({
      status: "failed",
      timed_out: false,
    });
    // interact_with_job still hears the answer.
    const cat = await s.ok<{ job_id: string }>("execute_command", { command: "cat" });
    expect(await s.ok("interact_with_job", { job_id: cat.job_id, input: "echo me", wait_ms: 10_000 })).toMatchObject({
      stdout: "echo me\n",
    });
    const said = s.stderr().match(/cannot watch files through inotify/g) ?? [];
    expect(said.length).toBe(1);
    for (const job_id of [...ids, cat.job_id]) await s.ok("kill_job", { job_id, signal: "SIGKILL", grace_seconds: 0 });
  });

  it("with 20 watches left, 40 waits on 40 jobs all see their line", async () => {
    const s = await server({ watches: 20 });
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
        command: `sleep 1; echo ready; sleep 300`,
      });
      ids.push(job_id);
    }
    const waits = await Promise.all(
      ids.map((job_id) => s.ok<Wait>("wait_for_job", { job_id, until: "ready", timeout_seconds: 45 })),
    );
    expect(waits.filter((w) => w.matched).length).toBe(40);
    for (const job_id of ids) await s.ok("kill_job", { job_id, signal: "SIGKILL", grace_seconds: 0 });
  });

  it("another server's job: its end is seen by a server without inotify", async () => {
    const state = tempDir("mcp-bg-state-");
    cleanups.push(() => state.remove());
    const a = await server({}, state.path);
    const b = await server({ instances: 0 }, state.path);
    const { job_id } = await a.ok<{ job_id: string }>("execute_command", { command: "sleep 1; echo bye; exit 4" });
    expect(await b.ok("wait_for_job", { job_id, until: "^bye$", timeout_seconds: 45 })).toMatchObject({
      matched: true,
    });
    expect(await b.ok("wait_for_job", { job_id, timeout_seconds: 45 })).toMatchObject({
      status: "failed",
      timed_out: false,
    });
  });

  it("logs -f and the page's output stream follow a job without inotify", async () => {
    const s = await server({});
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: "for i in 1 2 3; do sleep 0.5; echo line $i; done",
    });
    const logs = spawn(
      limited({ instances: 0 }, [BIN, "logs", "-f", job_id])[0] as string,
      limited({ instances: 0 }, [BIN, "logs", "-f", job_id]).slice(1),
      {
        env: { ...cleanEnv(), MCP_BG_STATE_DIR: s.stateDir },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    logs.stdout.on("data", (c: Buffer) => (out += c.toString()));
    expect(await new Promise((r) => logs.on("close", r))).toBe(0);
    expect(out).toBe("line 1\nline 2\nline 3\n");
    // The page, served without inotify, streams a running job's output as it comes.
    const { job_id: page } = await s.ok<{ job_id: string }>("execute_command", {
      command: "sleep 1; echo first; sleep 1; echo second",
    });
    const argv = limited({ instances: 0 }, [BIN, "ui", "--port", "0"]);
    const ui = spawn(argv[0] as string, argv.slice(1), {
      env: { ...cleanEnv(), MCP_BG_STATE_DIR: s.stateDir },
      stdio: ["ignore", "ignore", "pipe"],
    });
    cleanups.push(() => void ui.kill("SIGKILL"));
    let err = "";
    ui.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const url = (await waitFor(() => / at (http:\/\/\S+)/.exec(err)?.[1])) as string;
    const res = await fetch(`${url}api/jobs/${page}/output?stream=stdout`);
    const text = await res.text();
    // The output as it came (in one piece or two, as the looks at the folder found it), then the end.
    const data = [...text.matchAll(/event: data\ndata: (.*)\n/g)].map((m) => JSON.parse(m[1] as string)).join("");
    expect(data).toBe("first\nsecond\n");
    expect(text).toMatch(/event: end\n/);
  });
});
