import { afterEach } from "vitest";
import { type Harness, startServer } from "./harness.js";
import { isAlive, marker, processesMatching, tempDir, waitFor } from "./helpers.js";

/** A job's record as the durability tests look at it. */
export type Status = {
  job_id: string;
  status: string;
  exit_code: number | null;
  signal: string | null;
  pid: number | null;
  timed_out: boolean;
  lost: boolean;
  outcome?: string;
};

/**
 * Servers sharing state dirs, for tests of restarts and crashes: after each test of the calling
 * file, every server it started is SIGKILLed, every process carrying one of its marks is killed,
 * and its state dirs are removed.
 */
export function useDurableFixture() {
  let servers: Harness[] = [];
  let states: { path: string; remove: () => void }[] = [];
  let marks: string[] = [];
  afterEach(async () => {
    for (const s of servers) if (isAlive(s.pid)) process.kill(s.pid, "SIGKILL");
    for (const m of marks) for (const pid of processesMatching(m)) process.kill(pid, "SIGKILL");
    await Promise.all(servers.map((s) => s.close()));
    for (const st of states) st.remove();
    servers = [];
    states = [];
    marks = [];
  });
  return {
    /** A fresh state dir. */
    newState(): string {
      const st = tempDir("mcp-bg-state-");
      states.push(st);
      return st.path;
    },
    /** A fresh mark; processes carrying it are killed after the test. */
    mark(): string {
      const m = marker();
      marks.push(m);
      return m;
    },
    /** A server on `stateDir`. */
    async server(stateDir: string, opts: { env?: Record<string, string>; args?: string[] } = {}) {
      const s = await startServer({ ...opts, stateDir });
      servers.push(s);
      return s;
    },
    /** Stops a server as a host does (closing its stdin) and waits until it has exited. */
    async stop(s: Harness): Promise<void> {
      s.transport.close();
      await waitFor(() => !isAlive(s.pid), 15_000);
    },
    /** SIGKILLs a server and waits until it is gone. */
    async crash(s: Harness): Promise<void> {
      process.kill(s.pid, "SIGKILL");
      await waitFor(() => !isAlive(s.pid));
    },
    /** A job's record. */
    status: (s: Harness, job_id: string) => s.ok<Status>("get_job_status", { job_id }),
  };
}
