import type { JobsForTools } from "../engine/index.js";
import { bestEffort, log } from "../log.js";
import type { ResourceHub } from "./resource-hub.js";

/** How often the running jobs are looked at while listeners may be there. */
const FEED_MS = 1000;

/** Where a feed publishes, and whether anyone may be listening. */
export interface FeedTarget {
  /** Whether a listen stream may be open (the feed does nothing while not). */
  active: () => boolean;
  /** Publishes that the resource `uri` changed. */
  updated: (uri: string) => void;
}

/**
 * 2026-era clients subscribe through subscriptions/listen, which the SDK serves without telling
 * which URIs: while any such stream may be open, every running job's resources are watched and
 * their changes published (the SDK passes each on only to listeners that asked for that URI).
 * While none is open it watches nothing and reads nothing; the running jobs are listed again only
 * when the state changed or a listen opened. `look` looks now (a listen opened);
 * `stop` ends the feed.
 */
export function feedListeners(
  jobs: JobsForTools,
  hub: ResourceHub,
  target: FeedTarget,
): { look: () => void; stop: () => void } {
  const watching = new Map<string, () => void>();
  let seen: string | undefined;
  const tick = (force = false) => {
    const active = target.active();
    const version = active ? jobs.changes.stateVersion() : undefined;
    // Nothing changed since the last look, and someone listened then too: the same jobs are watched.
    if (active && !force && seen !== undefined && version === seen) return;
    seen = version;
    const wanted = new Set<string>();
    if (active) {
      try {
        for (const r of jobs.list({ status: "running", limit: 500 }).jobs) wanted.add(r.job_id);
      } catch (err) {
        log("warn", "watching jobs for listeners", err);
      }
    }
    for (const id of wanted) {
      if (watching.has(id)) continue;
      bestEffort("following a job for listeners (it may be gone)", () => {
        const stops = [
          hub.subscribe(`job://${id}`, target.updated),
          hub.subscribe(`job://${id}/output`, target.updated),
        ];
        watching.set(id, () => {
          for (const s of stops) s();
        });
      });
    }
    // A job that ended is let go at the next look: its last change has been published.
    for (const [id, stopWatching] of watching) {
      if (!wanted.has(id)) {
        stopWatching();
        watching.delete(id);
      }
    }
  };
  const timer = setInterval(() => tick(), FEED_MS);
  timer.unref();
  // A job that starts is watched at once, not at the next look: a short one would be missed.
  const stopList = jobs.changes.onListChanged(() => tick(true));
  return {
    look: () => tick(true),
    stop: () => {
      clearInterval(timer);
      stopList();
      for (const s of watching.values()) s();
      watching.clear();
    },
  };
}
