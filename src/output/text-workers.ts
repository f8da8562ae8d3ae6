import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { PACKAGE_ROOT } from "../package-root.js";
import { cleanTerminalText } from "./clean.js";
import { PatternError } from "./safe-regex.js";
import type { SearchResult } from "./search-lines.js";
import type { ScanStep, ScanStream, TextRequest } from "./text-protocol.js";

/** The worker's code: a file of its own beside the bundle (see scripts/bundle.mjs). */
export const TEXT_WORKER_PATH = join(PACKAGE_ROOT, "dist", "text-worker.mjs");

/** Workers kept: a request cut off takes one down, the other goes on serving. */
const WORKERS = 2;
/** Longest one step of a wait (1 MiB of each stream) may take before the pattern is cut off. */
export const STEP_LIMIT_MS = 2000;
/** Longest a search may run: it stops there with what it found, saying so. */
export const SEARCH_BUDGET_MS = 5000;
/** Longest a terminal may take to render before its output is shown without rendering. */
export const RENDER_LIMIT_MS = 3000;
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
}

/** A request that its worker could not finish: too slow, too big, or the worker failed. */
export class CutOffError extends Error {}

/**
 * Runs the work whose cost a caller or a job decides (matching a caller's pattern, rendering what
 * a job printed to a terminal) in worker threads, each request with a time limit: past it, the
 * worker is terminated and the request fails, while the server's own thread never waits on it.
 */
export class TextWorkers {
  private readonly slots: Slot[] = Array.from({ length: WORKERS }, () => ({
    worker: undefined,
    generation: 0,
    queue: [],
    current: undefined,
  }));
  private nextId = 1;
  private nextSid = 1;
  private closed = false;

  /** Renders what a job wrote to a terminal; output too costly to render is shown cleaned instead, saying so. */
  async render(text: string, cols: number, rows: number): Promise<string> {
    try {
      return (await this.request(this.leastBusy(), { op: "render", text, cols, rows }, RENDER_LIMIT_MS)) as string;
    } catch (err) {
      if (!(err instanceof CutOffError)) throw err;
      const why =
        "[mcp-bg-jobs: this terminal output was too costly to render; shown with its escape sequences removed]";
      return `${why}\n${cleanTerminalText(text)}`;
    }
  }

  /** Searches streams' retained lines for a caller's pattern (see searchStreams). */
  async search(
    source: string,
    streams: { name: "stdout" | "stderr"; path: string }[],
    opts: { contextLines: number; maxMatches: number; maxChars: number },
  ): Promise<SearchResult> {
    // It may run to its budget as long as it makes progress: a single line that takes the pattern
    // longer than a step may is cut off then.
    const req: TextRequest = { op: "search", source, streams, opts, budgetMs: SEARCH_BUDGET_MS };
    const total = SEARCH_BUDGET_MS + GRACE_MS;
    return (await this.request(this.leastBusy(), req, STEP_LIMIT_MS, total).catch(
      cutOffPattern(source),
    )) as SearchResult;
  }

  /** Opens a wait's matching of a caller's pattern against streams from the given offsets. */
  async openScan(source: string, streams: ScanStream[]): Promise<ScanSession> {
    const session = new ScanSession(this, this.leastBusy(), this.nextSid++, source, streams);
    await session.open();
    return session;
  }

  /**
   * @internal Sends a request to one worker; rejects with CutOffError if it goes `limitMs` without
   * an answer or a sign of progress, or runs past `totalMs` in all.
   */
  request(slotIndex: number, req: TextRequest, limitMs: number, totalMs = limitMs): Promise<unknown> {
    if (this.closed) return Promise.reject(new CutOffError("the server is shutting down"));
    const slot = this.slots[slotIndex] as Slot;
    return new Promise((resolve, reject) => {
      slot.queue.push({ id: this.nextId++, req, limitMs, totalMs, resolve, reject });
      this.pump(slot);
    });
  }

  /** @internal Which worker a slot has now (a scan's state lives in one). */
  generationOf(slotIndex: number): number {
    return (this.slots[slotIndex] as Slot).generation;
  }

  /** Terminates the workers. */
  close(): void {
    this.closed = true;
    for (const slot of this.slots) {
      for (const p of slot.queue.splice(0)) p.reject(new CutOffError("the server is shutting down"));
      if (slot.current) this.cutOff(slot, "the server is shutting down");
      void slot.worker?.terminate();
      slot.worker = undefined;
    }
  }

  private leastBusy(): number {
    let best = 0;
    let load = Number.POSITIVE_INFINITY;
    for (const [i, s] of this.slots.entries()) {
      const l = s.queue.length + (s.current ? 1 : 0);
      if (l < load) {
        best = i;
        load = l;
      }
    }
    return best;
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
    const until = Date.now() + pending.totalMs;
    slot.current = { pending, timer: this.watchdog(slot, pending.limitMs), until };
    worker.postMessage({ id: pending.id, req: pending.req });
  }

  // Cuts the slot's request off when `ms` pass without news of it.
  private watchdog(slot: Slot, ms: number): NodeJS.Timeout {
    return setTimeout(() => this.cutOff(slot, `it went ${ms} ms without an answer`), ms);
  }

  private start(slot: Slot): Worker {
    const worker = new Worker(TEXT_WORKER_PATH, { resourceLimits: RESOURCE_LIMITS, stdout: false, stderr: false });
    slot.worker = worker;
    worker.on(
      "message",
      (msg: { id: number; alive?: true; value?: unknown; error?: { pattern: boolean; message: string } }) => {
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
        if (msg.error) {
          current.pending.reject(
            msg.error.pattern ? new PatternError(msg.error.message) : new Error(msg.error.message),
          );
        } else current.pending.resolve(msg.value);
        this.pump(slot);
      },
    );
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

// A pattern whose matching was cut off: an answer that says so, and what to do.
const cutOffPattern = (source: string) => (err: unknown) => {
  if (!(err instanceof CutOffError)) throw err;
  throw new PatternError(
    `Matching the pattern ${JSON.stringify(source.slice(0, 100))} was cut off (${err.message}) so that it cannot stall the server: simplify it (groups of optional or repeated parts inside a repeat are what make matching slow)`,
  );
};

/** A wait's matching of a caller's pattern, running in one worker (see TextWorkers.openScan). */
export class ScanSession {
  private generation = -1;
  private offsets: number[];

  constructor(
    private readonly pool: TextWorkers,
    private readonly slot: number,
    private readonly sid: number,
    private readonly source: string,
    private readonly streams: ScanStream[],
  ) {
    this.offsets = streams.map((s) => s.from);
  }

  /** Where each stream's scan stands: just past the last complete line looked at. */
  get cursor(): number[] {
    return this.offsets;
  }

  /** @internal Opens it in its worker, from where it stands (again, after that worker was cut off). */
  async open(): Promise<void> {
    this.generation = this.pool.generationOf(this.slot);
    const streams = this.streams.map((s, i) => ({ ...s, from: this.offsets[i] ?? s.from }));
    await this.pool
      .request(this.slot, { op: "open", sid: this.sid, source: this.source, streams }, STEP_LIMIT_MS)
      .catch(cutOffPattern(this.source));
  }

  /** Looks at new output (at most `maxBytes` of each stream); `final` once the job has ended. */
  async step(final: boolean, maxBytes: number): Promise<ScanStep> {
    if (this.generation !== this.pool.generationOf(this.slot)) await this.open();
    const req: TextRequest = { op: "step", sid: this.sid, final, maxBytes };
    const step = (await this.pool.request(this.slot, req, STEP_LIMIT_MS).catch(cutOffPattern(this.source))) as ScanStep;
    this.offsets = step.offsets;
    return step;
  }

  /** Lets go of its state in the worker. */
  close(): void {
    if (this.generation === this.pool.generationOf(this.slot)) {
      this.pool.request(this.slot, { op: "close", sid: this.sid }, STEP_LIMIT_MS).catch(() => {});
    }
  }
}
