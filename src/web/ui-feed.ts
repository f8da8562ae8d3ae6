import type { ServerResponse } from "node:http";
import { describeEnd } from "../domain/ending.js";
import type { JobEngine } from "../engine/job-engine.js";
import { log } from "../log.js";

/** Jobs the page shows at most (newest first; `total` counts all). */
export const BOARD_LIMIT = 5000;
/** How often the state is looked at while a page is open. */
const TICK_MS = 1000;
/** Running jobs whose listening ports are looked up, newest first, each look. */
const PORTS_OF = 30;
/** Characters of a command a row carries (the job's page shows the rest). */
const COMMAND_CHARS = 500;

/** One job as the page's list shows it. */
export interface BoardRow {
  job_id: string;
  status: string;
  name: string | null;
  command: string;
  cwd: string;
  started: string;
  completed: string | null;
  exit_code: number | null;
  signal: string | null;
  outcome: string | null;
  owner_pid: number | null;
  pty: boolean;
  executor: string;
  ports: number[] | null;
}

const sse = (res: ServerResponse, event: string, data: unknown) =>
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

/**
 * The live job list for every open page: one look at the state a second while a page is open (only
 * when the state changed or jobs run), and to each page only what changed since (`upsert` rows,
 * `remove` ids); a page that connects gets the whole list first (`snapshot`).
 */
export class BoardFeed {
  private readonly pages = new Set<ServerResponse>();
  private rows = new Map<string, string>();
  private total = 0;
  private version = "";
  private timer: NodeJS.Timeout | undefined;
  /** The look under way, and whether another must follow it (a change came in meanwhile). */
  private looking: Promise<void> | undefined;
  private again = false;
  /** The listening ports of running jobs, as last looked up, and the look under way. */
  private ports = new Map<string, number[] | null>();
  private portsLooking: Promise<void> | undefined;
  private stopList: (() => void) | undefined;

  constructor(private readonly jobs: JobEngine) {}

  /** Streams the list to a page until it goes away. */
  open(res: ServerResponse): void {
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    });
    res.on("close", () => {
      this.pages.delete(res);
      if (this.pages.size === 0) this.idle();
    });
    // A page gets the list as it stands, then what changes from there on.
    const join = () => {
      if (res.destroyed) return;
      this.pages.add(res);
      sse(res, "snapshot", { total: this.total, jobs: [...this.rows.values()].map((r) => JSON.parse(r)) });
    };
    if (this.timer) {
      join();
      return;
    }
    this.timer = setInterval(() => void this.look(), TICK_MS);
    this.stopList = this.jobs.changes.onListChanged(() => void this.look(true));
    void this.look(true).then(join);
  }

  private idle(): void {
    if (this.pages.size > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.stopList?.();
    this.stopList = undefined;
  }

  /** Closes every page's stream (the server stops). */
  close(): void {
    for (const res of this.pages) res.end();
    this.pages.clear();
    this.idle();
  }

  // Looks up the listening ports of these running jobs; when they differ from what was shown, the
  // list is sent again.
  private async lookPorts(ids: string[]): Promise<void> {
    const next = new Map<string, number[] | null>();
    for (const id of ids) {
      try {
        next.set(id, await this.jobs.ports(this.jobs.lookup(id)));
      } catch {}
    }
    const before = JSON.stringify([...this.ports]);
    this.ports = next;
    if (JSON.stringify([...next]) !== before) void this.look(true);
  }

  // One look at a time; a forced one asked for meanwhile runs right after.
  private look(force = false): Promise<void> {
    if (this.looking) {
      this.again ||= force;
      return this.looking;
    }
    this.looking = this.lookNow(force).finally(() => {
      this.looking = undefined;
      if (this.again) {
        this.again = false;
        void this.look(true);
      }
    });
    return this.looking;
  }

  // Reads the list when the state changed (or jobs run: their ends and ports show without a
  // write to the state), and sends each page what changed.
  private async lookNow(force: boolean): Promise<void> {
    try {
      const version = this.jobs.changes.stateVersion();
      const anyRunning = [...this.rows.values()].some((r) => r.includes('"status":"running"'));
      if (!force && version === this.version && !anyRunning) return;
      this.version = version;
      const { jobs, total } = this.jobs.board(BOARD_LIMIT);
      const ports = this.ports;
      const next = new Map<string, string>();
      for (const j of jobs) {
        const row: BoardRow = {
          job_id: j.job_id,
          status: j.status,
          name: j.name,
          command: j.command.length > COMMAND_CHARS ? `${j.command.slice(0, COMMAND_CHARS - 1)}…` : j.command,
          cwd: j.cwd,
          started: j.started,
          completed: j.completed,
          exit_code: j.exit_code,
          signal: j.signal,
          outcome: j.status === "running" ? null : describeEnd(j),
          owner_pid: j.owner_pid,
          pty: j.pty,
          executor: j.executor,
          ports: ports.get(j.job_id) ?? (j.status === "running" ? null : []),
        };
        next.set(j.job_id, JSON.stringify(row));
      }
      const upsert = [...next].filter(([id, r]) => this.rows.get(id) !== r).map(([, r]) => JSON.parse(r));
      const remove = [...this.rows.keys()].filter((id) => !next.has(id));
      const changed = upsert.length > 0 || remove.length > 0 || total !== this.total;
      this.rows = next;
      this.total = total;
      if (changed) for (const res of this.pages) sse(res, "change", { total, upsert, remove });
      // The list goes out first; the ports of running jobs follow (they are looked up in /proc).
      const running = jobs.filter((j) => j.status === "running" && j.executor === "local").slice(0, PORTS_OF);
      if (!this.portsLooking) {
        this.portsLooking = this.lookPorts(running.map((j) => j.job_id)).finally(() => {
          this.portsLooking = undefined;
        });
      }
    } catch (err) {
      log("warn", "web page: job list", err);
    }
  }
}
