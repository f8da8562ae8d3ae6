import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RING_HEADER_BYTES } from "../../src/text/ring-file.js";

/**
 * A wait's deadline is a guard against a test that hangs, never a claim about the machine's speed
 * (a loaded 2-core machine runs several times slower than an idle one): at least this long, whatever
 * a caller asks. Speed is measured by the benchmarks (npm run bench), not by tests.
 */
export const HANG_GUARD_MS = 30_000;

/**
 * Waits until `cond` returns a truthy value, checking every `everyMs`; fails after `timeoutMs` or
 * HANG_GUARD_MS, whichever is longer.
 */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  timeoutMs = HANG_GUARD_MS,
  everyMs = 20,
): Promise<Exclude<T, false | 0 | "" | null | undefined>> {
  const deadline = Date.now() + Math.max(timeoutMs, HANG_GUARD_MS);
  for (;;) {
    const value = await cond();
    if (value) return value as Exclude<T, false | 0 | "" | null | undefined>;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms: ${cond.toString()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = "mcp-bg-test-"): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  // Retried: a shepherd may still be writing a job's last files when a test removes its folder.
  return { path, remove: () => rmSync(path, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 }) };
}

/**
 * Pids of live processes whose command line contains `marker`, read from /proc/PID/cmdline
 * (independent of the server's own /proc/environ logic). Zombies (no cmdline) are not counted.
 */
export function processesMatching(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes(marker)) found.push(Number(entry));
    } catch {}
  }
  return found;
}

/**
 * How many processes carry `marker` for good: the fewest of three looks 30 ms apart, so that a shell
 * loop's child caught between fork and exec (its command line is still the loop's) is not counted.
 */
export async function steadyCount(marker: string): Promise<number> {
  let fewest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 30));
    fewest = Math.min(fewest, processesMatching(marker).length);
  }
  return fewest;
}

/** Whether a process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** A unique token to put in a command line, so tests can find its processes. */
export function marker(): string {
  return `mk${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * `mark` written so that the shell joins it into one word while the command text itself does not
 * contain it: only the processes that receive it as an argument show it in their command line.
 */
export function splitWord(mark: string): string {
  return `"${mark.slice(0, 3)}""${mark.slice(3)}"`;
}

/** A shell loop that stays alive (not exec'd away) and shows `mark` in its command line, and only its own. */
export function markedLoop(mark: string, trap = ""): string {
  return `sh -c '${trap}while :; do sleep 1; done' ${splitWord(mark)}`;
}

/** The command line of a process (NUL-separated), or "" once it is gone. */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "";
  }
}

/** Pids of the live (not zombie) children of a process. */
export function childrenOf(parent: number): number[] {
  const kids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "latin1");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === parent && fields[0] !== "Z") kids.push(Number(entry));
    } catch {}
  }
  return kids;
}

/**
 * Writes a ring file as native/shepherd.c does: "BGRING01", u64 LE capacity at 8, u64 LE total written at 16,
 * then `capacity` data bytes where stream byte N lives at 64 + N % capacity. `stream` is everything the job
 * wrote; only its newest `capacity` bytes end up in the file. `written` may be set larger than the stream to
 * describe a ring whose older bytes are not given (they are then left as zeros).
 */
export function writeRing(path: string, capacity: number, stream: Buffer | string, written?: number): void {
  const bytes = typeof stream === "string" ? Buffer.from(stream, "latin1") : stream;
  const total = written ?? bytes.length;
  const header = Buffer.alloc(RING_HEADER_BYTES);
  header.write("BGRING01", 0, "latin1");
  header.writeBigUInt64LE(BigInt(capacity), 8);
  header.writeBigUInt64LE(BigInt(total), 16);
  const data = Buffer.alloc(capacity);
  const first = total - bytes.length; // stream offset of bytes[0]
  for (let i = Math.max(0, bytes.length - capacity); i < bytes.length; i++) {
    data[(first + i) % capacity] = bytes[i] as number;
  }
  writeFileSync(path, Buffer.concat([header, data]));
}

// A port nothing listens on now (the kernel's pick, let go at once).
export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}
