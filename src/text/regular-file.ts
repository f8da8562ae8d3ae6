import { closeSync, constants, fstatSync, openSync } from "node:fs";

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
