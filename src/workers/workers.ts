import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { PACKAGE_ROOT } from "../package-root.js";
import type { TreeRoot } from "../process/process-tree.js";
import { cleanTerminalText } from "../text/clean.js";
import { PatternError } from "../text/safe-regex.js";
import type { SearchResult } from "../text/search-lines.js";
import { boundControlSequences } from "../text/terminal-render.js";
import { CutOffError, cutOffPattern, errorOf, type WorkerError } from "./errors.js";
import type { ScanStream, TextRequest } from "./protocol.js";
import { ScanSession, STEP_LIMIT_MS } from "./scan-session.js";

export { CutOffError } from "./errors.js";
export type { ScanSession } from "./scan-session.js";

/** The worker's code: a file of its own beside the bundle (see scripts/bundle.mjs). */
export const WORKER_PATH = join(PACKAGE_ROOT, "dist", "worker.mjs");

/**
 * Kinds of work, each with a worker of its own, so that one kind never waits behind another (a
 * wait's next step behind a long search, say); a request cut off takes down only its own worker.
 */
type Lane = "scan" | "search" | "render" | "proc";
const LANES: readonly Lane[] = ["scan", "search", "render", "proc"];
/** Longest a look for a job's processes may take (it takes milliseconds). */
const TREE_LIMIT_MS = 5000;
/** Searches waiting for their worker at most; more are refused (each may take seconds). */
const MAX_QUEUED_SEARCHES = 4;
/** Longest a search may run: it stops there with what it found, saying so. */
export const SEARCH_BUDGET_MS = 5000;
/** Longest a terminal may take to render before its output is shown without rendering. */
export const RENDER_LIMIT_MS = 3000;
/** Time a worker is given to load before its first request's own limits start. */
const STARTUP_MS = 10_000;
/** Beyond its own budget, how long a request may overrun before its worker is terminated. */
const GRACE_MS = 2000;
/** What a worker may hold: a render or a match that would need more is cut off. */
const RESOURCE_LIMITS = { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 32 };

/** Work given to a worker, and how to answer it. */
interface Pending {
  id: number;
  req: TextRequest;
  /** Longest it may go without an answer or a sign of progress. */
  limitMs: number;
  /** Longest it may take in all. */
  totalMs: number;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

/** One worker thread, started when first needed and again after it was cut off. */
interface Slot {
  worker: Worker | undefined;
  /** Counts the workers this slot has had: the state of a scan lives in one of them. */
  generation: number;
  queue: Pending[];
  current: { pending: Pending; timer: NodeJS.Timeout; until: number } | undefined;
  /** Its worker has loaded and runs. */
  online: boolean;
}

/**
 * Runs the work whose cost a caller or a job decides (matching a caller's pattern, rendering what
 * a job printed to a terminal) in worker threads, each request with a time limit: past it, the
 * worker is terminated and the request fails, while the server's own thread never waits on it.
 */
export class TextWorkers {
  private readonly slots = new Map<Lane, Slot>(
    LANES.map((lane) => [lane, { worker: undefined, generation: 0, queue: [], current: undefined, online: false }]),
  );
  private nextId = 1;
  private nextSid = 1;
  private closed = false;

  /** Renders what a job wrote to a terminal; output too costly to render is shown cleaned instead, saying so. */
  async render(text: string, cols: number, rows: number): Promise<string> {
    if (text === "") return "";
    try {
      return (await this.request("render", { op: "render", text, cols, rows }, RENDER_LIMIT_MS)) as string;
    } catch (err) {
      if (!(err instanceof CutOffError)) throw err;
      const why =
        "[mcp-bg-jobs: this terminal output was too costly to render; shown with its escape sequences removed]";
      return `${why}\n${cleanTerminalText(boundControlSequences(text, cols, rows))}`;
    }
  }

  /** Searches streams' retained lines for a caller's pattern (see searchStreams). */
  async search(
    source: string,
    streams: { name: "stdout" | "stderr"; path: string }[],
    opts: { contextLines: number; maxMatches: number; maxChars: number },
    signal?: AbortSignal,
  ): Promise<SearchResult> {
    const lane = this.slot("search");
    if (lane.queue.length >= MAX_QUEUED_SEARCHES) {
      throw new PatternError(`The server is busy with ${lane.queue.length + 1} searches: try again in a few seconds`);
    }
    // It may run to its budget as long as it makes progress: a single line that takes the pattern
    // longer than a step may is cut off then.
    const req: TextRequest = { op: "search", source, streams, opts, budgetMs: SEARCH_BUDGET_MS };
    const total = SEARCH_BUDGET_MS + GRACE_MS;
    const result = this.request("search", req, STEP_LIMIT_MS, total, signal);
    return (await result.catch(cutOffPattern(source))) as SearchResult;
  }

  /**
   * The live processes of these jobs (see findTreeProcesses), read off the server's thread. A look
   * that cannot finish (a process's memory lock held for long) answers with nothing found: a kill
   * looks again, and signals the jobs' groups and cgroups meanwhile.
   */
  async findTree(roots: readonly TreeRoot[], skip: ReadonlySet<number>): Promise<Map<number, string>> {
    // Only what names the processes crosses to the worker (a kill's targets carry promises too).
    const plain = roots.map(({ jobId, shepherd, cgroup }) => ({ jobId, shepherd, cgroup }));
    const req: TextRequest = { op: "tree", roots: plain, skip: [...skip] };
    try {
      return new Map((await this.request("proc", req, TREE_LIMIT_MS)) as [number, string][]);
    } catch (err) {
      if (err instanceof CutOffError) return new Map();
      throw err;
    }
  }

  /**
   * The TCP ports the processes of these jobs listen on (each job's whole tree, as findTree finds
   * it; job id -> ports), in one look at the processes off the server's thread; empty if it could not finish.
   */
  async listeningPorts(roots: readonly TreeRoot[]): Promise<Map<string, number[]>> {
    const plain = roots.map(({ jobId, shepherd, cgroup }) => ({ jobId, shepherd, cgroup }));
    const req: TextRequest = { op: "ports", roots: plain };
    try {
      return new Map((await this.request("proc", req, TREE_LIMIT_MS)) as [string, number[]][]);
    } catch (err) {
      if (err instanceof CutOffError) return new Map();
      throw err;
    }
  }

  /** Opens a wait's matching of a caller's pattern against streams from the given offsets. */
  async openScan(source: string, streams: ScanStream[]): Promise<ScanSession> {
    const session = new ScanSession(this, this.nextSid++, source, streams);
    await session.open();
    return session;
  }

  /**
   * @internal Sends a request to a lane's worker; rejects with CutOffError if it goes `limitMs`
   * without an answer or a sign of progress, or runs past `totalMs` in all. A request whose caller
   * has gone (`signal` aborted) is dropped if it waits, cut off if it runs.
   */
  request(lane: Lane, req: TextRequest, limitMs: number, totalMs = limitMs, signal?: AbortSignal): Promise<unknown> {
    if (this.closed) return Promise.reject(new CutOffError("the server is shutting down"));
    if (signal?.aborted) return Promise.reject(new CutOffError("the request was cancelled"));
    const slot = this.slot(lane);
    return new Promise((resolve, reject) => {
      const pending: Pending = { id: this.nextId++, req, limitMs, totalMs, resolve, reject };
      slot.queue.push(pending);
      signal?.addEventListener(
        "abort",
        () => {
          const i = slot.queue.indexOf(pending);
          if (i !== -1) {
            slot.queue.splice(i, 1);
            reject(new CutOffError("the request was cancelled"));
          } else if (slot.current?.pending === pending) this.cutOff(slot, "the request was cancelled");
        },
        { once: true },
      );
      this.pump(slot);
    });
  }

  /** @internal Which worker the scan lane has now (a scan's state lives in it). */
  scanGeneration(): number {
    return this.slot("scan").generation;
  }

  /** Terminates the workers. */
  close(): void {
    this.closed = true;
    for (const slot of this.slots.values()) {
      for (const p of slot.queue.splice(0)) p.reject(new CutOffError("the server is shutting down"));
      if (slot.current) this.cutOff(slot, "the server is shutting down");
      void slot.worker?.terminate();
      slot.worker = undefined;
    }
  }

  private slot(lane: Lane): Slot {
    return this.slots.get(lane) as Slot;
  }

  // Gives the slot's worker its next request, if it is free.
  private pump(slot: Slot): void {
    if (slot.current || this.closed) return;
    const pending = slot.queue.shift();
    if (!pending) {
      slot.worker?.unref(); // idle: it does not keep the process alive
      return;
    }
    const worker = slot.worker ?? this.start(slot);
    worker.ref(); // work under way: the process waits for its answer
    // A worker just started first loads its code (a second or more on a busy machine): that time is
    // not the request's, whose limits run from when the worker is up (see start).
    const first = slot.online ? pending.limitMs : STARTUP_MS;
    slot.current = { pending, timer: this.watchdog(slot, first), until: Date.now() + pending.totalMs };
    worker.postMessage({ id: pending.id, req: pending.req });
  }

  // Cuts the slot's request off when `ms` pass without news of it.
  private watchdog(slot: Slot, ms: number): NodeJS.Timeout {
    return setTimeout(() => this.cutOff(slot, `it went ${ms} ms without an answer`), ms);
  }

  private start(slot: Slot): Worker {
    const worker = new Worker(WORKER_PATH, { resourceLimits: RESOURCE_LIMITS, stdout: false, stderr: false });
    slot.worker = worker;
    slot.online = false;
    worker.once("online", () => {
      if (slot.worker !== worker) return;
      slot.online = true;
      const current = slot.current;
      if (!current) return;
      clearTimeout(current.timer);
      current.timer = this.watchdog(slot, current.pending.limitMs);
      current.until = Date.now() + current.pending.totalMs;
    });
    worker.on("message", (msg: { id: number; alive?: true; value?: unknown; error?: WorkerError }) => {
      const current = slot.current;
      if (slot.worker !== worker || !current || current.pending.id !== msg.id) return;
      clearTimeout(current.timer);
      if (msg.alive) {
        // Progress: it may go on, up to its limit in all.
        const left = current.until - Date.now();
        current.timer = this.watchdog(slot, Math.max(0, Math.min(current.pending.limitMs, left)));
        return;
      }
      slot.current = undefined;
      if (msg.error) current.pending.reject(errorOf(msg.error));
      else current.pending.resolve(msg.value);
      this.pump(slot);
    });
    // Out of memory, or a crash: what it was doing is cut off; the next request starts a new one.
    worker.on("error", (err) => {
      if (slot.worker === worker) this.cutOff(slot, err.message);
    });
    worker.on("exit", () => {
      if (slot.worker === worker) this.cutOff(slot, "its worker exited");
    });
    return worker;
  }

  // Ends the request under way in a slot by terminating its worker; the slot's scans are reopened
  // in the next one when next asked.
  private cutOff(slot: Slot, why: string): void {
    const worker = slot.worker;
    slot.worker = undefined;
    slot.generation++;
    void worker?.terminate();
    const current = slot.current;
    slot.current = undefined;
    if (current) {
      clearTimeout(current.timer);
      current.pending.reject(new CutOffError(why));
    }
    this.pump(slot);
  }
}
