import { constants } from "node:os";

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

const signalNumbers = constants.signals as Record<string, number>;
const signalNames = new Map(Object.entries(signalNumbers).map(([name, num]) => [num, name]));

/** One line that explains how a job ended, in words, beside the numbers (137 -> killed by SIGKILL). */
export function describeEnd(end: {
  status: string;
  exit_code: number | null;
  signal: string | null;
  timed_out: boolean;
  lost?: boolean;
}): string {
  if (end.status === "running") return "still running";
  if (end.lost) {
    return "lost: its server stopped watching it, and its processes were gone when next looked for (exit status unknown)";
  }
  const by = end.timed_out ? " after its timeout" : end.status === "killed" ? " on request" : "";
  if (end.signal) {
    const meaning = SIGNAL_MEANING[end.signal];
    return `ended by ${end.signal}${by}${meaning ? ` (${meaning})` : ""}`;
  }
  if (end.exit_code === null) return end.status === "killed" ? `killed${by}` : "ended; its exit status is unknown";
  const code = end.exit_code;
  let meaning = CODE_MEANING[code];
  if (!meaning && code > 128 && code < 160) {
    const sig = signalNames.get(code - 128);
    if (sig) meaning = `the shell reports ${sig}: ${SIGNAL_MEANING[sig] ?? "killed by a signal"}`;
  }
  if (!meaning) meaning = code === 0 ? "success" : "failure";
  return `exited with code ${code}${by} (${meaning})`;
}
