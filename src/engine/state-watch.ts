import type { Owner } from "../domain/job-state.js";
import { log } from "../log.js";
import { isSameProcessAlive } from "../process/proc.js";
import type { JobStore } from "../store/job-store.js";

/** How often the state is looked at: the database's version, and whether the owners seen still live. */
const LOOK_MS = 2000;
/** How often the whole check runs even when nothing seems to have changed (a safety net). */
const FULL_CHECK_MS = 30_000;

/**
 * When a server's owner check (take-overs, ends, kills to finish) and sweep run. Idle costs next to
 * nothing: every couple of seconds it asks SQLite whether anything changed (its data_version, ~10
 * us) and whether the servers that own running jobs still live (one question to the OS each); only then, or
 * every half minute, does the whole check read the records.
 */
export class StateWatch {
  private readonly looker: NodeJS.Timeout;
  private readonly sweeper: NodeJS.Timeout;
  private version = "";
  private owners: Owner[] = [];
  private lastFull = 0;
  private wake: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: JobStore,
    sweepEveryMs: number,
    /**
     * `onLook` runs at every look (every 2 s); `onCheck` when the state changed, and may return a
     * time (ms) at which to check again whatever happens meanwhile.
     */
    private readonly hooks: { onLook: () => void; onCheck: () => number | undefined; onSweep: () => void },
  ) {
    this.looker = setInterval(() => this.look(), LOOK_MS);
    this.looker.unref();
    this.sweeper = setInterval(() => hooks.onSweep(), sweepEveryMs);
    this.sweeper.unref();
  }

  private look(force = false): void {
    const now = Date.now();
    try {
      this.hooks.onLook();
      const version = this.store.version();
      const ownerDied = this.owners.some((o) => !isSameProcessAlive(o.pid, o.start));
      if (!force && version === this.version && !ownerDied && now - this.lastFull < FULL_CHECK_MS) return;
      const again = this.hooks.onCheck();
      clearTimeout(this.wake);
      if (again !== undefined) {
        this.wake = setTimeout(() => this.look(true), Math.max(0, again - now));
        this.wake.unref();
      }
      // What the check itself wrote counts as seen.
      this.version = this.store.version();
      this.owners = this.store.owners().filter((o): o is Owner => o !== null);
      this.lastFull = now;
    } catch (err) {
      log("warn", "looking for jobs of servers that died", err);
    }
  }

  stop(): void {
    clearTimeout(this.wake);
    clearInterval(this.looker);
    clearInterval(this.sweeper);
  }
}
