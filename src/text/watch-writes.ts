import { readdirSync, statSync, watch } from "node:fs";
import { join } from "node:path";
import { logOnce } from "../log.js";

/** How often a folder is looked at where inotify cannot watch it. */
export const LOOK_MS = 500;

// Size and modification time of each file in a folder (or of the names given), as one string each.
function filesOf(dir: string, names: readonly string[] | undefined): Map<string, string> {
  const seen = new Map<string, string>();
  let list: readonly string[];
  try {
    list = names ?? readdirSync(dir);
  } catch {
    return seen;
  }
  for (const name of list) {
    try {
      const st = statSync(join(dir, name));
      seen.set(name, `${st.size}:${st.mtimeMs}`);
    } catch {}
  }
  return seen;
}

/**
 * Looks at the files of a folder (`names`, or all) every `everyMs` and calls `onWrite` with the name
 * of each that appeared, grew or was written since the last look: for where inotify sees nothing (a
 * shared filesystem written by other machines) or cannot be had. Returns what stops it.
 */
export function lookForWrites(
  dir: string,
  onWrite: (name: string | null) => void,
  opts: { names?: readonly string[]; everyMs?: number } = {},
): () => void {
  let seen = filesOf(dir, opts.names);
  const timer = setInterval(() => {
    const now = filesOf(dir, opts.names);
    for (const [name, stamp] of now) if (seen.get(name) !== stamp) onWrite(name);
    seen = now;
  }, opts.everyMs ?? LOOK_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Calls `onWrite` with the file's name whenever a file in `dir` is written or appears: through
 * inotify (fs.watch), how a reader learns of new output without polling. Where inotify cannot be
 * had (no instance or watch left: `fs.inotify.max_user_instances` is 128 by default, and editors
 * take many), the folder is looked at every LOOK_MS instead, and the log says so once: a wait is
 * then slower, never wrong. Returns the function that stops watching; a folder that is gone is
 * never reported on.
 */
export function watchWrites(dir: string, onWrite: (name: string | null) => void): () => void {
  let stopLooking: (() => void) | undefined;
  const fallBack = (err: NodeJS.ErrnoException) => {
    if (stopLooking || err.code === "ENOENT") return;
    logOnce(
      "inotify",
      "warn",
      `cannot watch files through inotify (${err.code ?? err.message}: raise fs.inotify.max_user_instances or max_user_watches); looking at them every ${LOOK_MS} ms instead`,
    );
    stopLooking = lookForWrites(dir, onWrite);
  };
  let watcher: ReturnType<typeof watch> | undefined;
  try {
    watcher = watch(dir, { persistent: false }, (_event, name) => onWrite(name));
    watcher.on("error", (err: NodeJS.ErrnoException) => {
      watcher?.close();
      fallBack(err);
    });
  } catch (err) {
    fallBack(err as NodeJS.ErrnoException);
  }
  return () => {
    watcher?.close();
    stopLooking?.();
  };
}
