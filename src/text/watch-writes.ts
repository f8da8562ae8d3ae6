import { watch } from "node:fs";

/**
 * Calls `onWrite` with the file's name whenever a file in `dir` is written or appears (inotify via
 * fs.watch): how a reader learns of new output without polling. Returns the function that stops
 * watching; a folder that cannot be watched (gone) is never reported on.
 */
export function watchWrites(dir: string, onWrite: (name: string | null) => void): () => void {
  try {
    const watcher = watch(dir, { persistent: false }, (_event, name) => onWrite(name));
    watcher.on("error", () => {});
    return () => watcher.close();
  } catch {
    return () => {};
  }
}
