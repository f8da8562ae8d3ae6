import { log } from "../log.js";

/** How often writes that found no room are tried again. */
const RETRY_MS = 1000;

/**
 * Record writes that could not be made (the state database's disk is full: a runaway job's usual
 * effect) and are made later, in order per job, once there is room: tried again every second while
 * any waits. What a write stands for has been done already (the signal sent, the end seen): nothing
 * waits for room to act, only to be written down.
 */
export class PendingWrites {
  private readonly pending = new Map<string, { what: string; write: () => void }[]>();
  private timer: NodeJS.Timeout | undefined;

  /**
   * Writes now, unless an earlier write of this job still waits (then after it, in order); a write
   * that fails waits for room. Returns whether it was written now.
   */
  write(jobId: string, what: string, write: () => void): boolean {
    const queue = this.pending.get(jobId);
    if (queue) {
      queue.push({ what, write });
      return false;
    }
    try {
      write();
      return true;
    } catch (err) {
      log("error", `recording ${what} of job ${jobId} (will try again when there is room)`, err);
      this.pending.set(jobId, [{ what, write }]);
      this.timer ??= setInterval(() => this.retry(), RETRY_MS);
      this.timer.unref();
      return false;
    }
  }

  /** Whether a write of this job waits. */
  waiting(jobId: string): boolean {
    return this.pending.has(jobId);
  }

  /** Tries the waiting writes again, in order per job (the owner check calls it too). */
  retry(): void {
    for (const [jobId, queue] of this.pending) {
      while (queue.length > 0) {
        try {
          (queue[0] as { write: () => void }).write();
          queue.shift();
        } catch {
          break;
        }
      }
      if (queue.length === 0) {
        this.pending.delete(jobId);
        log("info", `recorded what was waiting for room for job ${jobId}`);
      }
    }
    if (this.pending.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Stops trying (the state database is closing). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
