import { closeSync, constants, fstatSync, openSync } from "node:fs";
import { Socket } from "node:net";
import { isSameProcessAlive } from "../process/proc.js";
import { sendSignal } from "../process/signals.js";

/** Input written to a job but not yet taken by it, beyond which more is refused. */
const MAX_PENDING_INPUT = 8 * 1024 * 1024;

const closed = () => Object.assign(new Error("stdin is closed"), { code: "EPIPE" });

/**
 * Writers to jobs' stdin FIFOs (JOBDIR/stdin, read by the job's shepherd). Any process may write to
 * any job this way, the server that started it or not. One writer is kept open per FIFO.
 */
export class JobStdin {
  private readonly writers = new Map<string, Socket>();

  // The open writer of a FIFO: opening fails when nobody reads it any more (ENXIO) or it is gone.
  private writer(fifo: string): Socket {
    let socket = this.writers.get(fifo);
    if (socket && !socket.destroyed) return socket;
    let fd: number;
    try {
      fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    } catch {
      throw closed();
    }
    // Only the FIFO its shepherd made (a job can put anything in its folder): anything else is a
    // closed stdin, and its descriptor is let go at once.
    try {
      if (!fstatSync(fd).isFIFO()) throw new Error("not a FIFO");
      socket = new Socket({ fd, readable: false, writable: true });
    } catch {
      closeSync(fd);
      throw closed();
    }
    socket.on("error", () => this.forget(fifo));
    socket.on("close", () => {
      if (this.writers.get(fifo) === socket) this.writers.delete(fifo);
    });
    this.writers.set(fifo, socket);
    return socket;
  }

  /** Writes to a job's stdin; rejects with EPIPE once it is closed, ENOBUFS when the job does not read. */
  write(fifo: string, data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      let socket: Socket;
      try {
        socket = this.writer(fifo);
      } catch (err) {
        reject(err);
        return;
      }
      // A job that does not read its input must not make the server hold it without bound.
      if (socket.writableLength > MAX_PENDING_INPUT) {
        reject(Object.assign(new Error("stdin is full"), { code: "ENOBUFS" }));
        return;
      }
      socket.write(data, (err) => (err ? reject(err.message.includes("EPIPE") ? closed() : err) : resolve()));
    });
  }

  /**
   * Closes a job's stdin once what was written before has reached it: asks its shepherd (SIGUSR2),
   * if that is still the same process.
   */
  async end(fifo: string, shepherd: { pid: number | null; start: number | null }): Promise<void> {
    const socket = this.writers.get(fifo);
    if (socket && !socket.destroyed && socket.writableLength > 0) {
      await new Promise<void>((resolve) => socket.write("", () => resolve()));
    }
    this.forget(fifo);
    if (shepherd.pid && isSameProcessAlive(shepherd.pid, shepherd.start)) sendSignal(shepherd.pid, "SIGUSR2");
  }

  /** Closes the writer of a FIFO (its job has ended, or its stdin is closed). */
  forget(fifo: string): void {
    const socket = this.writers.get(fifo);
    this.writers.delete(fifo);
    socket?.destroy();
  }
}
