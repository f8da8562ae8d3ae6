import type { JSONRPCMessage } from "@modelcontextprotocol/server";
import { BoundedStdioTransport } from "./stdio-lines.js";

/**
 * Stdin/stdout as the SDK's stdio transport (messages bounded: BoundedStdioTransport), counting the 2026-era `subscriptions/listen` streams the
 * client holds open (the SDK serves them at its entry and does not say): a listen request opens one;
 * its `notifications/cancelled`, or any answer to it (a refusal, or the stream's end), closes it. While
 * none is open, nothing needs watching for listeners.
 */
export class ListenCountingTransport extends BoundedStdioTransport {
  private readonly open = new Set<string | number>();
  private deliver: ((message: JSONRPCMessage, extra?: unknown) => void) | undefined;

  constructor(
    private readonly onOpen: () => void,
    maxBytes: number,
    onClosed?: () => void,
  ) {
    super(maxBytes, onClosed);
    // The SDK sets onmessage; what it receives passes here first.
    Object.defineProperty(this, "onmessage", {
      configurable: true,
      get: () => this.deliver && ((m: JSONRPCMessage, extra?: unknown) => this.seen(m, extra)),
      set: (fn: ((message: JSONRPCMessage, extra?: unknown) => void) | undefined) => {
        this.deliver = fn;
      },
    });
  }

  override send(message: JSONRPCMessage, ...rest: unknown[]): Promise<void> {
    // A response ends the request it answers: for a listen, its stream.
    const id = (message as { id?: string | number; method?: string }).id;
    if (id !== undefined && !("method" in message)) this.open.delete(id);
    return (super.send as (m: JSONRPCMessage, ...r: unknown[]) => Promise<void>)(message, ...rest);
  }

  /** How many listen streams are open. */
  get listens(): number {
    return this.open.size;
  }

  private seen(m: JSONRPCMessage, extra?: unknown): void {
    const msg = m as { id?: string | number; method?: string; params?: { requestId?: string | number } };
    if (msg.method === "subscriptions/listen" && msg.id !== undefined) {
      // A client could open listens without end: past the SDK's own cap they are refused anyway.
      if (this.open.size < 10_000) this.open.add(msg.id);
      queueMicrotask(this.onOpen);
    } else if (msg.method === "notifications/cancelled" && msg.params?.requestId !== undefined) {
      this.open.delete(msg.params.requestId);
    }
    this.deliver?.(m, extra);
  }
}
