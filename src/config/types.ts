import type { ExecutorName, Sandbox } from "../domain/job-state.js";
import type { DenyRule } from "./deny-rules.js";

/** Everything the server is configured with, parsed and checked once at start-up. */
export interface Config {
  maxJobs: number;
  maxOutputBytes: number;
  /** Seconds a job may run before it is killed; undefined for no limit. */
  jobTimeoutSeconds: number | undefined;
  cleanupIntervalSeconds: number;
  allowedCommands: RegExp[] | undefined;
  deniedCommands: DenyRule[];
  workingDir: string;
  shell: string;
  maxResponseChars: number;
  stateDir: string;
  retentionSeconds: number;
  maxFinished: number;
  /** At the job limit a job waits in the queue instead of being refused (a job's `queue` otherwise). */
  queue: boolean;
  /** Jobs outlive a normal shutdown of the server that started them. */
  keepJobs: boolean;
  /** Send `notifications/claude/channel` when a job the client started ends (Claude Code channels). */
  notifyChannel: boolean;
  /** Serve Streamable HTTP instead of stdio. */
  http: boolean;
  /** TCP port of the HTTP server (0: any free one). */
  port: number;
  /** Address the HTTP server listens on. */
  host: string;
  /** Bearer token every HTTP request must carry; undefined for none (loopback only). */
  authToken: string | undefined;
  /** Host names besides the loopback ones and `host` that HTTP requests may name (Host, Origin). */
  allowedHosts: string[];
  /** Largest HTTP request body accepted, in bytes. */
  maxRequestBytes: number;
  /** Seconds an HTTP session with nothing open may sit unused before it is closed. */
  sessionIdleSeconds: number;
  /** HTTP sessions kept at once. */
  maxSessions: number;
  /** Longest a single tool call waits (wait_for_job, interact_with_job, kill_job), in seconds. */
  callTimeoutSeconds: number;
  /** Give each job a cgroup of its own where cgroup v2 allows it. */
  cgroups: boolean;
  /** Jobs' sandbox unless they ask for another. */
  sandbox: Sandbox;
  /** Jobs may not ask for less sandbox (or more network) than the defaults. */
  sandboxRequired: boolean;
  /** More folders a workspace sandbox may write below. */
  sandboxWritable: string[];
  /** Jobs may use the network unless they ask not to. */
  network: boolean;
  /** Default limits of a job: memory in bytes, cores, processes; undefined for none. */
  jobMemoryBytes: number | undefined;
  jobCpu: number | undefined;
  jobProcesses: number | undefined;
  /** Where jobs run unless execute_command says otherwise. */
  executor: ExecutorName;
  /** The Slurm executor is there (for jobs that ask for it; always when it is the default). */
  slurm: boolean;
  /** Slurm partition for jobs; undefined for the cluster's default. */
  slurmPartition: string | undefined;
  /** Slurm account to charge; undefined for the user's default. */
  slurmAccount: string | undefined;
  /** Slurm's own time limit per job, in minutes; undefined for the partition's default. */
  slurmTimeMinutes: number | undefined;
  /** More sbatch options, each one argument. */
  slurmSbatchArgs: string[];
  /** How input reaches Slurm jobs: through srun on their node when elsewhere (auto), always (srun), never (fifo). */
  slurmInput: "auto" | "srun" | "fifo";
  /** Grace before SIGKILL when the server shuts down with jobs running. */
  shutdownGraceMs: number;
  /** Also log at debug level. */
  debug: boolean;
  /** The environment jobs start from (the server's own). */
  baseEnv: NodeJS.ProcessEnv;
}

/** A configuration value that cannot be used; its message is the one line printed before exit 2. */
export class ConfigError extends Error {}

/** Where a default may come from: the environment (HOME, XDG_STATE_HOME) and the working directory. */
export interface DefaultContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** One setting: its environment variable, its flag, how to parse it and its default, in one place. */
export interface Setting<K extends keyof Config> {
  key: K;
  env: string;
  flag: string;
  parse: Parser<Config[K]>;
  /** What it does, for --help (the default is added from `shown`). */
  help: string;
  /** Its value when neither flag nor variable gives one (a function: from the environment). */
  default: Config[K] | ((ctx: DefaultContext) => Config[K]);
  /** The default in words, for --help. */
  shown: string;
  /** A flag that takes no value (`--keep-jobs`); `--keep-jobs=0` still works. */
  isSwitch?: boolean;
}

/** Every setting: environment variable, flag, parser and help line (the README lists the same). */

/** What a parser may look at besides the raw value. */
export interface ParseContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export type Parser<T> = (raw: string, name: string, ctx: ParseContext) => T;
