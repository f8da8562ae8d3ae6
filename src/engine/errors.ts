/** What went wrong, as a stable code a caller can branch on. */
export type JobErrorCode =
  | "not_found"
  | "not_running"
  | "limit"
  | "invalid_input"
  | "denied"
  | "stdin_closed"
  | "spawn_failed"
  | "unavailable";

/** An error of the job engine, turned into an `isError` tool result in one place. */
export class JobError extends Error {
  constructor(
    readonly code: JobErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "JobError";
  }
}

/** The state dir cannot be used (from the store; the command line and the server report it). */
export { StoreError } from "../store/job-store.js";
