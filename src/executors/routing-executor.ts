import type { ExecutorName, JobState } from "../domain/job-state.js";
import type { TreeRoot } from "../process/process-tree.js";
import type { Executor, Executors, JobSpec, KillOrder, Observation, Placement, Starting } from "./executor.js";

/**
 * The executors a program has, as one: each call goes to the executor the job's record names
 * (`executor`), so the engine does not care where a job runs. Jobs of an executor this program does not
 * have (a Slurm job seen by a server started without Slurm) are seen through the default one's files.
 * New jobs start on the default one, or on another that `startable` names.
 */
export class RoutingExecutor implements Executors {
  readonly name: ExecutorName;

  constructor(
    private readonly fallback: Executor,
    private readonly others: ReadonlyMap<ExecutorName, Executor>,
    /** Why a new job may not start on an executor of `others` (undefined: it may). */
    private readonly refusal: (name: ExecutorName) => string | undefined = () => undefined,
  ) {
    this.name = fallback.name;
  }

  // The executor of that name, if this program has it.
  private get(name: ExecutorName): Executor | undefined {
    return name === this.fallback.name ? this.fallback : this.others.get(name);
  }

  forStart(name: ExecutorName): Executor | string {
    const executor = this.get(name);
    if (!executor) return `The ${name} executor is not known here`;
    const refused = executor === this.fallback ? undefined : this.refusal(name);
    return refused ?? executor;
  }

  waiting(job: JobState): string | undefined {
    return this.of(job).waiting?.(job);
  }

  private of(job: JobState): Executor {
    return this.get(job.executor) ?? this.fallback;
  }

  unavailable(): string | undefined {
    return this.fallback.unavailable();
  }

  prepare(job: JobState, spec: JobSpec): Starting {
    return this.of(job).prepare(job, spec);
  }

  observe(job: JobState, ownerGone: boolean): Observation {
    return this.of(job).observe(job, ownerGone);
  }

  placementOf(job: JobState): Placement | undefined {
    return this.of(job).placementOf(job);
  }

  writtenEnd(job: JobState) {
    return this.of(job).writtenEnd(job);
  }

  watchEnd(job: JobState, onChange: () => void): () => void {
    return this.of(job).watchEnd(job, onChange);
  }

  async kill(orders: readonly KillOrder[], signal: NodeJS.Signals, graceMs: number): Promise<void> {
    const by = new Map<Executor, KillOrder[]>();
    for (const o of orders) {
      const e = this.of(o.job);
      by.set(e, [...(by.get(e) ?? []), o]);
    }
    await Promise.all([...by].map(([e, os]) => e.kill(os, signal, graceMs)));
  }

  async reapLeftovers(jobs: readonly JobState[]): Promise<void> {
    const by = new Map<Executor, JobState[]>();
    for (const j of jobs) by.set(this.of(j), [...(by.get(this.of(j)) ?? []), j]);
    await Promise.all([...by].map(([e, js]) => e.reapLeftovers(js)));
  }

  killNow(jobs: readonly JobState[]): void {
    for (const j of jobs) this.of(j).killNow([j]);
  }

  orderStop(jobs: readonly JobState[]): void {
    for (const j of jobs) this.of(j).orderStop([j]);
  }

  processRoot(job: JobState): TreeRoot | undefined {
    return this.of(job).processRoot(job);
  }

  writeInput(job: JobState, data: string): Promise<void> {
    return this.of(job).writeInput(job, data);
  }

  endInput(job: JobState): Promise<void> {
    return this.of(job).endInput(job);
  }

  release(job: JobState): void {
    this.of(job).release(job);
  }

  usage(job: JobState): ReturnType<Executor["usage"]> {
    return this.of(job).usage(job);
  }

  recoverFolder(id: string, opts: { ended?: boolean } = {}): JobState | undefined {
    return this.fallback.recoverFolder(id, opts);
  }

  sweep(running: (id: string) => boolean): void {
    this.fallback.sweep(running);
    for (const e of this.others.values()) e.sweep(running);
  }

  tend(): void {
    this.fallback.tend();
    for (const e of this.others.values()) e.tend();
  }

  close(): void {
    this.fallback.close();
    for (const e of this.others.values()) e.close();
  }

  dispose(): void {
    this.fallback.dispose();
    for (const e of this.others.values()) e.dispose();
  }
}
