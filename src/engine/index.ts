// The engine's face: what the layers above it (the MCP tools, the web page, the command line, the
// hosting) may use, and all they may use (test/shape/architecture.test.ts holds them to it). The
// interfaces name what each kind of caller needs of the engine, so that it can be tested against a
// fake one.

import type { JobStatus } from "../domain/job-state.js";
import type { ConfinementView, JobRecord, SupervisionView } from "../domain/record.js";
import { confineFacts as localConfineFacts } from "../executors/local/confine.js";
import { jobCgroupsFolder } from "../process/cgroups.js";
import type { SearchResult } from "../text/search-lines.js";
import type { JobChange } from "./changes.js";
import type { LogOptions, LogSinks } from "./follow-output.js";
import type { Cursor, JobOutput } from "./job-output.js";
import type { StartOptions } from "./job-request.js";
import type { KillResult } from "./kill.js";
import type { TrackedJob } from "./tracked-job.js";
import type { WaitOptions, WaitResult } from "./wait-for-job.js";

export { platformFacts } from "../process/platform.js";

/** What can confine a job here, in words (the doctor's lines); `cgroups`: the MCP_BG_CGROUPS setting. */
export const confineFacts = (cgroups: boolean) => localConfineFacts(cgroups ? jobCgroupsFolder() : undefined);
export type { JobChange } from "./changes.js";
export { JobError, StoreError } from "./errors.js";
export type { LogOptions, LogSink, LogSinks } from "./follow-output.js";
export { JobEngine } from "./job-engine.js";
export { type Cursor, droppedNote, type JobOutput, parseCursor } from "./job-output.js";
export type { StartOptions } from "./job-request.js";
export { KILL_RESULTS, type KillResult } from "./kill.js";
export { checkLocalUrl, type Readiness } from "./readiness.js";
export { JobTasks, type TaskRecord } from "./tasks.js";
export type { TrackedJob } from "./tracked-job.js";
export type { WaitOptions, WaitResult } from "./wait-for-job.js";

/** Jobs coming and going and changing, for whoever shows them live. */
export interface JobChangesFeed {
  onListChanged(listener: () => void): () => void;
  watchJob(job: TrackedJob, listener: (change: JobChange) => void): () => void;
  stateVersion(): string;
}

/** What the MCP tools, resources and tasks call. */
export interface JobsForTools {
  readonly callTimeoutMs: number;
  readonly changes: JobChangesFeed;
  start(opts: StartOptions): Promise<JobRecord>;
  lookup(id: string): TrackedJob;
  list(filter?: { status?: JobStatus; limit?: number }): { jobs: JobRecord[]; total: number };
  output(job: TrackedJob, since?: Cursor, limit?: number): Promise<JobOutput>;
  tail(job: TrackedJob, lines: number): Promise<{ stdout: string; stderr: string }>;
  wait(job: TrackedJob, opts: WaitOptions): Promise<WaitResult>;
  search(
    job: TrackedJob,
    pattern: string,
    opts: { contextLines: number; maxMatches: number; signal?: AbortSignal },
  ): Promise<SearchResult>;
  interact(job: TrackedJob, input: string, opts: { waitMs: number; raw?: boolean; eof?: boolean }): Promise<JobOutput>;
  kill(id: string, opts?: { signal?: NodeJS.Signals; graceMs?: number }): Promise<KillResult>;
  ended(job: TrackedJob): Promise<void>;
  ports(jobs: readonly TrackedJob[]): Promise<Map<string, number[]>>;
  waiting(job: TrackedJob): string | undefined;
  confinement(job: TrackedJob): ConfinementView;
  supervision(job: TrackedJob): SupervisionView;
  unavailable(): string | undefined;
}

/** What the web page calls. */
export interface JobsForPage {
  readonly changes: JobChangesFeed;
  lookup(id: string): TrackedJob;
  list(filter?: { status?: JobStatus; limit?: number }): { jobs: JobRecord[]; total: number };
  board(limit: number): { jobs: (JobRecord & { owner_pid: number | null; waiting?: string })[]; total: number };
  logs(job: TrackedJob, sinks: LogSinks, opts: LogOptions): Promise<void>;
  kill(id: string, opts?: { signal?: NodeJS.Signals; graceMs?: number }): Promise<KillResult>;
  ports(jobs: readonly TrackedJob[]): Promise<Map<string, number[]>>;
  waiting(job: TrackedJob): string | undefined;
}
