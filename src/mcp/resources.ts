import { type McpServer, ResourceNotFoundError, ResourceTemplate } from "@modelcontextprotocol/server";
import type { JobRecord } from "../domain/record.js";
import type { JobsForTools } from "../engine/index.js";
import { JobError } from "../engine/index.js";
import { log, quietly } from "../log.js";
import { recordView } from "./hints.js";
import { jobOutputUri, jobUri, parseJobUri, type ResourceHub } from "./resource-hub.js";

/** Job resources one client may subscribe to at once. */
const MAX_SUBSCRIPTIONS = 1000;

/** How many of the newest jobs resources/list shows (the templates reach every job). */
const LISTED_JOBS = 50;

const label = (r: JobRecord) => {
  const what = (r.name ?? r.command).replace(/\s+/g, " ");
  return what.length > 60 ? `${what.slice(0, 59)}…` : what;
};

// A job by the id in a resource URI, or ResourceNotFoundError.
function jobFor(jobs: JobsForTools, uri: URL) {
  const parsed = parseJobUri(uri.href);
  try {
    if (parsed) return jobs.lookup(parsed.id);
  } catch (err) {
    if (!(err instanceof JobError)) throw err;
  }
  throw new ResourceNotFoundError(uri.href, `Job resource ${uri.href} not found`);
}

/**
 * Registers the job resources: `job://ID` (the job's record and outcome, JSON) and
 * `job://ID/output` (its cleaned output, the newest part of each stream), listed for the newest
 * jobs and reachable for all through the two templates.
 */
export function registerJobResources(server: McpServer, jobs: JobsForTools): void {
  const recent = () => jobs.list({ limit: LISTED_JOBS }).jobs;
  server.registerResource(
    "job",
    new ResourceTemplate("job://{job_id}", {
      list: () => ({
        resources: recent().map((r) => ({
          uri: jobUri(r.job_id),
          name: `job ${r.job_id.slice(0, 8)}: ${label(r)}`,
          description: `${r.status} job; its record`,
          mimeType: "application/json",
        })),
      }),
    }),
    {
      title: "Job record",
      description: "A job's record (status, exit code, times) as JSON",
      mimeType: "application/json",
    },
    (uri) => {
      const text = JSON.stringify(recordView(jobFor(jobs, uri).record()));
      return { contents: [{ uri: uri.href, mimeType: "application/json", text }] };
    },
  );
  server.registerResource(
    "job-output",
    new ResourceTemplate("job://{job_id}/output", {
      list: () => ({
        resources: recent().map((r) => ({
          uri: jobOutputUri(r.job_id),
          name: `output of job ${r.job_id.slice(0, 8)}: ${label(r)}`,
          description: `${r.status} job; its output`,
          mimeType: "text/plain",
        })),
      }),
    }),
    {
      title: "Job output",
      description: "A job's cleaned output: the newest part of stdout, then of stderr after a [stderr] line",
      mimeType: "text/plain",
    },
    async (uri) => {
      const job = jobFor(jobs, uri);
      const out = await jobs.output(job);
      const text = out.stderr
        ? `${out.stdout}${out.stdout.endsWith("\n") || !out.stdout ? "" : "\n"}[stderr]\n${out.stderr}`
        : out.stdout;
      return { contents: [{ uri: uri.href, mimeType: "text/plain", text }] };
    },
  );
}

// Adds a callback to one of the protocol's hooks, keeping whatever was there.
export function chain(server: McpServer, hook: "oninitialized" | "onclose", fn: () => void): void {
  const before = server.server[hook];
  server.server[hook] = () => {
    before?.();
    fn();
  };
}

/**
 * Serves resources/subscribe and resources/unsubscribe for one 2025-era client, and tells it when
 * jobs come or go. A URI that is not a job resource is accepted and never changes; an unknown job
 * is an error. Returns what to call when the client goes away.
 */
export function serveSubscriptions(server: McpServer, jobs: JobsForTools, hub: ResourceHub): () => void {
  const subscriptions = new Map<string, () => void>();
  const send = (uri: string) => {
    quietly("a resource update", server.server.sendResourceUpdated({ uri }));
  };
  server.server.setRequestHandler("resources/subscribe", (req) => {
    const uri = req.params.uri;
    // Only job resources ever change: another URI is accepted and nothing is kept for it.
    if (!parseJobUri(uri)) {
      if (/^job:/i.test(uri))
        throw new ResourceNotFoundError(uri, `Job resource ${uri} not found (job://ID or job://ID/output)`);
      return {};
    }
    if (!subscriptions.has(uri)) {
      if (subscriptions.size >= MAX_SUBSCRIPTIONS) {
        throw new Error(`Too many subscriptions (${MAX_SUBSCRIPTIONS}): unsubscribe from jobs that ended first`);
      }
      try {
        subscriptions.set(uri, hub.subscribe(uri, send));
      } catch (err) {
        if (err instanceof JobError) throw new ResourceNotFoundError(uri, `Job resource ${uri} not found`);
        throw err;
      }
    }
    return {};
  });
  server.server.setRequestHandler("resources/unsubscribe", (req) => {
    subscriptions.get(req.params.uri)?.();
    subscriptions.delete(req.params.uri);
    return {};
  });
  // Told once the client has initialized (an instance that is never connected starts nothing);
  // a client that says it twice is still told once.
  let stopList: (() => void) | undefined;
  chain(server, "oninitialized", () => {
    if (stopList) return;
    stopList = jobs.changes.onListChanged(() => {
      try {
        server.sendResourceListChanged();
      } catch (err) {
        log("warn", "resources/list_changed", err);
      }
    });
  });
  return () => {
    stopList?.();
    for (const stop of subscriptions.values()) stop();
    subscriptions.clear();
    hub.dropClient(send);
  };
}
