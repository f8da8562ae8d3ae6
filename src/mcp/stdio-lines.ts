import type { JSONRPCMessage } from "@modelcontextprotocol/server";
import { StdioServerTransport } from "@modelcontextprotocol/server/stdio";
import { log, quietly } from "../log.js";

/** Bytes kept of each end of an oversized message, to find the id of the request to refuse. */
const KEPT = 4096;

// The id of a JSON-RPC request from the ends of its text: the official clients put it last
// (`...,"jsonrpc":"2.0","id":7}`), others first (`{"jsonrpc":"2.0","id":7,...`).
function requestId(head: string, tail: string): string | number | undefined {
  const value = String.raw`(-?\d{1,15}|"(?:[^"\\]|\\.){0,200}")`;
  const last = new RegExp(String.raw`"id"\s*:\s*${value}\s*\}\s*$`).exec(tail);
  const first = new RegExp(String.raw`^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*${value}`).exec(head);
  const raw = last?.[1] ?? first?.[1];
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as string | number;
  } catch {
    return undefined;
  }
}

/**
 * The SDK's stdio transport, with messages bounded: a line longer than `maxBytes` is not buffered
 * (the SDK's own buffer would close the connection at 10 MB, and the server with it, leaving its
 * jobs running unseen). Its bytes are dropped as they come; a request among them is answered with
 * an error that says why (-32600), and the server goes on. `onClosed` is told when the transport
 * closes for any reason (stdin's end, stdout gone, an error), so the server can stop as it does on
 * SIGTERM rather than fall silent.
 */
export class BoundedStdioTransport extends StdioServerTransport {
  private onClosed: (() => void) | undefined;

  constructor(maxBytes: number, onClosed?: () => void) {
    super(undefined, undefined, { maxBufferSize: maxBytes + 1 });
    this.onClosed = onClosed;
    const deliver = this._ondata;
    let parts: Buffer[] = [];
    let size = 0;
    let dropped: { head: Buffer; tail: Buffer; bytes: number } | undefined;
    this._ondata = (chunk: Buffer) => {
      let at = 0;
      while (at < chunk.length) {
        const nl = chunk.indexOf(10, at);
        const end = nl === -1 ? chunk.length : nl + 1;
        const piece = chunk.subarray(at, end);
        at = end;
        if (dropped) {
          dropped.bytes += piece.length;
          dropped.tail = Buffer.concat([dropped.tail, piece]).subarray(-KEPT);
        } else if (size + piece.length > maxBytes + 1) {
          const whole = Buffer.concat([...parts, piece]);
          dropped = {
            head: Buffer.from(whole.subarray(0, KEPT)),
            tail: Buffer.from(whole.subarray(-KEPT)),
            bytes: whole.length,
          };
          parts = [];
          size = 0;
        } else {
          parts.push(piece);
          size += piece.length;
        }
        if (nl === -1) continue;
        if (dropped) {
          this.refuse(dropped.head, dropped.tail, dropped.bytes, maxBytes);
          dropped = undefined;
        } else {
          const line = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
          parts = [];
          size = 0;
          deliver(line);
        }
      }
    };
  }

  private refuse(head: Buffer, tail: Buffer, bytes: number, maxBytes: number): void {
    const n = (x: number) => x.toLocaleString("en-US");
    const message = `Message too large: ${n(bytes)} bytes; this server takes messages of at most ${n(maxBytes)} bytes (MCP_BG_MAX_REQUEST_SIZE)`;
    const id = requestId(head.toString("utf8"), tail.toString("utf8").replace(/\r?\n$/, ""));
    log(
      "warn",
      `${message}: dropped${id === undefined ? " (no request id found: nothing to answer)" : `, request ${JSON.stringify(id)} answered with an error`}`,
    );
    if (id === undefined) return;
    const answer = { jsonrpc: "2.0", id, error: { code: -32600, message } } as JSONRPCMessage;
    quietly("answering an oversized message", this.send(answer));
  }

  // Answers go out one after another: each waits for the one before it to be taken. (The SDK's send
  // adds a listener to stdout for each answer that waits for room: 56 calls answered at once into a
  // full pipe were 56 listeners and a MaxListenersExceededWarning; none leaked.)
  private sending: Promise<unknown> = Promise.resolve();

  // The id of a request answered before the server was loaded (src/cli/first-answer.ts).
  private skipped: string | number | undefined;

  /** Drops the server's answer to request `id`, once: it was given already. */
  skipAnswer(id: string | number): void {
    this.skipped = id;
  }

  override send(...args: Parameters<StdioServerTransport["send"]>): Promise<void> {
    const message = args[0] as { id?: unknown; method?: unknown; error?: unknown };
    if (this.skipped !== undefined && message.method === undefined && message.id === this.skipped) {
      this.skipped = undefined;
      // The early answer was the recorded one; an error here means the SDK saw the request otherwise.
      if (message.error !== undefined)
        log("warn", "the first request, answered early, was refused by the server", message.error);
      return Promise.resolve();
    }
    const sent = this.sending.then(() => super.send(...args));
    this.sending = sent.catch(() => {});
    return sent;
  }

  override async start(): Promise<void> {
    await super.start();
    // Read before this was loaded (the first line, src/cli/first-answer.ts), stdin was paused with
    // its bytes put back: a new `data` listener does not resume a stream paused explicitly.
    if (process.stdin.isPaused()) process.stdin.resume();
  }

  override async close(): Promise<void> {
    await super.close();
    const closed = this.onClosed;
    this.onClosed = undefined;
    closed?.();
  }
}
