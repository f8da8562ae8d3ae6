// What a signal usually means, for the ones jobs commonly die of.
const SIGNAL_MEANING: Record<string, string> = {
  SIGINT: "interrupted (Ctrl-C)",
  SIGTERM: "terminated",
  SIGKILL: "killed; by kill -9, an escalated kill, or the out-of-memory killer",
  SIGHUP: "hung up",
  SIGQUIT: "quit",
  SIGSEGV: "crashed: segmentation fault",
  SIGABRT: "aborted",
  SIGBUS: "crashed: bus error",
  SIGFPE: "crashed: arithmetic error",
  SIGILL: "crashed: illegal instruction",
  SIGPIPE: "wrote to a pipe nobody reads",
  SIGUSR1: "user signal 1",
  SIGUSR2: "user signal 2",
};

// What an exit code usually means in a shell.
const CODE_MEANING: Record<number, string> = {
  0: "success",
  1: "general error",
  2: "misuse or bad arguments",
  126: "command found but not executable",
  127: "command not found",
};

// Linux's signal numbers (x86 and arm alike), for exit codes above 128: the shell's way of
// reporting that a signal ended the command.
const SIGNAL_NAMES: readonly string[] = [
  "",
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGILL",
  "SIGTRAP",
  "SIGABRT",
  "SIGBUS",
  "SIGFPE",
  "SIGKILL",
  "SIGUSR1",
  "SIGSEGV",
  "SIGUSR2",
  "SIGPIPE",
  "SIGALRM",
  "SIGTERM",
  "SIGSTKFLT",
  "SIGCHLD",
  "SIGCONT",
  "SIGSTOP",
  "SIGTSTP",
  "SIGTTIN",
  "SIGTTOU",
  "SIGURG",
  "SIGXCPU",
  "SIGXFSZ",
  "SIGVTALRM",
  "SIGPROF",
  "SIGWINCH",
  "SIGIO",
  "SIGPWR",
  "SIGSYS",
];

/** One line that explains how a job ended, in words, beside the numbers (137 -> killed by SIGKILL). */
export function describeEnd(end: {
  status: string;
  exit_code: number | null;
  signal: string | null;
  timed_out: boolean;
  lost?: boolean;
  limit_hit?: { limit: string; value: number | null };
  not_started?: string;
}): string {
  if (end.status === "running") return "still running";
  if (end.status === "queued") return "queued: not started yet";
  if (end.not_started) return end.not_started;
  const hit = end.limit_hit;
  if (hit?.limit === "memory" && end.status !== "killed" && (end.signal === "SIGKILL" || end.exit_code === 137)) {
    return `killed by its memory limit (${size(hit.value)}): out of memory`;
  }
  const said = describeOnly(end);
  if (hit?.limit === "memory")
    return `${said}; it hit its memory limit (${size(hit.value)}): the kernel killed a process of it`;
  return hit?.limit === "processes"
    ? `${said}; it hit its process limit (${hit.value ?? "?"}): forks were refused`
    : said;
}

// A byte count as people write it (512 MB, 1.5 GB).
function size(bytes: number | null): string {
  if (bytes === null) return "?";
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]}`;
}

function describeOnly(end: {
  status: string;
  exit_code: number | null;
  signal: string | null;
  timed_out: boolean;
  lost?: boolean;
}): string {
  const by = end.timed_out ? " after its timeout" : end.status === "killed" ? " on request" : "";
  if (end.lost) {
    const killed = end.status === "killed" ? `killed${by}, ` : "";
    return `${killed}lost: how it ended was not seen (its capture process was gone before it wrote the end down, or the machine restarted); exit status unknown`;
  }
  if (end.signal) {
    const meaning = SIGNAL_MEANING[end.signal];
    return `ended by ${end.signal}${by}${meaning ? ` (${meaning})` : ""}`;
  }
  if (end.exit_code === null) return end.status === "killed" ? `killed${by}` : "ended; its exit status is unknown";
  const code = end.exit_code;
  let meaning = CODE_MEANING[code];
  if (!meaning && code > 128 && code < 160) {
    const sig = SIGNAL_NAMES[code - 128];
    if (sig) meaning = `the shell reports ${sig}: ${SIGNAL_MEANING[sig] ?? "killed by a signal"}`;
  }
  if (!meaning) meaning = code === 0 ? "success" : "failure";
  return `exited with code ${code}${by} (${meaning})`;
}
