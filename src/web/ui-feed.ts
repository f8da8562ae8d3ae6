import type { ServerResponse } from "node:http";
import { describeEnd } from "../domain/ending.js";
import type { JobsForPage } from "../engine/index.js";
import { log } from "../log.js";
import type { ByteRate } from "./connections.js";

/** Jobs the page shows at most (newest first; `total` counts all). */
export const BOARD_LIMIT = 5000;
/** How often the state is looked at while a page is open, at most. */
const TICK_MS = 1000;
/** Running jobs whose listening ports are looked up (newest first), in one look at the processes a tick. */
const PORTS_OF = 50;
/** Bytes a page may leave unread on a stream before the stream is closed (list and output alike). */
export const MAX_BEHIND = 8 * 1024 * 1024;
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
  cpu_seconds?: number;
  peak_memory_bytes?: number;
  /** A queued job: what it waits for (a slot, the jobs it comes after, its restart's time). */
  waiting?: string;
  /** Jobs with a readiness probe: whether it matched in this run. */
  ready?: boolean | null;
  /** Jobs that restart: how often they have. */
  restarts?: number;
}

/** One server-sent event, serialized. */
export const sseFrame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** Writes one server-sent event; false when the response holds more than it may before it is read. */
export const sse = (res: ServerResponse, event: string, data: unknown) => res.write(sseFrame(event, data));

/**
 * The live job list for every open page. While a page is open, at most one look a second: the whole
 * list is read when the state changed (a job started, ended or was dropped, here or by another
 * process: SQLite's data_version) or when the set of running jobs changed (an end that only its
 * capture process wrote down); otherwise only the running jobs are listed, and their listening
 * ports looked up in one look at the processes. Each page gets the whole list first (`snapshot`), then
 * only what changed (`change`: `upsert` rows, `remove` ids).
 */
export class BoardFeed {
  /** Open pages, each with how much may wait for it unread (the snapshot it joined with, and MAX_BEHIND). */
  private readonly pages = new Map<ServerResponse, number>();
  private rows = new Map<string, BoardRow>();
  private total = 0;
  private version = "";
  private running = "";
  private ports = new Map<string, number[]>();
  private timer: NodeJS.Timeout | undefined;
  private stopList: (() => void) | undefined;
  /** The look under way; whether the list must be read again (it changed meanwhile); when it last was. */
  private looking: Promise<void> | undefined;
  private dirty = true;
  private lastRead = 0;
  /**
   * The list as one snapshot event, serialized once per state of it (not once per page: 300 pages
   * of 500 jobs each re-serialized 2.4 MB on the thread that answers), and written as the same bytes
   * to each page that joins.
   */
  private snapshot: Buffer | undefined;

  constructor(
    private readonly jobs: JobsForPage,
    /** What all of the page server's streams may send (shared with output streams). */
    private readonly rate: ByteRate,
  ) {}

  /** Streams the list to a page until it goes away. */
  open(res: ServerResponse): void {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", "x-accel-buffering": "no" });
    res.on("close", () => {
      this.pages.delete(res);
      this.idle();
    });
    // A page gets the list as it stands, then what changes from there on.
    // The snapshot goes out at the pace of all the server's streams (ByteRate): three hundred pages
    // opening at once cost the server copies into three hundred sockets, a turn at a time.
    const join = async () => {
      if (res.destroyed) return;
      this.snapshot ??= Buffer.from(sseFrame("snapshot", { total: this.total, jobs: [...this.rows.values()] }));
      const snapshot = this.snapshot;
      await this.rate.take(snapshot.length);
      if (res.destroyed) return;
      this.pages.set(res, snapshot.length + MAX_BEHIND);
      res.write(snapshot);
    };
    if (this.timer) {
      void join();
      return;
    }
    this.timer = setInterval(() => void this.look(), TICK_MS);
    // A start or drop here: looked at now if the last read is a second old, else at the next tick.
    this.stopList = this.jobs.changes.onListChanged(() => {
      this.dirty = true;
      if (Date.now() - this.lastRead >= TICK_MS) void this.look();
    });
    this.dirty = true;
    void this.look().then(() => join());
  }

  private idle(): void {
    if (this.pages.size > 0 || !this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.stopList?.();
    this.stopList = undefined;
  }

  /** Closes every page's stream (the server stops). */
  close(): void {
    for (const res of this.pages.keys()) res.end();
    this.pages.clear();
    this.idle();
  }

  // One look at a time: a look asked for while one runs is the one running.
  private look(): Promise<void> {
    this.looking ??= this.lookNow()
      .catch((err) => log("warn", "web page: job list", err))
      .finally(() => {
        this.looking = undefined;
      });
    return this.looking;
  }

  private async lookNow(): Promise<void> {
    const version = this.jobs.changes.stateVersion();
    const running = this.jobs.list({ status: "running", limit: BOARD_LIMIT }).jobs;
    const runningIds = running.map((j) => j.job_id).join(",");
    let changed: BoardRow[] = [];
    let removed: string[] = [];
    let totalChanged = false;
    if (this.dirty || version !== this.version || runningIds !== this.running) {
      this.dirty = false;
      this.version = version;
      this.running = runningIds;
      this.lastRead = Date.now();
      ({ changed, removed, totalChanged } = this.readAll());
    }
    // The ports of running jobs change without a word to the state: looked up each tick.
    const local = running.filter((j) => j.executor === "local").slice(0, PORTS_OF);
    const ports = await this.jobs.ports(local.flatMap((j) => this.tracked(j.job_id) ?? []));
    for (const [id, list] of ports) {
      const row = this.rows.get(id);
      if (row?.status !== "running" || JSON.stringify(row.ports) === JSON.stringify(list)) continue;
      const next = { ...row, ports: list };
      this.rows.set(id, next);
      if (!changed.some((r) => r.job_id === id)) changed.push(next);
    }
    this.ports = ports;
    if (changed.length === 0 && removed.length === 0 && !totalChanged) return;
    this.snapshot = undefined;
    // Serialized once, the same bytes for every page.
    const frame = Buffer.from(sseFrame("change", { total: this.total, upsert: changed, remove: removed }));
    for (const [res, bound] of this.pages) {
      // A page that does not read is let go (its browser reconnects and starts from a snapshot):
      // what waits for it here stays bounded.
      if (res.writableLength + frame.length > bound) res.destroy();
      else res.write(frame);
    }
  }

  private tracked(id: string) {
    try {
      return this.jobs.lookup(id);
    } catch {
      return undefined;
    }
  }

  // Reads the whole list; returns the rows that differ from what the pages have, those gone, and
  // whether the count of all jobs changed.
  private readAll(): { changed: BoardRow[]; removed: string[]; totalChanged: boolean } {
    const { jobs, total } = this.jobs.board(BOARD_LIMIT);
    const next = new Map<string, BoardRow>();
    const changed: BoardRow[] = [];
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
        outcome: j.status === "running" || j.status === "queued" ? null : describeEnd(j),
        owner_pid: j.owner_pid,
        pty: j.pty,
        executor: j.executor,
        ports: j.status !== "running" ? [] : (this.ports.get(j.job_id) ?? null),
        ...(j.cpu_seconds !== undefined && { cpu_seconds: j.cpu_seconds }),
        ...(j.peak_memory_bytes !== undefined && { peak_memory_bytes: j.peak_memory_bytes }),
        ...(j.waiting !== undefined && { waiting: j.waiting }),
        ...(j.ready !== undefined && { ready: j.ready }),
        ...(j.restarts !== undefined && { restarts: j.restarts }),
      };
      next.set(j.job_id, row);
      const before = this.rows.get(j.job_id);
      if (!before || JSON.stringify(before) !== JSON.stringify(row)) changed.push(row);
    }
    const removed = [...this.rows.keys()].filter((id) => !next.has(id));
    this.rows = next;
    const totalChanged = total !== this.total;
    this.total = total;
    return { changed, removed, totalChanged };
  }
}
