import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { homedir, networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SHEPHERD_PATH } from "../../src/executors/local/shepherd-binary.js";
import { BIN, startServer, useServer } from "../support/harness.js";
import { marker, processesMatching, tempDir, waitFor } from "../support/helpers.js";
import { linuxOnly } from "../support/portable.js";

// A job's sandbox (Landlock, seccomp) and limits (cgroups), through the built server: what the
// program inside sees, what get_job_status says, and that the server is not harmed.

// What this kernel offers, as the capture binary finds it; a part it lacks is skipped, in one line.
const probed = (() => {
  try {
    return execFileSync(fileURLToPath(new URL("../../build/shepherd", import.meta.url)), ["--confine-probe"], {
      encoding: "utf8",
    });
  } catch {
    return "";
  }
})();
const LANDLOCK = Number(/^landlock (\d+)$/m.exec(probed)?.[1] ?? 0) > 0;
const SECCOMP = /^seccomp 1$/m.test(probed);
// Root may make cgroups (a user needs a delegated subtree: not tried here).
const CGROUPS = process.getuid?.() === 0 && existsSync("/sys/fs/cgroup");
for (const [has, what] of [
  [LANDLOCK, "this kernel has no Landlock (Linux 5.13+, landlock among the LSMs): the sandbox tests are skipped"],
  [SECCOMP, "this kernel has no seccomp filter: the network tests are skipped"],
  [CGROUPS, "not root: the tests of limits (which need cgroups this user may make) are skipped"],
] as const) {
  if (!has) process.stderr.write(`confine.test: ${what}\n`);
}

interface Status {
  status: string;
  exit_code: number | null;
  signal: string | null;
  outcome?: string;
  sandbox: string;
  network: boolean;
  writable: string[];
  limits: { memory_bytes: number | null; cpu: number | null; processes: number | null };
  confined_by: string[];
  usage: {
    cpu_seconds: number | null;
    memory_bytes: number | null;
    peak_memory_bytes: number | null;
    processes: number | null;
    peak_processes: number | null;
  } | null;
  limit_hit: string | null;
  started: string;
}

// A Python program that tries each thing and prints NAME:ok or NAME:ERRNO-NAME, one line each.
const PROBE = `
import errno, os, socket, sys
def attempt(name, fn):
    try:
        fn()
        print(name + ":ok", flush=True)
    except OSError as e:
        print(name + ":" + (errno.errorcode.get(e.errno) or str(e.errno)), flush=True)
def write(path):
    def w():
        with open(path, "w") as f:
            f.write("x")
    return w
args = sys.argv[1:]
while args:
    kind, name, arg = args[0], args[1], args[2]
    args = args[3:]
    if kind == "write": attempt(name, write(arg))
    elif kind == "mkdir": attempt(name, lambda: os.mkdir(arg))
    elif kind == "link": attempt(name, lambda: os.link(arg.split("|")[0], arg.split("|")[1]))
    elif kind == "rename": attempt(name, lambda: os.rename(arg.split("|")[0], arg.split("|")[1]))
    elif kind == "tcp":
        host, port = arg.rsplit(":", 1)
        def c():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect((host, int(port)))
            s.close()
        attempt(name, c)
    elif kind == "udp":
        def u():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.sendto(b"x", (arg, 9))
        attempt(name, u)
    elif kind == "syscall":
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        nums = [int(x) for x in arg.split(",")]
        def call():
            if libc.syscall(*nums) < 0:
                raise OSError(ctypes.get_errno(), "syscall")
        attempt(name, call)
    elif kind == "unix":
        def x():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.close()
        attempt(name, x)
print("done", flush=True)
`;

// Runs the probe as a job with these arguments and returns NAME -> result, and the job's status.
async function probe(
  s: ReturnType<typeof useServer>,
  cwd: string,
  steps: string[][],
  extra: Record<string, unknown> = {},
): Promise<{ seen: Record<string, string>; status: Status }> {
  const script = join(cwd, "probe.py");
  writeFileSync(script, PROBE);
  const quoted = steps.flat().map((a) => `'${a.replaceAll("'", "'\\''")}'`);
  const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
    command: `python3 ${script} ${quoted.join(" ")}`,
    cwd,
    wait_seconds: 60,
    ...extra,
  });
  const out = await s.ok<{ stdout: string }>("get_job_output", { job_id });
  expect(out.stdout).toContain("done");
  const seen = Object.fromEntries(
    out.stdout
      .split("\n")
      .filter((l) => l.includes(":"))
      .map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1)]),
  );
  return { seen, status: await s.ok<Status>("get_job_status", { job_id }) };
}

// Folders outside the temp dir (which a sandbox lets write).
function homeDir(prefix: string): { path: string; remove: () => void } {
  const base = join(homedir(), ".cache", "mcp-bg-jobs-tests");
  mkdirSync(base, { recursive: true });
  const path = mkdtempSync(join(base, prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

describe.skipIf(!LANDLOCK)("a job's sandbox", () => {
  const s = useServer();
  const ws = homeDir("ws-");
  const outside = homeDir("outside-");
  afterAll(() => {
    ws.remove();
    outside.remove();
  });

  it("workspace: writes below its cwd and the temp dir, and nowhere else, by any path", async () => {
    writeFileSync(join(outside.path, "victim"), "untouched");
    mkdirSync(join(ws.path, "sub"), { recursive: true });
    const { execFileSync } = await import("node:child_process");
    execFileSync("ln", ["-s", outside.path, join(ws.path, "escape")]);
    const rel = join("..", outside.path.split("/").pop() ?? "", "dotdot");
    const { seen, status } = await probe(
      s,
      ws.path,
      [
        ["write", "inside", join(ws.path, "sub", "file")],
        ["mkdir", "inside-dir", join(ws.path, "made")],
        ["rename", "inside-rename", `${join(ws.path, "sub", "file")}|${join(ws.path, "made", "file")}`],
        ["write", "tmp", join(tmpdir(), `mcp-bg-ws-tmp-${process.pid}`)],
        ["write", "outside", join(outside.path, "new")],
        ["write", "victim", join(outside.path, "victim")],
        ["write", "symlink", join(ws.path, "escape", "via-link")],
        ["write", "dotdot", join(ws.path, rel)],
        ["write", "proc-root", join("/proc/self/root", outside.path, "via-proc")],
        ["link", "hardlink", `${join(outside.path, "victim")}|${join(ws.path, "hl")}`],
        ["rename", "rename-out", `${join(ws.path, "made", "file")}|${join(outside.path, "moved")}`],
        ["write", "etc", `/etc/mcp-bg-sandbox-test-${process.pid}`],
      ],
      { sandbox: "workspace" },
    );
    expect(seen).toMatchObject({ inside: "ok", "inside-dir": "ok", "inside-rename": "ok", tmp: "ok" });
    for (const name of ["outside", "victim", "symlink", "dotdot", "proc-root", "etc"]) {
      expect(seen[name], name).toMatch(/^(EACCES|EPERM)$/);
    }
    // A link or a move across the sandbox's edge: refused as a cross-device one.
    expect(seen.hardlink).toMatch(/^(EXDEV|EACCES|EPERM)$/);
    expect(seen["rename-out"]).toMatch(/^(EXDEV|EACCES|EPERM)$/);
    expect(readFileSync(join(outside.path, "victim"), "utf8")).toBe("untouched");
    expect(existsSync(join(outside.path, "new"))).toBe(false);
    expect(existsSync(`/etc/mcp-bg-sandbox-test-${process.pid}`)).toBe(false);
    // It went on after each refusal, and ended by its own exit.
    expect(status).toMatchObject({ status: "completed", sandbox: "workspace", network: true });
    expect(status.writable).toContain(ws.path);
    expect(status.confined_by.join(" ")).toMatch(/Landlock ABI \d/);
  });

  it("workspace: no new mount, no namespace that lifts it, no writes after unshare", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: [
        `mkdir -p mnt`,
        `unshare -m mount -t tmpfs none ${ws.path}/mnt && echo mount:ok || echo mount:refused`,
        `unshare -U -r sh -c 'echo x > ${outside.path}/userns' 2>/dev/null && echo userns:ok || echo userns:refused`,
        `mount --bind /tmp ${outside.path} 2>/dev/null && echo bind:ok || echo bind:refused`,
      ].join("; "),
      cwd: ws.path,
      sandbox: "workspace",
      wait_seconds: 60,
    });
    const out = (await s.ok<{ stdout: string }>("get_job_output", { job_id })).stdout;
    expect(out).toContain("mount:refused");
    expect(out).toContain("userns:refused");
    expect(out).toContain("bind:refused");
    expect(existsSync(join(outside.path, "userns"))).toBe(false);
  });

  it("read-only: writes only to the temp dir", async () => {
    const { seen, status } = await probe(
      s,
      ws.path,
      [
        ["write", "cwd", join(ws.path, "ro")],
        ["write", "tmp", join(tmpdir(), `mcp-bg-ro-tmp-${process.pid}`)],
      ],
      { sandbox: "read-only" },
    );
    expect(seen.cwd).toMatch(/^(EACCES|EPERM)$/);
    expect(seen.tmp).toBe("ok");
    expect(status.sandbox).toBe("read-only");
  });

  it("off (the default): as before, and get_job_status says so", async () => {
    const { seen, status } = await probe(s, ws.path, [["write", "outside", join(outside.path, "free")]]);
    expect(seen.outside).toBe("ok");
    expect(status).toMatchObject({ sandbox: "off", network: true, writable: [], confined_by: [] });
  });
});

describe.skipIf(!SECCOMP)("a job with network: false", () => {
  const s = useServer();
  const ws = tempDir("mcp-bg-net-");
  let listener: Server;
  let port = 0;
  beforeAll(async () => {
    listener = createServer((c) => c.end());
    await new Promise<void>((r) => listener.listen(0, "0.0.0.0", r));
    port = (listener.address() as { port: number }).port;
  });
  afterAll(() => {
    listener.close();
    ws.remove();
  });
  // Another address of this machine than loopback, if it has one.
  const other = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === "IPv4" && !a.internal)?.address;

  it("reaches nothing over TCP or UDP, loopback and this machine's other address included; Unix sockets work", async () => {
    const steps = [
      ["tcp", "loopback", `127.0.0.1:${port}`],
      ["udp", "udp", "127.0.0.1"],
      ["unix", "unix", "-"],
    ];
    if (other) steps.push(["tcp", "other", `${other}:${port}`]);
    else process.stderr.write("confine.test: this machine has no address but loopback; that case is not tried\n");
    const free = await probe(s, ws.path, steps);
    expect(free.seen).toMatchObject({ loopback: "ok", udp: "ok", unix: "ok", ...(other ? { other: "ok" } : {}) });
    // Nor a socket taken from another process of the same user (pidfd_getfd), nor its memory
    // (process_vm_readv): refused outright, where without the ban they only fail on a bad argument.
    const pvr = process.arch === "arm64" ? 270 : 310;
    const taking = [
      ["syscall", "pidfd_getfd", "438,-1,0,0"],
      ["syscall", "process_vm_readv", `${pvr},1,0,0,0,0,0`],
    ];
    const allowed = await probe(s, ws.path, taking);
    expect(allowed.seen.pidfd_getfd).toBe("EBADF");
    const banned = await probe(s, ws.path, [...steps, ...taking], { network: false });
    expect(banned.seen).toMatchObject({ loopback: "EACCES", udp: "EACCES", unix: "ok", pidfd_getfd: "EPERM" });
    expect(banned.seen.process_vm_readv).toBe("EPERM");
    if (other) expect(banned.seen.other).toBe("EACCES");
    expect(banned.status).toMatchObject({ status: "completed", network: false, sandbox: "off" });
    expect(banned.status.confined_by.join(" ")).toMatch(/seccomp/);
  });
});

describe.skipIf(!LANDLOCK || !SECCOMP || !CGROUPS)(
  "a server that requires its sandbox (MCP_BG_SANDBOX_REQUIRED=1)",
  () => {
    const s = useServer({
      env: {
        MCP_BG_SANDBOX: "workspace",
        MCP_BG_SANDBOX_REQUIRED: "1",
        MCP_BG_NETWORK: "0",
        MCP_BG_JOB_PROCESSES: "500",
      },
    });

    it("refuses a request for less, starting nothing, and confines the rest by default", async (ctx) => {
      const before = (await s.ok<{ total: number }>("list_jobs", {})).total;
      expect(await s.error("execute_command", { command: "true", sandbox: "off" })).toMatch(
        /sandbox "off" is less than the server's "workspace".*MCP_BG_SANDBOX_REQUIRED=1/,
      );
      expect(await s.error("execute_command", { command: "true", network: true })).toMatch(/network/);
      expect(await s.error("execute_command", { command: "true", process_limit: 1000 })).toMatch(/process_limit/);
      // Its workspace is its cwd: not one outside the server's working dir, and never /.
      expect(await s.error("execute_command", { command: "true", cwd: "/" })).toMatch(
        /cwd \/ would let the job write anywhere/,
      );
      expect(await s.error("execute_command", { command: "true", cwd: "/usr" })).toMatch(
        /cwd \/usr is outside the server's working dir .*MCP_BG_SANDBOX_REQUIRED=1/,
      );
      expect((await s.ok<{ total: number }>("list_jobs", {})).total).toBe(before);
      linuxOnly(ctx, "the default process limit needs cgroups");
      const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: "true", wait_seconds: 30 });
      expect(await s.ok<Status>("get_job_status", { job_id })).toMatchObject({
        sandbox: "workspace",
        network: false,
        limits: { processes: 500 },
      });
    });
  },
);

describe.skipIf(!CGROUPS)("a job's limits", () => {
  const s = useServer();

  it("memory: a hog is killed by its memory limit, says so, and the server answers meanwhile", async (ctx) => {
    linuxOnly(ctx, "limits need cgroups");
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: `python3 -c "b = bytearray(b'x') * (400 * 1024 * 1024); print(len(b))"`,
      memory_limit: "64MB",
    });
    expect((await s.ok<{ total: number }>("list_jobs", {})).total).toBeGreaterThan(0);
    const done = await s.ok<Status>("wait_for_job", { job_id, timeout: 60 });
    expect(done.status).toBe("failed");
    const status = await s.ok<Status>("get_job_status", { job_id });
    expect(status.limit_hit).toBe("memory");
    expect(status.outcome).toBe("killed by its memory limit (64 MB): out of memory");
    expect(status.limits.memory_bytes).toBe(64 * 1024 * 1024);
    expect(status.confined_by.join(" ")).toMatch(/cgroup v[12] memory/);
    expect(status.usage?.peak_memory_bytes).toBeGreaterThan(0);
    expect(status.usage?.peak_memory_bytes).toBeLessThanOrEqual(64 * 1024 * 1024);
  });

  it("processes: a fork bomb stays under its limit, harms nothing else, and a kill ends all of it", async (ctx) => {
    linuxOnly(ctx, "limits need cgroups");
    const m = marker();
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      // Not the classic `:(){ :|:& };:` (the default deny rules refuse that form): one that goes on
      // (dash itself exits when a fork fails; its children go on forking).
      command: `b() { b & b & wait; }; while :; do b; done; : ${m}`,
      process_limit: 40,
    });
    const hit = await waitFor(async () => {
      const st = await s.ok<Status>("get_job_status", { job_id });
      return st.limit_hit === "processes" && st;
    });
    expect(hit.usage?.peak_processes).toBeLessThanOrEqual(40);
    expect(hit.usage?.peak_processes).toBeGreaterThan(10);
    // Another job starts and runs while it rages.
    const other = await s.ok<{ status: string; exit_code: number }>("execute_command", {
      command: "echo fine",
      wait_seconds: 60,
    });
    expect(other).toMatchObject({ status: "completed", exit_code: 0 });
    // Whether its first shell has given up by now or not, a kill ends all of it.
    await s.call("kill_job", { job_id });
    await waitFor(() => processesMatching(m).length === 0);
    const end = await s.ok<Status>("get_job_status", { job_id });
    expect(["killed", "failed"]).toContain(end.status);
    expect(end.limit_hit).toBe("processes");
    expect(end.outcome).toMatch(/process limit \(40\): forks were refused/);
  });

  it("cpu: a spinner gets the share it was given", async (ctx) => {
    linuxOnly(ctx, "limits need cgroups");
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: "while :; do :; done",
      cpu_limit: 0.25,
    });
    const first = Date.now();
    // Waits for CPU time, not for a guess at machine speed; a busy machine only lowers the share.
    const st = await waitFor(async () => {
      const x = await s.ok<Status>("get_job_status", { job_id });
      return (x.usage?.cpu_seconds ?? 0) >= 0.5 && x;
    }, 60_000);
    const wall = (Date.now() - Date.parse(st.started)) / 1000;
    expect(first).toBeGreaterThan(0);
    await s.ok("kill_job", { job_id });
    // 0.5 s of CPU took at least 2 s at a quarter of a core (the kernel's period is 100 ms).
    expect((st.usage?.cpu_seconds ?? 0) / wall).toBeLessThanOrEqual(0.25 * 1.2 + 0.02);
    expect(st.limits.cpu).toBe(0.25);
  });

  it("usage: a plain job's CPU time where its cgroup tells it, and null figures where none does", async () => {
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done",
      wait_seconds: 60,
    });
    const st = await s.ok<Status>("get_job_status", { job_id });
    expect(st.status).toBe("completed");
    if (st.usage) expect(st.usage.cpu_seconds).toBeGreaterThan(0);
    expect(st.limits).toEqual({ memory_bytes: null, cpu: null, processes: null });
    // A list's row shows the CPU time of an ended job where its cgroup told it; a status, once.
    const row = (await s.ok<{ jobs: { job_id: string; cpu_seconds?: number }[] }>("list_jobs", {})).jobs.find(
      (j) => j.job_id === job_id,
    );
    const cpu = st.usage?.cpu_seconds;
    if (typeof cpu === "number") expect(row?.cpu_seconds).toBeCloseTo(cpu, 2);
    else expect(row?.cpu_seconds).toBeUndefined();
    expect(st).not.toHaveProperty("cpu_seconds");
  });

  it("a bad limit is refused before anything starts", async () => {
    const before = (await s.ok<{ total: number }>("list_jobs", {})).total;
    expect(await s.error("execute_command", { command: "true", memory_limit: "lots" })).toMatch(/memory_limit/);
    expect(await s.error("execute_command", { command: "true", memory_limit: "10KB" })).toMatch(/1MB to 1TB/);
    expect(await s.error("execute_command", { command: "true", process_limit: 0 })).toMatch(/process_limit/);
    expect(await s.error("execute_command", { command: "true", cpu_limit: -1 })).toMatch(/cpu_limit/);
    expect((await s.ok<{ total: number }>("list_jobs", {})).total).toBe(before);
  });
});

describe.skipIf(!LANDLOCK)("where limits cannot be had (portable mode: no cgroups)", () => {
  it("a limit is an error before anything starts, saying why; a sandbox still applies", async () => {
    const s = await startServer({ env: { MCP_BG_PORTABLE: "1" } });
    try {
      expect(await s.error("execute_command", { command: "true", memory_limit: "1GB" })).toMatch(
        /memory_limit cannot be enforced here: resource limits need Linux cgroups/,
      );
      expect((await s.ok<{ total: number }>("list_jobs", {})).total).toBe(0);
      const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
        command: "echo x > /etc/mcp-bg-portable-test; echo $?",
        sandbox: "read-only",
        wait_seconds: 30,
      });
      expect((await s.ok<{ stdout: string }>("get_job_output", { job_id })).stdout.trim()).not.toBe("0");
    } finally {
      await s.close();
    }
  });
});

describe.skipIf(!LANDLOCK)("a server run by a user who may not make cgroups (not root, nothing delegated)", () => {
  it("refuses a limit before anything starts, saying why and what to do; a sandbox still works", async (ctx) => {
    linuxOnly(ctx, "the unprivileged case of cgroups (portable mode has none at all)");
    if (process.getuid?.() !== 0 || !existsSync("/usr/bin/setpriv")) {
      process.stderr.write("confine.test: not root or no setpriv: the unprivileged server is not tried\n");
      ctx.skip();
    }
    const state = tempDir("mcp-bg-nobody-");
    chmodSync(state.path, 0o777);
    chownSync(state.path, 65534, 65534);
    const s = await startServer({
      command: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, BIN],
      stateDir: state.path,
      env: { HOME: state.path, MCP_BG_WORKING_DIR: state.path },
    });
    try {
      const why = await s.error("execute_command", { command: "true", process_limit: 10 });
      expect(why).toMatch(
        /process_limit cannot be enforced here: no cgroup .* run it as root, or in a cgroup with the controller delegated/,
      );
      expect((await s.ok<{ total: number }>("list_jobs", {})).total).toBe(0);
      const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
        command: "echo y > ok; cat ok",
        sandbox: "workspace",
        wait_seconds: 30,
      });
      expect((await s.ok<{ stdout: string }>("get_job_output", { job_id })).stdout).toBe("y\n");
    } finally {
      await s.close();
      state.remove();
    }
  });
});

describe.skipIf(!LANDLOCK)(
  "a sandboxed job that can write into its own folder (a state dir under the temp dir)",
  () => {
    const s = useServer();
    const outside = homeDir("victims-");
    afterAll(() => outside.remove());

    it("cannot make its capture process or the server write through, or block on, what it puts there", async () => {
      const victim = join(outside.path, "victim");
      writeFileSync(victim, "untouched");
      mkdirSync(join(outside.path, "dir"));
      const jobDir = `${s.stateDir}/jobs/$MCP_BG_JOB_ID`;
      const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
        command: [
          `ln -sf ${victim} "${jobDir}/exit.tmp"`,
          `ln -sf ${victim} "${jobDir}/pid.tmp"`,
          `ln -s ${join(outside.path, "dir")} "${jobDir}/usage"`,
          `rm -f "${jobDir}/cgroup"; mkfifo "${jobDir}/cgroup"`,
          "echo planted",
        ].join("; "),
        sandbox: "read-only",
        wait_seconds: 30,
      });
      const st = await s.ok<Status>("get_job_status", { job_id });
      expect(st.status).toBe("completed");
      expect((await s.ok<{ stdout: string }>("get_job_output", { job_id })).stdout).toBe("planted\n");
      expect(readFileSync(victim, "utf8")).toBe("untouched");
      expect(existsSync(join(outside.path, "dir", "cpu.stat"))).toBe(false);
      // The server still answers about it, and lists it.
      expect((await s.ok<{ total: number }>("list_jobs", {})).total).toBeGreaterThan(0);
    });
  },
);

describe.skipIf(!CGROUPS)("a job whose server-made cgroup is gone before it starts", () => {
  it("does not start, rather than run in a cgroup made without its limits", async () => {
    const mount = readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .find((l) => l.split(" - ")[1]?.startsWith("cgroup2 "))
      ?.split(" ")[4];
    if (!mount) {
      process.stderr.write("confine.test: no cgroup v2 mount: the missing-cgroup case is not tried\n");
      return;
    }
    const folder = mkdtempSync(join(mount, "mcp-bg-test-"));
    const dir = tempDir("mcp-bg-shepherd-");
    try {
      const id = "0f0f0f0f-0000-4000-8000-000000000001";
      const r = spawnSync(
        SHEPHERD_PATH,
        [dir.path, id, "65536", "100", "0", "80", "24", "/bin/sh", "echo ran", folder, `in ${folder}/${id}\n`],
        { encoding: "utf8", timeout: 30_000 },
      );
      expect(r.stdout).toMatch(/error \d+ cannot put the job under its limits/);
      expect(r.stdout).not.toMatch(/^pid /m);
      expect(existsSync(join(folder, id))).toBe(false);
    } finally {
      rmdirSync(folder);
      dir.remove();
    }
  });
});
