import { watch } from "node:fs";

/**
 * Calls `onWrite` whenever a file in `dir` is written (inotify via fs.watch): how a reader learns of
 * new output without polling. Returns the function that stops watching.
 */
export function watchWrites(dir: string, onWrite: () => void): () => void {
  try {
    const watcher = watch(dir, { persistent: false }, onWrite);
    watcher.on("error", () => {});
    return () => watcher.close();
  } catch {
    return () => {};
  }
}
