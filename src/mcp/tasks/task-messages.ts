import type { CallToolResult } from "@modelcontextprotocol/server";

// What a task says of itself (its statusMessage), while it works and once it has settled.

export const text = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
const waiting = (jobId: string, until: unknown) =>
  `Waiting for job ${jobId}${text(until) ? ` to print /${text(until)}/ or end` : " to end"}`;
/** What a task says while it works, from what was asked. */
export function workingMessage(tool: string, args: Record<string, unknown>, jobId: string | null): string {
  if (jobId) return waiting(jobId, tool === "wait_for_job" ? args.until : args.wait_until);
  return tool === "execute_command" ? "Starting the command" : "Starting";
}
/**
 * What a settled task says, in a line: how its job ended, what matched, or that the wait ran out
 * with the job still running (never a running job's "Still running: ..." hint, which tells a caller
 * what to call next, not what the task did).
 */
export function doneMessage(result: CallToolResult, jobId: string | null): string {
  const s = (result.structuredContent ?? {}) as Record<string, unknown>;
  if (result.isError)
    return `The call failed: ${result.content.map((c) => (c.type === "text" ? c.text : "")).join("")}`;
  const job = `Job ${text(s.job_id) ?? jobId ?? ""}`.trim();
  if (Array.isArray(s.jobs)) {
    const done = Array.isArray(s.done) ? s.done.length : 0;
    return `${done} of ${s.jobs.length} jobs ended or matched${s.timed_out ? "; the wait ran out" : ""}`;
  }
  if (text(s.outcome)) return `${job} ${String(s.status)}: ${String(s.outcome)}`;
  if (s.matched === true) return `${job} is running; matched: ${String(s.match ?? "")}`.slice(0, 300);
  if (s.timed_out === true)
    return `${job} is still ${s.status === "queued" ? "queued" : "running"}: the wait ran out (wait_for_job waits on)`;
  return `${job} ${String(s.status ?? "started")}`;
}
