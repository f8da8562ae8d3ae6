import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";

/**
 * Opens a file for reading if it is a regular file: undefined if it is missing, unreadable or
 * anything else. Opened non-blocking, so that a FIFO put in its place cannot block the reader.
 */
export function openRegularFile(path: string): number | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (fstatSync(fd).isFile()) return fd;
  } catch {}
  closeSync(fd);
  return undefined;
}

/**
 * The text (latin1) of a small regular file, at most `max` bytes; undefined if it is not there, not
 * a regular file (a FIFO a job put in its place must not block the reader), or not readable.
 */
export function readSmallFile(path: string, max = 256): string | undefined {
  const fd = openRegularFile(path);
  if (fd === undefined) return undefined;
  try {
    const buf = Buffer.alloc(max);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.toString("latin1", 0, n);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
