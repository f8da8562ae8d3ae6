import { execFileSync, spawn } from "node:child_process";
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  readSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error: a script of the project's, in plain JavaScript
import { readMachO } from "../../scripts/macho.mjs";
import { readExitFile } from "../../src/executors/job-folder.js";
import { readRing } from "../../src/text/ring-file.js";
import { type Harness, startServer } from "../support/harness.js";
import { isAlive, tempDir, waitFor } from "../support/helpers.js";
import { noCompilerEnv, npmFreeEnv, onPath, type Run, run } from "../support/no-compiler.js";

// The package as a user gets it: `npm pack` (which builds the static shepherds), then `npm install`
// of the tarball into an empty folder on a machine without a compiler, then the installed bin.

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const VERSION = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version as string;
const HOST = `linux-${process.arch}`;
const TOOLCHAINS = ["musl-gcc", "aarch64-linux-gnu-gcc", "file"].filter((t) => !onPath(t));
const QEMU = onPath("qemu-aarch64-static") && process.arch !== "arm64";
if (TOOLCHAINS.length > 0) {
  process.stderr.write(
    `package.test.ts skipped: no ${TOOLCHAINS.join(", ")} (Debian: musl-tools gcc-aarch64-linux-gnu libc6-dev-arm64-cross file; .ci/run installs them)\n`,
  );
} else if (!QEMU && process.arch !== "arm64") {
  process.stderr.write(
    "package.test.ts: the arm64 shepherd's run is skipped: no qemu-aarch64-static (Debian: qemu-user-static)\n",
  );
}

/** What a user needs, and nothing else: the tarball's exact contents. */
const CONTENTS = [
  "README.md",
  "dist/chunks/*.mjs",
  "dist/first-answers.json",
  "dist/mcp-bg-jobs.mjs",
  "dist/ui/addon-search.js",
  "dist/ui/app.css",
  "dist/ui/app.js",
  "dist/ui/index.html",
  "dist/ui/xterm.css",
  "dist/ui/xterm.js",
  "dist/worker.mjs",
  "native/confine-linux.c",
  "native/os-darwin.c",
  "native/os-linux.c",
  "native/procs.c",
  "native/shepherd.c",
  "package.json",
  "prebuilt/darwin-arm64/shepherd",
  "prebuilt/darwin-x64/shepherd",
  "prebuilt/linux-arm64/shepherd",
  "prebuilt/linux-x64/shepherd",
  "scripts/build-shepherd.mjs",
];

/** ELF e_machine of each prebuilt target, and what `file` calls it. */
const MACHINES = { "linux-x64": [62, "x86-64"], "linux-arm64": [183, "ARM aarch64"] } as const;

// Why an ELF file is not a static executable for `machine` (an interpreter or a dynamic section), if it is not.
function notStatic(path: string, machine: number): string | undefined {
  const head = Buffer.alloc(4096);
  const fd = openSync(path, "r");
  readSync(fd, head, 0, head.length, 0);
  closeSync(fd);
  if (head.toString("latin1", 0, 4) !== "\x7fELF") return "not an ELF file";
  if (head.readUInt16LE(18) !== machine) return `machine ${head.readUInt16LE(18)}`;
  const [off, size, count] = [Number(head.readBigUInt64LE(32)), head.readUInt16LE(54), head.readUInt16LE(56)];
  for (let i = 0; i < count; i++) {
    const type = head.readUInt32LE(off + i * size);
    if (type === 2 || type === 3) return type === 3 ? "PT_INTERP" : "PT_DYNAMIC";
  }
  return undefined;
}

const ok = (r: Run, what: string) => {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r;
};

describe.skipIf(TOOLCHAINS.length > 0)("the packed tarball, installed where there is no compiler", () => {
  // Made only when the tests run: a skipped suite's body still runs, its hooks do not.
  const work = TOOLCHAINS.length > 0 ? { path: "", remove: () => {} } : tempDir("mcp-bg-pack-");
  const src = join(work.path, "src");
  const app = join(work.path, "app");
  const pkg = join(app, "node_modules", "mcp-bg-jobs");
  const bin = join(app, "node_modules", ".bin", "mcp-bg-jobs");
  const state = join(work.path, "state");
  let noCompiler: ReturnType<typeof noCompilerEnv>;
  let packed: { filename: string; size: number; unpackedSize: number; files: { path: string; mode: number }[] };
  let install: Run;
  const timings: string[] = [];
  afterAll(() => {
    process.stderr.write(`package.test.ts: ${timings.join(", ")}\n`);
    work.remove();
  });

  beforeAll(async () => {
    mkdirSync(join(work.path, "shims"));
    noCompiler = noCompilerEnv(join(work.path, "shims"));
    // Packed from a copy of the work tree (what git tracks or would: uncommitted edits too), so that the
    // build `npm pack` runs does not rewrite the dist/ that other tests are starting servers from.
    const listed = execFileSync("git", ["ls-files", "-z", "-co", "--exclude-standard"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    for (const f of listed.split("\0").filter((f) => f && existsSync(join(ROOT, f)))) {
      mkdirSync(dirname(join(src, f)), { recursive: true });
      copyFileSync(join(ROOT, f), join(src, f));
    }
    symlinkSync(join(ROOT, "node_modules"), join(src, "node_modules"));
    const pack = ok(
      await run(["npm", "pack", "--json", "--pack-destination", work.path], { cwd: src, env: npmFreeEnv() }),
      "npm pack",
    );
    timings.push(`npm pack ${pack.ms} ms`);
    packed = JSON.parse(pack.stdout.slice(pack.stdout.indexOf("[")))[0];
    // Installed as npm 10 (Node 20's) does it, running the package's install script: npm 11 skips
    // scripts of dependencies not listed in allowScripts, which the prebuilt shepherds make unneeded.
    mkdirSync(app);
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({ name: "app", version: "1.0.0", private: true, allowScripts: { "mcp-bg-jobs": true } }),
    );
    const tarball = join(work.path, packed.filename);
    install = await run(
      ["npm", "install", "--prefer-offline", "--no-audit", "--no-fund", "--foreground-scripts", tarball],
      { cwd: app, env: noCompiler.env },
    );
    timings.push(`npm install ${install.ms} ms`);
  }, 240_000);

  it("carries what a user needs and nothing else; prepack's binaries do not stay in the work tree", () => {
    // The bundle's chunks are named by their content's hash.
    const listed = new Set(packed.files.map((f) => f.path.replace(/^dist\/chunks\/[\w-]+\.mjs$/, "dist/chunks/*.mjs")));
    expect([...listed].sort()).toEqual(CONTENTS);
    const executable = packed.files.filter((f) => f.mode & 0o111).map((f) => f.path);
    expect(executable).toEqual(
      expect.arrayContaining(["dist/mcp-bg-jobs.mjs", ...CONTENTS.filter((f) => f.startsWith("prebuilt/"))]),
    );
    // The size the README gives.
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const kb = Math.round(packed.size / 1024);
    const said = /tarball is about (\d+) KB/.exec(readme)?.[1];
    expect(Math.abs(Number(said) - kb), `README says ${said} KB, the tarball is ${kb} KB`).toBeLessThanOrEqual(50);
    expect(existsSync(join(src, "prebuilt"))).toBe(false);
  });

  it("carries static shepherds for linux-x64 and linux-arm64 that load no shared library", async () => {
    for (const [target, [machine, name]] of Object.entries(MACHINES)) {
      const binary = join(pkg, "prebuilt", target, "shepherd");
      const file = (await run(["file", "-L", binary])).stdout;
      expect(file, target).toContain(name);
      expect(file, target).toContain("statically linked");
      expect(notStatic(binary, machine), target).toBeUndefined();
    }
    const ldd = await run(["ldd", join(pkg, "prebuilt", HOST, "shepherd")]);
    expect(`${ldd.stdout}${ldd.stderr}`).toMatch(/not a dynamic executable|statically linked/);
  });

  it("carries capture processes for macOS, arm64 and x64, that load libSystem only; arm64's signed (built here, not run)", async () => {
    for (const [arch, name] of [
      ["arm64", "arm64"],
      ["x64", "x86_64"],
    ] as const) {
      const binary = join(pkg, "prebuilt", `darwin-${arch}`, "shepherd");
      expect((await run(["file", "-L", binary])).stdout, arch).toContain(`Mach-O 64-bit ${name} executable`);
      const m = readMachO(binary) as {
        executable: boolean;
        libraries: string[];
        signed: boolean;
        signatureProblem?: string;
      };
      expect(m.executable, arch).toBe(true);
      expect(m.libraries, arch).toEqual(["/usr/lib/libSystem.B.dylib"]);
      // Apple Silicon kills an unsigned binary: an ad-hoc signature whose page hashes match the file.
      if (arch === "arm64") expect(m.signed).toBe(true);
      expect(m.signatureProblem, arch).toBeUndefined();
    }
  });

  it("installs with no compiler on PATH and CC=/bin/false, compiling nothing", () => {
    ok(install, "npm install");
    expect(install.stdout + install.stderr).toContain("node scripts/build-shepherd.mjs"); // the install script ran
    expect(install.stderr).not.toContain("mcp-bg-jobs:"); // and had nothing to say
    expect(noCompiler.calls()).toEqual([]);
    expect(existsSync(join(pkg, "build"))).toBe(false);
    expect(realpathSync(bin)).toBe(join(pkg, "dist", "mcp-bg-jobs.mjs"));
  });

  describe("the installed mcp-bg-jobs", () => {
    let s: Harness;
    const ids: Record<string, string> = {};
    beforeAll(async () => {
      s = await startServer({ command: [bin], env: { ...noCompiler.env, MCP_BG_DEBUG: "1" }, stateDir: state });
    });
    afterAll(() => s?.close());

    it("serves MCP over stdio: a job's output and exit, a wait for a line, a kill, on the prebuilt shepherd", async () => {
      expect(s.client.getServerVersion()).toMatchObject({ name: "mcp-bg-jobs", version: VERSION });
      // The package has the build's recorded first answers: the first one came before the SDK loaded.
      expect(s.stderr()).toContain("the first request (initialize) answered before the server was loaded");
      expect((await s.client.listTools()).tools.map((t) => t.name)).toContain("execute_command");

      const done = await s.ok<{ job_id: string; pid: number }>("execute_command", {
        command: 'echo "out $MCP_BG_JOB_ID"; echo err-line >&2; exit 3',
      });
      ids.done = done.job_id;
      expect(await s.ok("wait_for_job", { job_id: done.job_id, timeout_seconds: 45 })).toMatchObject({
        status: "failed",
        exit_code: 3,
      });
      expect(await s.ok("get_job_output", { job_id: done.job_id })).toMatchObject({
        stdout: `out ${done.job_id}\n`,
        stderr: "err-line\n",
      });

      const long = await s.ok<{ job_id: string; pid: number }>("execute_command", {
        command: "echo ready; while :; do sleep 1; done",
      });
      ids.long = long.job_id;
      expect(await s.ok("wait_for_job", { job_id: long.job_id, until: "^ready$", timeout_seconds: 45 })).toMatchObject({
        matched: true,
        status: "running",
      });
      // Its parent is the shepherd the package carries for this machine.
      const ppid = Number(readFileSync(`/proc/${long.pid}/stat`, "latin1").split(") ")[1]?.split(" ")[1]);
      expect(readlinkSync(`/proc/${ppid}/exe`)).toBe(join(pkg, "prebuilt", HOST, "shepherd"));
      expect(await s.ok("kill_job", { job_id: long.job_id, grace_seconds: 2 })).toMatchObject({ status: "killed" });
      expect(isAlive(long.pid)).toBe(false);
      expect(await s.ok("get_job_status", { job_id: long.job_id })).toMatchObject({ status: "killed" });
      expect(noCompiler.calls()).toEqual([]);
    });

    it("its command line lists the jobs and prints their output", async () => {
      const env = { ...noCompiler.env, MCP_BG_STATE_DIR: state };
      const list = ok(await run([bin, "list", "--json"], { env }), "mcp-bg-jobs list");
      const jobs = JSON.parse(list.stdout).jobs as { job_id: string; status: string }[];
      expect(jobs.map((j) => [j.job_id, j.status])).toEqual([
        [ids.long, "killed"],
        [ids.done, "failed"],
      ]);
      expect(ok(await run([bin, "list"], { env }), "list").stdout).toMatch(/^ID\s+STATUS/);
      const logs = ok(await run([bin, "logs", ids.done as string], { env }), "logs");
      expect([logs.stdout, logs.stderr]).toEqual([`out ${ids.done}\n`, "err-line\n"]);
      expect(ok(await run([bin, "--version"], { env }), "--version").stdout).toBe(`${VERSION}\n`);
    });
  });

  it.skipIf(!QEMU)("its arm64 shepherd runs jobs under qemu-aarch64-static: output, exit, a PTY, a kill", async () => {
    const shepherd = join(pkg, "prebuilt", "linux-arm64", "shepherd");
    // The documented command line: shepherd JOBDIR JOB_ID CAP_BYTES DRAIN_MS PTY COLS ROWS SHELL COMMAND;
    // under -strace, qemu logs the shepherd's system calls to -D's file (not the job's: /bin/sh is this
    // machine's own).
    const job = async (name: string, pty: "0" | "1", command: string) => {
      const dir = join(work.path, "arm64", name);
      const log = join(work.path, "arm64", `${name}.strace`);
      mkdirSync(dir, { recursive: true });
      const argv = [shepherd, dir, name, "65536", "200", pty, "80", "24", "/bin/sh", command];
      const child = spawn("qemu-aarch64-static", ["-strace", "-D", log, ...argv], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let said = "";
      child.stdout.on("data", (c: Buffer) => (said += c.toString()));
      const ended = new Promise<number | null>((r) => child.on("close", r));
      return { dir, child, ended, said: () => said, trace: () => readFileSync(log, "utf8") };
    };

    const plain = await job("plain", "0", 'echo "hello from $MCP_BG_JOB_ID"; echo oops >&2; ls /proc/self/fd; exit 7');
    await plain.ended;
    expect(plain.said()).toMatch(/^pid \d+ \d+ \d+ \d+ -\nexit 7 0\n$/);
    // Nothing but 0, 1 and 2 reached the job (3 is ls's own listing of the folder).
    expect(readRing(join(plain.dir, "stdout")).bytes.toString()).toBe("hello from plain\n0\n1\n2\n3\n");
    expect(readRing(join(plain.dir, "stderr")).bytes.toString()).toBe("oops\n");
    expect(readExitFile(plain.dir)).toMatchObject({ code: 7, signal: null });
    // Static glibc loads nothing at run time: it opens its job's files, /dev/null and /proc, no library,
    // no NSS or iconv module, nothing in /etc (this machine has no arm64 libraries in those places anyway).
    const opened = [...plain.trace().matchAll(/open(?:at)?\((?:AT_FDCWD,)?"([^"]*)"/g)].map((m) => m[1] as string);
    expect(opened).toContain("/dev/null");
    expect(opened.filter((p) => p !== "/dev/null" && !p.startsWith("/proc/") && !p.startsWith(plain.dir))).toEqual([]);

    const tty = await job("tty", "1", "[ -t 0 ] && stty size && echo is-a-tty");
    await tty.ended;
    expect(tty.said()).toMatch(/\nexit 0 0\n$/);
    expect(readRing(join(tty.dir, "stdout")).bytes.toString()).toBe("24 80\r\nis-a-tty\r\n");

    const long = await job("long", "0", "echo started; exec sleep 600");
    const pid = await waitFor(() => Number(/^pid (\d+)/.exec(long.said())?.[1]));
    await waitFor(() => readRing(join(long.dir, "stdout")).bytes.toString() === "started\n");
    process.kill(-pid, "SIGTERM"); // the job's process group, as kill_job does
    await long.ended;
    expect(readExitFile(long.dir)).toMatchObject({ code: null, signal: "SIGTERM" });
  });

  it("on a machine with no shepherd in the package: the install script exits 0 with one line, the server starts and every tool says what is missing, and it compiles one at start once a compiler is there", async () => {
    // As on linux-riscv64: no prebuilt for this machine.
    rmSync(join(pkg, "prebuilt", HOST), { recursive: true });
    const rebuild = await run([process.execPath, join(pkg, "scripts", "build-shepherd.mjs")], {
      cwd: pkg,
      env: noCompiler.env,
    });
    const line =
      `mcp-bg-jobs: no capture process for ${HOST}: compiling native/shepherd.c with '/bin/false' failed (exit 1); ` +
      "install a C compiler (cc) and start the server again (it compiles native/shepherd.c at start)";
    expect(rebuild).toMatchObject({ code: 0, stdout: "", stderr: `${line}\n` });

    const s = await startServer({ command: [bin], env: noCompiler.env });
    try {
      expect((await s.client.listTools()).tools.length).toBeGreaterThanOrEqual(9);
      for (const tool of ["execute_command", "list_jobs", "get_job_status"]) {
        const r = await s.call(tool, tool === "execute_command" ? { command: "echo hi" } : { job_id: "x" });
        expect(r).toMatchObject({ isError: true, content: [{ type: "text", text: line }] });
      }
    } finally {
      await s.close();
    }
    if (!onPath("cc")) return;
    const compiled = await startServer({ command: [bin], env: npmFreeEnv() });
    try {
      const job = await compiled.ok<{ job_id: string; pid: number }>("execute_command", { command: "echo compiled" });
      expect(await compiled.ok("wait_for_job", { job_id: job.job_id, timeout_seconds: 45 })).toMatchObject({
        status: "completed",
      });
      expect(existsSync(join(pkg, "build", "shepherd"))).toBe(true);
    } finally {
      await compiled.close();
    }
  });
});
