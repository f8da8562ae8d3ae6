import { type ChildProcess, spawn } from "node:child_process";
import type { JobEnd, ProcessRef } from "../../domain/job-state.js";
import { processStartTime, resumeIfStopped } from "../../process/proc.js";
import { sendSignal, signalName } from "../../process/signals.js";
import { StartError } from "../executor.js";
import { SHEPHERD_PATH } from "./shepherd-binary.js";

/** What a shepherd is asked to run (see `shepherd --spawner` in native/shepherd.c). */
export interface ShepherdRequest {
  jobId: string;
  /** The job's folder: ring files, stdin FIFO, pid, exit and cgroup files. */
  dir: string;
  capBytes: number;
  drainMs: number;
  pty?: { cols: number; rows: number };
  shell: string;
  /** A cgroup v2 folder to make the job's own cgroup in; none if undefined. */
  cgroups?: string;
  /** Its limits and sandbox, as lines for the shepherd (native/confine-linux.c); none if undefined. */
  confine?: string;
  /** A run after a restart: its output goes on in the rings, after this line; a first run if undefined. */
  banner?: string;
  cwd: string;
  command: string;
  /** Variables added to the spawner's environment (the server's) for this job. */
  env: Record<string, string>;
}

/** A job its shepherd has started. */
export interface Launched {
  job: ProcessRef;
  shepherd: ProcessRef;
  /** The job's own cgroup, as the shepherd made it; null if it has none. */
  cgroup: string | null;
  /** Its end, as the shepherd reports it; lost if the shepherd ended without a word. */
  ended: Promise<JobEnd>;
}

interface Waiting {
  resolve: (launched: Launched) => void;
  reject: (err: Error) => void;
}

const lost = (): JobEnd => ({ code: null, signal: null, endedMs: Date.now(), lost: true });

// A stream's handle, to keep this process alive by it or not.
const handle = (stream: unknown) => stream as { ref?: () => void; unref?: () => void } | undefined;

// A request as the spawner reads it: a byte count line, then NUL-ended fields.
function requestBlock(r: ShepherdRequest): Buffer {
  const fields = [
    r.dir,
    r.jobId,
    String(r.capBytes),
    String(r.drainMs),
    r.pty ? "1" : "0",
    String(r.pty?.cols ?? 80),
    String(r.pty?.rows ?? 24),
    r.shell,
    r.cgroups ?? "-",
    r.confine ?? "",
    r.banner ?? "",
    r.cwd,
    r.command,
    ...Object.entries(r.env).map(([k, v]) => `${k}=${v}`),
  ];
  const body = Buffer.from(fields.map((f) => `${f}\0`).join(""));
  return Buffer.concat([Buffer.from(`${body.length}\n`), body]);
}

/**
 * The resident spawner (`shepherd --spawner`): started once, it forks a shepherd for each job, so
 * that a start never forks this (large) process while it answers a request. Shepherds report on
 * the spawner's pipe, each line naming its job; the spawner says when a shepherd has gone.
 */
export class Spawner {
  private proc: { child: ChildProcess; ref: ProcessRef } | undefined;
  private closed = false;
  private readonly waiting = new Map<string, Waiting>();
  private readonly running = new Map<string, { settle: (end: JobEnd) => void }>();

  /** `env`: the environment jobs start from (the server's own). */
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  /** Whether the spawner runs (its shepherds are then its children, not reaped until it says so). */
  runs(): boolean {
    return this.proc !== undefined && this.proc.child.exitCode === null && this.proc.child.signalCode === null;
  }

  /** The spawner process, started now if it is not running. Throws StartError if it cannot be. */
  identity(): ProcessRef {
    if (this.proc) return this.proc.ref;
    const child = spawn(SHEPHERD_PATH, ["--spawner"], {
      cwd: "/",
      env: this.env,
      // Its own session: a Ctrl-C or hang-up meant for the server's terminal reaches neither it nor
      // its jobs. It holds none of the server's own stdio open.
      detached: true,
      stdio: ["pipe", "pipe", "ignore"],
    });
    if (!child.pid) throw new StartError(`cannot start ${SHEPHERD_PATH}`);
    child.on("error", () => {});
    child.stdin?.on("error", () => {}); // a spawner gone: its starts are failed below
    const proc = { child, ref: { pid: child.pid, start: processStartTime(child.pid) ?? 0 } };
    this.proc = proc;
    let buffered = "";
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf("\n"); nl !== -1; nl = buffered.indexOf("\n")) {
        this.onLine(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
    });
    // Its shepherds go on, and report on the same pipe; starts it had not handed on are failed.
    child.on("exit", () => {
      if (this.proc === proc) this.proc = undefined;
      for (const [id, w] of this.waiting) {
        this.waiting.delete(id);
        w.reject(new StartError("the spawner ended before the job started"));
      }
    });
    // It does not keep this process alive by itself: only while a start waits for its answer.
    child.unref();
    handle(child.stdin)?.unref?.();
    handle(child.stdout)?.unref?.();
    return proc.ref;
  }

  /** Has a shepherd started for this job; resolves once the job runs, rejects with StartError. */
  start(req: ShepherdRequest): Promise<Launched> {
    if (this.closed) return Promise.reject(new StartError("the server is shutting down"));
    for (const f of [
      req.dir,
      req.jobId,
      req.cwd,
      req.command,
      req.shell,
      req.confine ?? "",
      ...Object.entries(req.env).flat(),
    ]) {
      if (f.includes("\0")) return Promise.reject(new StartError("a NUL byte cannot be passed to a process"));
    }
    this.identity();
    const proc = this.proc;
    // A job can find and stop the spawner too: stopped, it would answer no start.
    this.resume();
    return new Promise((resolve, reject) => {
      this.waiting.set(req.jobId, { resolve, reject });
      this.holdWhileWaiting();
      proc?.child.stdin?.write(requestBlock(req));
    });
  }

  /** Continues the spawner if a job stopped it (one look at /proc; nothing if it is not running). */
  resume(): void {
    if (this.proc) resumeIfStopped(this.proc.ref);
  }

  // While a start waits for its answer, the spawner's pipe keeps this process alive (a server that
  // is stopping waits for the starts under way, to end their jobs too).
  private holdWhileWaiting(): void {
    const out = handle(this.proc?.child.stdout);
    if (this.waiting.size > 0) out?.ref?.();
    else out?.unref?.();
  }

  // One report line: "JOB_ID pid PID PID_START SHEPHERD_PID SHEPHERD_START CGROUP", "JOB_ID exit
  // CODE SIGNO", "JOB_ID error ERRNO TEXT" or "JOB_ID gone".
  private onLine(line: string): void {
    const [id = "", kind, a, b, c, d, ...rest] = line.split(" ");
    const waiting = this.waiting.get(id);
    if (kind === "pid") {
      const launched = {
        job: { pid: Number(a), start: Number(b) },
        shepherd: { pid: Number(c), start: Number(d) },
        // The rest of the line (a path may hold blanks), "-" for none.
        cgroup: rest.length > 0 && rest.join(" ") !== "-" ? rest.join(" ") : null,
      };
      if (!waiting) {
        // A job whose start was given up (its record is gone): it must not run unseen.
        sendSignal(-launched.job.pid, "SIGKILL");
        return;
      }
      this.waiting.delete(id);
      this.holdWhileWaiting();
      let settle: (end: JobEnd) => void = () => {};
      const ended = new Promise<JobEnd>((r) => (settle = r));
      this.running.set(id, { settle });
      waiting.resolve({ ...launched, ended });
    } else if (kind === "error" && waiting) {
      this.waiting.delete(id);
      this.holdWhileWaiting();
      waiting.reject(new StartError([b, c, d, ...rest].filter(Boolean).join(" ") || `error ${a}`));
    } else if (kind === "exit") {
      const code = Number(a);
      this.running.get(id)?.settle({
        code: code >= 0 ? code : null,
        signal: signalName(Number(b)) ?? null,
        endedMs: Date.now(),
        lost: false,
      });
      this.running.delete(id);
    } else if (kind === "gone") {
      if (waiting) {
        this.waiting.delete(id);
        this.holdWhileWaiting();
        waiting.reject(new StartError("the job's shepherd ended before the job started"));
      }
      // Gone without its exit: it was killed, and nothing captures the job any more.
      this.running.get(id)?.settle(lost());
      this.running.delete(id);
    }
  }

  /**
   * Starts no more jobs. The spawner stays until dispose(): while it runs, its shepherds are its
   * children, not reaped but by it, so a stop can signal them by pid without a look at the processes.
   */
  close(): void {
    this.closed = true;
  }

  /** The spawner exits (its shepherds go on). */
  dispose(): void {
    this.closed = true;
    this.proc?.child.stdin?.end();
  }
}
