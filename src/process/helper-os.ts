import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { logOnce } from "../log.js";
import { SHEPHERD_PATH } from "./capture-binary.js";
import { LookFailed, type ProcessOs, type ProcessScan, type ProcStat } from "./os.js";

// Process questions answered by the capture binary (`shepherd --procs`, native/procs.c): from sysctl
// and libproc on macOS, from /proc on Linux in portable mode. One helper process per asker, resident,
// so that no question costs a fork:
//  - the questions the server's thread needs answered at once (a process's start time, this boot)
//    go over two FIFOs, written and read synchronously, with a deadline;
//  - the looks at all processes (a kill's, the ports') are asked over the helper's stdin and stdout,
//    asynchronously, from whichever thread asks (a worker's helper ends with the worker: EOF).

/** Longest a question may wait for its answer; then its helper is started afresh, once. */
const ANSWER_MS = 5000;
/** When an answer is late by this much, its helper gets SIGCONT (a job may have stopped it). */
const NUDGE_MS = 1000;

const nap = new Int32Array(new SharedArrayBuffer(4));
/** Sleeps this thread (Atomics.wait: the server's thread may, for the microseconds an answer takes). */
const sleep = (ms: number) => Atomics.wait(nap, 0, 0, ms);

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** Asks the helper synchronously, over FIFOs (Node has no other blocking channel to a child). */
class SyncHelper {
  private q = -1;
  private a = -1;
  private child: ChildProcess | undefined;
  private pending = "";
  private readonly chunk = Buffer.allocUnsafe(64 * 1024);

  ask(question: string): string {
    for (let attempt = 1; ; attempt++) {
      try {
        if (this.q < 0) this.start();
        const answer = this.exchange(question);
        if (answer !== undefined) return answer;
      } catch (err) {
        if (attempt === 2) throw err;
      }
      this.stop();
      if (attempt === 2) throw new Error(`the process helper (${SHEPHERD_PATH} --procs) does not answer`);
    }
  }

  private start(): void {
    const dir = mkdtempSync(join(tmpdir(), "mcp-bg-procs-"));
    try {
      const q = join(dir, "q");
      const a = join(dir, "a");
      const made = spawnSync(SHEPHERD_PATH, ["--mkfifo", q, a], { stdio: ["ignore", "ignore", "pipe"] });
      if (made.status !== 0) {
        throw new Error(`${SHEPHERD_PATH} --mkfifo: ${made.error?.message ?? made.stderr?.toString().trim()}`);
      }
      const child = spawn(SHEPHERD_PATH, ["--procs", q, a], { stdio: ["ignore", "ignore", "inherit"] });
      child.on("error", () => {}); // seen as no answer
      child.unref();
      this.child = child;
      // Opened without blocking: the helper may not have started (ENXIO until it reads).
      const until = Date.now() + ANSWER_MS;
      for (let wait = 0.05; this.q < 0; wait = Math.min(wait * 2, 20)) {
        try {
          this.q = openSync(q, constants.O_WRONLY | constants.O_NONBLOCK);
        } catch (err) {
          if (errno(err) !== "ENXIO" || Date.now() > until) throw err;
          sleep(wait);
        }
      }
      this.a = openSync(a, constants.O_RDONLY | constants.O_NONBLOCK);
      // The names may go once the helper has opened both: its first answer says it has.
      if (this.exchange("boot") === undefined) throw new Error(`${SHEPHERD_PATH} --procs does not answer`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  // One question, one line of answer; undefined if none came in time.
  private exchange(question: string): string | undefined {
    const started = Date.now();
    let nudged = false;
    let wait = 0;
    // False once the deadline has passed; else waits a little longer each time.
    const later = (): boolean => {
      const waited = Date.now() - started;
      if (waited > ANSWER_MS) return false;
      if (!nudged && waited > NUDGE_MS && this.child?.pid) {
        nudged = true;
        try {
          process.kill(this.child.pid, "SIGCONT");
        } catch {}
      }
      if (wait > 0) sleep(wait);
      wait = wait === 0 ? 0.02 : Math.min(wait * 2, 5);
      return true;
    };
    const bytes = Buffer.from(`${question}\n`);
    for (let off = 0; off < bytes.length; ) {
      try {
        off += writeSync(this.q, bytes, off);
      } catch (err) {
        if (errno(err) !== "EAGAIN" || !later()) return undefined;
      }
    }
    wait = 0;
    for (let spins = 0; ; ) {
      const nl = this.pending.indexOf("\n");
      if (nl >= 0) {
        const line = this.pending.slice(0, nl);
        this.pending = this.pending.slice(nl + 1);
        return line;
      }
      let n = 0;
      try {
        n = readSync(this.a, this.chunk, 0, this.chunk.length, null);
      } catch (err) {
        if (errno(err) !== "EAGAIN") return undefined;
      }
      if (n > 0) {
        this.pending += this.chunk.toString("latin1", 0, n);
        continue;
      }
      // Answers come within tens of microseconds: a few reads before sleeping.
      if (spins++ < 100) continue;
      if (!later()) return undefined;
    }
  }

  private stop(): void {
    for (const fd of [this.q, this.a]) {
      if (fd < 0) continue;
      try {
        closeSync(fd);
      } catch {}
    }
    this.q = this.a = -1;
    this.pending = "";
    this.child?.kill("SIGKILL");
    this.child = undefined;
  }
}

/** Asks the helper over its stdin and stdout: answers come in the order of the questions. */
class AsyncHelper {
  private child: ChildProcess | undefined;
  private readonly waiting: { resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  private buffered = "";

  ask(question: string): Promise<string> {
    const child = this.child ?? this.start();
    // Held (ref) while an answer is awaited, so that a command-line process waits for it; let go
    // (unref) when none is, so that an idle helper keeps no process or worker alive.
    holdWhile(child, true);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      child.stdin?.write(`${question}\n`);
    });
  }

  private start(): ChildProcess {
    const child = spawn(SHEPHERD_PATH, ["--procs", "-", "-"], { stdio: ["pipe", "pipe", "inherit"] });
    child.stdout?.setEncoding("latin1");
    child.stdout?.on("data", (text: string) => {
      this.buffered += text;
      for (let nl = this.buffered.indexOf("\n"); nl >= 0; nl = this.buffered.indexOf("\n")) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        this.waiting.shift()?.resolve(line);
      }
      if (this.waiting.length === 0) holdWhile(child, false);
    });
    const gone = (why: string) => {
      if (this.child === child) this.child = undefined;
      this.buffered = "";
      for (const w of this.waiting.splice(0)) w.reject(new Error(`the process helper ${why}`));
    };
    child.on("error", (err) => gone(`could not start: ${err.message}`));
    child.on("exit", (code, signal) => gone(`ended (${signal ?? `exit ${code}`})`));
    child.stdin?.on("error", () => {});
    this.child = child;
    return child;
  }
}

type Holdable = { ref?: () => void; unref?: () => void };

// Whether the helper's pipes and process keep this thread's event loop alive.
function holdWhile(child: ChildProcess, held: boolean): void {
  for (const h of [child, child.stdin, child.stdout] as (Holdable | null)[]) {
    if (held) h?.ref?.();
    else h?.unref?.();
  }
}

const sync = new SyncHelper();
const looks = new AsyncHelper();

/**
 * The helper's answer, or undefined where it cannot answer (its binary is missing or does not run:
 * the tools then say why jobs cannot run, src/executors/local/shepherd-binary.ts); said once.
 */
function ask(question: string): string | undefined {
  try {
    return sync.ask(question);
  } catch (err) {
    logOnce("process-helper", "error", "process questions cannot be answered", err);
    return undefined;
  }
}

// "PID:STATE:PPID:START" (stat's answer) as facts.
function statOf(item: string): [number, ProcStat] | undefined {
  const [pid, state, ppid, start] = item.split(":");
  if (!state || state === "-") return undefined;
  return [Number(pid), { state, ppid: Number(ppid), start: Number(start) }];
}

const hexText = (answer: string | undefined) =>
  answer === undefined || answer === "-" ? undefined : Buffer.from(answer, "hex").toString("utf8");

export const helperOs: ProcessOs = {
  kind: "helper",
  cgroups: false,
  adoptsOrphans: false,
  stat(pid) {
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    const answer = ask(`stat ${pid}`);
    if (answer === undefined) throw new LookFailed(`no answer about process ${pid}`);
    return statOf(answer)?.[1];
  },
  bootId() {
    const id = ask("boot");
    return id === undefined || id === "-" || id === "" ? null : id;
  },
  commandLine(pid) {
    const args = hexText(ask(`args ${pid}`))?.split("\0");
    if (args?.at(-1) === "") args.pop();
    return args;
  },
  workingDir: (pid) => hexText(ask(`cwd ${pid}`)),
  async scan(jobIds, skip, table) {
    const ids = jobIds.size > 0 ? [...jobIds].join(",") : "-";
    const skipped = skip.size > 0 ? [...skip].join(",") : "-";
    const answer = await looks.ask(`scan ${table ? 1 : 0} ${ids} ${skipped}`);
    const found: ProcessScan = { table: table ? new Map() : undefined, carriers: new Map() };
    for (const item of answer.split(" ")) {
      if (!item) continue;
      const eq = item.indexOf("=");
      if (eq > 0) {
        found.carriers.set(Number(item.slice(0, eq)), item.slice(eq + 1));
        continue;
      }
      const fact = statOf(item);
      if (fact) found.table?.set(...fact);
    }
    return found;
  },
  async listeningPorts(pids) {
    const found = new Map<number, number[]>();
    if (pids.length === 0) return found;
    for (const item of (await looks.ask(`ports ${pids.join(" ")}`)).split(" ")) {
      const [pid, ports] = item.split(":");
      if (pid && ports) found.set(Number(pid), ports.split(",").map(Number));
    }
    return found;
  },
};
