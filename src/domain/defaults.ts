// The facts a job's tools and engine share: signals, graces, limits. One place each.

/** Signals a kill may start with. */
export const KILL_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGKILL", "SIGUSR1", "SIGUSR2"] as const;
export type KillSignal = (typeof KILL_SIGNALS)[number];

/** What a kill sends first unless told otherwise. */
export const DEFAULT_KILL_SIGNAL: KillSignal = "SIGTERM";
/** Seconds a kill waits before SIGKILL unless told otherwise. */
export const DEFAULT_GRACE_SECONDS = 5;
/** Longest grace a kill may be given. */
export const MAX_GRACE_SECONDS = 3600;
/** Grace a server's stop gives its jobs before SIGKILL. */
export const SHUTDOWN_GRACE_MS = 2000;

/** Longest timeout a Node timer can hold (2^31 - 1 ms, about 24.8 days), in whole seconds. */
export const MAX_TIMEOUT_SECONDS = 2_147_483;

/** Lines a tail returns unless told otherwise, and at most. */
export const DEFAULT_TAIL_LINES = 50;
export const MAX_TAIL_LINES = 1000;

/** Seconds a wait lasts unless told otherwise, and at most (one call may wait less: see the call timeout). */
export const DEFAULT_WAIT_SECONDS = 30;
export const MAX_WAIT_SECONDS = 3600;
/** Jobs one wait_for_job call may wait on at once. */
export const MAX_WAIT_JOBS = 100;

/** Milliseconds interact_with_job waits for the reply unless told otherwise, and at most. */
export const DEFAULT_REPLY_WAIT_MS = 2000;
export const MAX_REPLY_WAIT_MS = 600_000;

/** Matches search_job_output returns unless told otherwise, and at most; lines of context at most. */
export const DEFAULT_MAX_MATCHES = 50;
export const MAX_MATCHES = 1000;
export const MAX_CONTEXT_LINES = 20;

/** Jobs list_jobs returns unless told otherwise. */
export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 10_000;

/** Longest line a matching or searching tool returns (a line may be up to 1 MiB long). */
export const MAX_LINE_CHARS = 1000;

/** Size of the terminal PTY jobs run in (and are rendered in). */
export const PTY_SIZE = { cols: 120, rows: 40 } as const;

/** Shortest job id prefix the command line accepts. */
export const MIN_PREFIX = 8;

/** Listening ports shown for one job at most (the lowest): a job may listen on thousands. */
export const MAX_PORTS_SHOWN = 50;
