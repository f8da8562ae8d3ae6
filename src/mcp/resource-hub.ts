import type { JobChange, JobsForTools } from "../engine/index.js";

/** At most one notification per resource in this long (a flooding job must not flood its subscribers). */
const MIN_INTERVAL_MS = 250;

/**
 * `job://ID` and `job://ID/output`, exactly so spelled (the URIs this server hands out): the job
 * id and which of the two, or undefined for any other URI.
 */
export function parseJobUri(uri: string): { id: string; output: boolean } | undefined {
  const m = /^job:\/\/([A-Za-z0-9-]+)(\/output)?$/.exec(uri);
  return m ? { id: m[1] as string, output: m[2] !== undefined } : undefined;
}

/** The two resource URIs of a job. */
export const jobUri = (id: string) => `job://${id}`;
export const jobOutputUri = (id: string) => `job://${id}/output`;

type Send = (uri: string) => void;

interface Watched {
  stop: () => void;
  sinks: Map<Send, Set<string>>;
  last: Map<string, number>;
  pending: Map<string, NodeJS.Timeout>;
}

/**
 * Subscriptions to job resources, shared by every client of this process: one watch per job however
 * many subscribe, and per resource at most one `notifications/resources/updated` every 250 ms
 * (the last change is always told).
 */
export class ResourceHub {
  private readonly watched = new Map<string, Watched>();

  constructor(private readonly jobs: JobsForTools) {}

  /**
   * Calls `send(uri)` when the job resource `uri` changes (output grows: its `/output`; status
   * changes: both). Throws the engine's `not_found` error for an unknown job. Returns the function
   * that ends the subscription.
   */
  subscribe(uri: string, send: Send): () => void {
    const parsed = parseJobUri(uri);
    if (!parsed) return () => {};
    const job = this.jobs.lookup(parsed.id);
    let w = this.watched.get(job.id);
    if (!w) {
      const created: Watched = { stop: () => {}, sinks: new Map(), last: new Map(), pending: new Map() };
      created.stop = this.jobs.changes.watchJob(job, (change) => this.changed(job.id, change));
      this.watched.set(job.id, created);
      w = created;
    }
    const uris = w.sinks.get(send) ?? new Set<string>();
    uris.add(uri);
    w.sinks.set(send, uris);
    const entry = w;
    return () => {
      const set = entry.sinks.get(send);
      set?.delete(uri);
      if (set?.size === 0) entry.sinks.delete(send);
      if (entry.sinks.size === 0) this.unwatch(job.id);
    };
  }

  /** Ends every subscription of one client. */
  dropClient(send: Send): void {
    for (const [id, w] of this.watched) {
      w.sinks.delete(send);
      if (w.sinks.size === 0) this.unwatch(id);
    }
  }

  private unwatch(id: string): void {
    const w = this.watched.get(id);
    if (!w) return;
    w.stop();
    for (const t of w.pending.values()) clearTimeout(t);
    this.watched.delete(id);
  }

  // A job changed: tell the subscribers of the resources it affects, throttled per resource.
  private changed(id: string, change: JobChange): void {
    const w = this.watched.get(id);
    if (!w) return;
    const uris = change === "output" ? [jobOutputUri(id)] : [jobUri(id), jobOutputUri(id)];
    for (const uri of uris) this.notify(w, uri, change === "status");
  }

  private notify(w: Watched, uri: string, now: boolean): void {
    const wait = MIN_INTERVAL_MS - (Date.now() - (w.last.get(uri) ?? 0));
    if (!now && wait > 0) {
      if (!w.pending.has(uri)) w.pending.set(uri, setTimeout(() => this.send(w, uri), wait).unref());
      return;
    }
    this.send(w, uri);
  }

  private send(w: Watched, uri: string): void {
    clearTimeout(w.pending.get(uri));
    w.pending.delete(uri);
    w.last.set(uri, Date.now());
    for (const [send, uris] of w.sinks) if (uris.has(uri)) send(uri);
  }
}
