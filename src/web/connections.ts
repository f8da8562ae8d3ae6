import type { Server } from "node:http";
import type { Socket } from "node:net";
import { log } from "../log.js";

/** Connections one HTTP server holds at once (each holds a file descriptor; jobs need some too). */
export const MAX_CONNECTIONS = 512;
/** Requests without credentials that may be under way at once (sign-ins reading their bodies). */
export const UNAUTHENTICATED_SHARE = 32;
/** A client gets this long to send its request headers (a slow trickle must not hold a connection). */
export const HEADERS_TIMEOUT_MS = 10_000;
/** ... and this long to send a whole request, body included. */
export const REQUEST_TIMEOUT_MS = 60_000;

interface Held {
  since: number;
  /** It has sent a request with the credentials this server wants (or it wants none). */
  proven: boolean;
}

/** What the page needs of the connection budget: to tell who showed credentials, and a sign-in's share. */
export interface Admission {
  prove(socket: Socket): void;
  holdUnauthenticated(socket: Socket): boolean;
}

/**
 * The connections of one HTTP server, bounded so that traffic without credentials cannot starve
 * traffic with them. At most MAX_CONNECTIONS are held; when one more comes, the oldest connection
 * that has never sent a request with credentials (a slow trickle of headers or of a sign-in body,
 * say) makes room, and only when there is none is the newcomer refused. Requests without
 * credentials that stay open (sign-ins) get UNAUTHENTICATED_SHARE of them at most. Header and
 * request deadlines are checked every second (Node's default looks every 30 s).
 */
export class ConnectionBudget implements Admission {
  private readonly held = new Map<Socket, Held>();
  private unauthenticated = 0;
  private refusedSince = 0;

  constructor(server: Server) {
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    // Node looks for connections past those deadlines this often (30 s unless told).
    (server as Server & { connectionsCheckingInterval?: number }).connectionsCheckingInterval = 1000;
    server.on("connection", (socket: Socket) => this.admit(socket));
  }

  /** How many connections are held now. */
  get size(): number {
    return this.held.size;
  }

  private admit(socket: Socket): void {
    if (this.held.size >= MAX_CONNECTIONS && !this.evictUnproven()) {
      socket.destroy();
      // Said once a minute at most: a flood must not flood the log too.
      if (Date.now() - this.refusedSince > 60_000) {
        this.refusedSince = Date.now();
        log("warn", `http: ${MAX_CONNECTIONS} connections are open, all of them signed in: refusing new ones`);
      }
      return;
    }
    this.held.set(socket, { since: Date.now(), proven: false });
    socket.once("close", () => this.held.delete(socket));
  }

  // Closes the oldest connection that has not shown credentials; false if there is none.
  private evictUnproven(): boolean {
    let oldest: [Socket, Held] | undefined;
    for (const entry of this.held) {
      if (!entry[1].proven && (!oldest || entry[1].since < oldest[1].since)) oldest = entry;
    }
    if (!oldest) return false;
    this.held.delete(oldest[0]);
    oldest[0].destroy();
    return true;
  }

  /** The connection has sent a request with the credentials wanted (or none are wanted). */
  prove(socket: Socket): void {
    const h = this.held.get(socket);
    if (h) h.proven = true;
  }

  /**
   * Takes one of the unauthenticated share for a request that stays open without credentials (a
   * sign-in reading its body), until it closes; false when the share is used up.
   */
  holdUnauthenticated(socket: Socket): boolean {
    if (this.unauthenticated >= UNAUTHENTICATED_SHARE) return false;
    this.unauthenticated++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.unauthenticated--;
    };
    socket.once("close", release);
    return true;
  }
}

/**
 * A rate limit for sign-in attempts: per client address and in all, each a bucket of `burst`
 * attempts refilled at `perSecond`. A sign-in over it is answered 429 without looking at the token.
 */
export class AttemptLimit {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond = 2,
    private readonly burst = 10,
    private readonly allPerSecond = 20,
  ) {}

  /** Whether an attempt from `address` may be made now (and counts it). */
  take(address: string): boolean {
    const now = Date.now();
    const all = this.refill("", now, this.allPerSecond, this.allPerSecond * 2);
    const own = this.refill(address, now, this.perSecond, this.burst);
    if (all.tokens < 1 || own.tokens < 1) return false;
    all.tokens--;
    own.tokens--;
    return true;
  }

  private refill(key: string, now: number, rate: number, burst: number) {
    let b = this.buckets.get(key);
    if (!b) {
      // Many addresses over time: the table is cut back rather than grown without end.
      if (this.buckets.size > 10_000) this.buckets.clear();
      b = { tokens: burst, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    return b;
  }
}

/** Bytes all page streams may send in one turn of the event loop: the rest wait for the next turn. */
const TURN_BYTES = 64 * 1024;

/**
 * Bytes per second that all streams of one page server send together (output streams and
 * downloads), shared first come, first served, and at most TURN_BYTES in one turn of the event loop:
 * what a hundred pages following a flooding job cost the server stays bounded (a person reads far
 * less; what a stream falls behind by is dropped from the job's ring and said so), and requests are
 * answered between the turns, not after every stream has had its fill.
 */
export class ByteRate {
  private tokens: number;
  private at = Date.now();
  /** Bytes granted in this turn of the event loop. */
  private turn = 0;
  private readonly queue: { bytes: number; go: () => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private nextTurn: NodeJS.Immediate | undefined;

  constructor(
    private readonly perSecond = 16 * 1024 * 1024,
    private readonly burst = 2 * 1024 * 1024,
  ) {
    this.tokens = burst;
  }

  /** Resolves once `bytes` may be sent (at once while the rate and this turn allow). */
  take(bytes: number): Promise<void> | undefined {
    const size = Math.min(bytes, this.burst);
    this.refill();
    if (this.queue.length === 0 && this.tokens >= size && this.fitsTurn(size)) {
      this.grant(size);
      return undefined;
    }
    return new Promise((go) => {
      this.queue.push({ bytes: size, go });
      this.schedule();
    });
  }

  // Whether `bytes` may go in this turn: what is left of it, or a turn of its own (a send larger
  // than a turn, a list's snapshot, is not held back for ever).
  private fitsTurn(bytes: number): boolean {
    return this.turn === 0 || this.turn + bytes <= TURN_BYTES;
  }

  private grant(bytes: number): void {
    this.tokens -= bytes;
    this.turn += bytes;
    // The turn's count starts again at the next turn.
    this.nextTurn ??= setImmediate(() => {
      this.nextTurn = undefined;
      this.turn = 0;
      this.release();
    });
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.perSecond);
    this.at = now;
  }

  // Lets waiting sends go, first come first served, as far as the rate and this turn allow.
  private release(): void {
    this.refill();
    for (let next = this.queue[0]; next; next = this.queue[0]) {
      if (this.tokens < next.bytes || !this.fitsTurn(next.bytes)) break;
      this.queue.shift();
      this.grant(next.bytes);
      next.go();
    }
    this.schedule();
  }

  // Waits for the next turn (set by grant) or, short of tokens, for them.
  private schedule(): void {
    const first = this.queue[0];
    if (!first || this.timer || this.nextTurn) return;
    if (this.tokens >= first.bytes) {
      this.nextTurn = setImmediate(() => {
        this.nextTurn = undefined;
        this.turn = 0;
        this.release();
      });
      return;
    }
    const wait = Math.max(1, Math.ceil(((first.bytes - this.tokens) / this.perSecond) * 1000));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.release();
    }, wait);
  }
}
