import { quietly } from "../log.js";
import { cutOffPattern, UnknownSession } from "./errors.js";
import type { ScanStep, ScanStream, TextRequest } from "./protocol.js";

/** Longest one step of a wait (1 MiB of each stream) may take before the pattern is cut off. */
export const STEP_LIMIT_MS = 2000;

/** What a scan needs of the worker pool: its scan lane (TextWorkers). */
export interface ScanLane {
  request(lane: "scan", req: TextRequest, limitMs: number): Promise<unknown>;
  scanGeneration(): number;
}

/** A wait's matching of a caller's pattern, running in the scan lane's worker (see TextWorkers.openScan). */
export class ScanSession {
  private generation = -1;
  private offsets: number[];

  constructor(
    private readonly pool: ScanLane,
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
    this.generation = this.pool.scanGeneration();
    const streams = this.streams.map((s, i) => ({ ...s, from: this.offsets[i] ?? s.from }));
    const req: TextRequest = { op: "open", sid: this.sid, source: this.source, streams };
    await this.pool.request("scan", req, STEP_LIMIT_MS).catch(cutOffPattern(this.source));
  }

  /** Looks at new output (at most `maxBytes` of each stream); `final` once the job has ended. */
  async step(final: boolean, maxBytes: number): Promise<ScanStep> {
    for (let attempt = 0; ; attempt++) {
      if (this.generation !== this.pool.scanGeneration()) await this.open();
      const req: TextRequest = { op: "step", sid: this.sid, final, maxBytes };
      try {
        const step = (await this.pool.request("scan", req, STEP_LIMIT_MS)) as ScanStep;
        this.offsets = step.offsets;
        return step;
      } catch (err) {
        // Its worker was replaced (another scan was cut off) after this step was asked for: it is
        // opened again in the new one, from where it stood.
        if (err instanceof UnknownSession && attempt === 0) {
          this.generation = -1;
          continue;
        }
        return cutOffPattern(this.source)(err);
      }
    }
  }

  /** Lets go of its state in the worker. */
  close(): void {
    if (this.generation === this.pool.scanGeneration()) {
      quietly("closing a scan", this.pool.request("scan", { op: "close", sid: this.sid }, STEP_LIMIT_MS));
    }
  }
}
