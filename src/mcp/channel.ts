import type { McpServer } from "@modelcontextprotocol/server";
import { describeEnd } from "../domain/ending.js";
import type { JobRecord } from "../domain/record.js";
import type { JobsForTools } from "../engine/index.js";
import { log, quietly } from "../log.js";

/** The capability Claude Code looks for in a server it runs as a channel. */
export const CHANNEL_CAPABILITY = { "claude/channel": {} };

/** What the model is told once about the lines this server pushes. */
export const CHANNEL_INSTRUCTIONS =
  " When a job started here ends, a <channel> line says so (job id, status, exit code): no need to wait or poll for it; read its output with tail_job_output.";

/** Least time between two channel notifications: ends that come closer together share one. */
const GAP_MS = 2000;
/** Lines one notification carries at most (the rest are counted). */
const MAX_LINES = 10;
/** Characters of a job's name or command shown. */
const LABEL_CHARS = 60;

// One short line for an ended job: name or command, status, how it ended, id, what to call next.
function endLine(r: JobRecord): string {
  const what = (r.name ?? r.command).replace(/\s+/g, " ");
  const label = what.length > LABEL_CHARS ? `${what.slice(0, LABEL_CHARS - 1)}…` : what;
  return `Job ${r.job_id} (${label}) ${r.status}: ${describeEnd(r)}. Read more: tail_job_output job_id=${r.job_id}`;
}

/**
 * Pushes `notifications/claude/channel` to the client of this server instance when a job it started
 * ends: one short line a job, at most one notification every GAP_MS (ends in between share it, at
 * most MAX_LINES lines). Jobs other clients started are never told of. Returns what to call with a
 * job this client started, and what stops it (the connection closed).
 */
export function channelNotifier(server: McpServer, jobs: JobsForTools): { started(jobId: string): void; stop(): void } {
  let closed = false;
  let queued: JobRecord[] = [];
  let timer: NodeJS.Timeout | undefined;
  let last = 0;
  const flush = () => {
    timer = undefined;
    if (closed || queued.length === 0) return;
    const ended = queued;
    queued = [];
    last = Date.now();
    const lines = ended.slice(0, MAX_LINES).map(endLine);
    if (ended.length > MAX_LINES) lines.push(`…and ${ended.length - MAX_LINES} more jobs ended: list_jobs shows them.`);
    const one = ended.length === 1 ? ended[0] : undefined;
    const meta: Record<string, string> = one
      ? {
          job_id: one.job_id,
          status: one.status,
          ...(one.exit_code === null ? {} : { exit_code: String(one.exit_code) }),
        }
      : { jobs_ended: String(ended.length) };
    // The client may have gone: nobody to tell then.
    quietly(
      "a channel notification",
      server.server.notification({
        method: "notifications/claude/channel",
        params: { content: lines.join("\n"), meta },
      }),
    );
  };
  const queue = (record: JobRecord) => {
    if (closed) return;
    queued.push(record);
    if (timer) return;
    timer = setTimeout(flush, Math.max(0, last + GAP_MS - Date.now()));
  };
  return {
    started(jobId) {
      try {
        const job = jobs.lookup(jobId);
        jobs.ended(job).then(
          () => queue(job.record()),
          () => {},
        );
      } catch (err) {
        log("warn", "channel: job not followed", err);
      }
    },
    stop() {
      closed = true;
      if (timer) clearTimeout(timer);
    },
  };
}
