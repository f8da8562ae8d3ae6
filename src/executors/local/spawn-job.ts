import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { processStartTime } from "../../process/proc.js";
import { signalName } from "../../process/signals.js";
import { SHEPHERD_PATH } from "./shepherd-binary.js";

export { SHEPHERD_PATH };

/** How a job ended. */
export interface JobExit {
  /** Exit code, or null when a signal ended it or its end could not be observed. */
  code: number | null;
  /** Name of the signal that ended it, or null. */
  signal: string | null;
  /** The end could not be observed (the capture process died first). */
  lost: boolean;
}

/** What to run, and where its output goes. */
export interface SpawnRequest {
  jobId: string;
  /** Directory that receives the ring files `stdout` and `stderr` and the `exit` file. */
  dir: string;
  command: string;
  shell: string;
  cwd: string;
  /** The environment jobs start from (the server's own); shepherds started ahead of need share it. */
  env: NodeJS.ProcessEnv;
  /** Variables this job adds to `env`. */
  extraEnv?: Record<string, string>;
  capBytes: number;
  drainMs: number;
  pty?: { cols: number; rows: number };
  /** A cgroup v2 folder to make the job's own cgroup in (see jobCgroupsFolder); none if undefined. */
  cgroups?: string;
}

/** A started job: its processes (each named by pid and /proc start time) and its end. */
export interface JobProcess {
  pid: number;
  pidStart: number;
  /** The shepherd's own pid (it never carries MCP_BG_JOB_ID). */
  shepherdPid: number;
  shepherdStart: number;
  /** The job's own cgroup, as the shepherd made it; null if it has none. */
  cgroup: string | null;
  readonly exited: Promise<JobExit>;
}

/** Why a job could not start. */
export class SpawnError extends Error {}

/** A shepherd started ahead of need (`--warm`), waiting on its stdin for the job it will run. */
interface WarmShepherd {
  child: ChildProcess;
  /** The arguments it was started with: it can only serve a request with the same ones. */
  key: string;
  env: NodeJS.ProcessEnv;
}

let warm: WarmShepherd | undefined;
/** Off once the server has said it starts no more jobs (closeWarmShepherd), on again at the next start. */
let keepOneReady = true;

// A ready shepherd must not keep this process alive by itself: its handles are unreferenced until used.
function setReferenced(child: ChildProcess, on: boolean): void {
  for (const h of [child, child.stdin, child.stdout] as { ref?: () => void; unref?: () => void }[]) {
    if (on) h?.ref?.();
    else h?.unref?.();
  }
}

// The arguments of a warm shepherd for this request: what does not change from job to job.
function warmArgs(req: SpawnRequest): string[] {
  return ["--warm", String(req.capBytes), String(req.drainMs), req.shell, req.cgroups ?? "-"];
}

// Starts a shepherd that waits for its job on stdin.
function startWarm(args: string[], env: NodeJS.ProcessEnv): WarmShepherd {
  const child = spawn(SHEPHERD_PATH, args, {
    cwd: "/",
    env,
    // Its own session: a Ctrl-C or hang-up meant for the server's terminal reaches neither it nor the
    // job, and it lives on if the server dies. It holds none of the server's own stdio open.
    detached: true,
    stdio: ["pipe", "pipe", "ignore"],
  });
  child.on("error", () => {});
  child.stdin?.on("error", () => {}); // EPIPE surfaces through write()'s callback
  setReferenced(child, false);
  return { child, key: args.join("\0"), env };
}

// A shepherd for this request: the one started ahead if it fits and is alive, else a new one.
function takeShepherd(req: SpawnRequest): ChildProcess {
  const args = warmArgs(req);
  const key = args.join("\0");
  const ready = warm;
  warm = undefined;
  let child: ChildProcess;
  if (ready && ready.key === key && ready.env === req.env && ready.child.exitCode === null && ready.child.pid) {
    child = ready.child;
  } else {
    ready?.child.stdin?.end();
    child = startWarm(args, req.env).child;
  }
  setReferenced(child, true);
  return child;
}

/** Ends the shepherd kept ready for the next job (it exits when its stdin closes). */
export function closeWarmShepherd(): void {
  keepOneReady = false;
  warm?.child.stdin?.end();
  warm = undefined;
}

// The job's part of the request, as the warm shepherd reads it: a byte count line, then NUL-ended fields.
function jobBlock(req: SpawnRequest): Buffer {
  const fields = [
    req.dir,
    req.jobId,
    req.pty ? "1" : "0",
    String(req.pty?.cols ?? 80),
    String(req.pty?.rows ?? 24),
    req.cwd,
    req.command,
    ...Object.entries(req.extraEnv ?? {}).map(([k, v]) => `${k}=${v}`),
  ];
  const body = Buffer.from(fields.map((f) => `${f}\0`).join(""));
  return Buffer.concat([Buffer.from(`${body.length}\n`), body]);
}

/** A shepherd chosen for a job, known by pid and start time before it is given the job. */
export interface PreparedShepherd {
  pid: number;
  start: number;
  /** Gives it the job; resolves once the command is running, with its pid. */
  run(): Promise<JobProcess>;
  /** It will not be given the job after all: it exits. */
  abandon(): void;
}

/**
 * Chooses the shepherd that will run a job (the one started ahead of time when possible), so that
 * it can be recorded before it is given the job: whoever finds the job's record later knows which
 * process may still be starting it. Throws SpawnError if there is none to be had.
 */
export function prepareShepherd(req: SpawnRequest): PreparedShepherd {
  if (!existsSync(SHEPHERD_PATH)) throw new SpawnError(`${SHEPHERD_PATH} is missing: run 'npm run build'`);
  for (const f of [req.dir, req.cwd, req.command, ...Object.entries(req.extraEnv ?? {}).flat()]) {
    if (f.includes("\0")) throw new SpawnError("a NUL byte cannot be passed to a process");
  }
  keepOneReady = true;
  let child: ChildProcess;
  try {
    child = takeShepherd(req);
  } catch (err) {
    throw new SpawnError((err as Error).message);
  }
  const pid = child.pid ?? 0;
  return {
    pid,
    start: processStartTime(pid) ?? 0,
    run: () => runJob(child, req),
    abandon: () => child.stdin?.end(),
  };
}

/**
 * Starts a job under a shepherd process, which runs `shell -c command` in its own process group,
 * copies its output into ring files and feeds it input from the FIFO `dir/stdin`. Resolves once the
 * command is running, with its pid.
 */
export function spawnJob(req: SpawnRequest): Promise<JobProcess> {
  try {
    return prepareShepherd(req).run();
  } catch (err) {
    return Promise.reject(err);
  }
}

// Gives a shepherd its job. A new one is then started for the next job, after this one has
// answered, so that starting a process is off the path of a request.
function runJob(child: ChildProcess, req: SpawnRequest): Promise<JobProcess> {
  const prepareNext = () =>
    setImmediate(() => {
      if (warm || !keepOneReady) return;
      try {
        warm = startWarm(warmArgs(req), req.env);
      } catch {}
    });
  return new Promise((resolve, reject) => {
    let lines = "";
    let pid = 0;
    let ended: JobExit | undefined;
    let settleExit: (exit: JobExit) => void = () => {};
    const exited = new Promise<JobExit>((r) => (settleExit = r));
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      lines += chunk;
      for (let nl = lines.indexOf("\n"); nl !== -1; nl = lines.indexOf("\n")) {
        const line = lines.slice(0, nl);
        const [kind, a, ...rest] = line.split(" ");
        lines = lines.slice(nl + 1);
        if (kind === "pid") {
          pid = Number(a);
          resolve({
            pid,
            pidStart: Number(rest[0]),
            shepherdPid: child.pid ?? 0,
            shepherdStart: Number(rest[1]),
            // The rest of the line (a path may hold blanks), "-" for none.
            cgroup: rest.length > 2 && rest.slice(2).join(" ") !== "-" ? rest.slice(2).join(" ") : null,
            exited,
          });
          prepareNext();
        } else if (kind === "error" && pid === 0) {
          reject(new SpawnError(rest.join(" ") || `error ${a}`));
        } else if (kind === "exit") {
          const code = Number(a);
          ended = { code: code >= 0 ? code : null, signal: signalName(Number(rest[0])) ?? null, lost: false };
          settleExit(ended);
        }
      }
    });
    child.on("error", (err) => reject(new SpawnError(err.message)));
    child.on("close", () => {
      settleExit(ended ?? { code: null, signal: null, lost: true });
      if (pid === 0) reject(new SpawnError("the job's shepherd process ended before the job started"));
    });
    // Nothing follows the job's block on this pipe: its input goes through the job's FIFO.
    child.stdin?.end(jobBlock(req));
  });
}
