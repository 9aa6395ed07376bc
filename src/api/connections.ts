/**
 * Bounds the API's connections so that held connections can never take every file descriptor
 * of the daemon: each listener admits at most `cap` connections, and when it is full the
 * connection that has been idle longest (between requests, or never having sent one) is closed
 * to make room; with none idle the new connection is refused. A connection that sends no
 * complete request head within `firstRequestTimeoutMs` (slow or silent clients, unfinished TLS
 * handshakes) or stays idle for `idleTimeoutMs` between requests is closed.
 */
import { openSync, readSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

let limitsFd: number | undefined;
let lastLimit = 1024;

/**
 * The soft RLIMIT_NOFILE of this process (Node raises it to the hard limit at start). The limits
 * file stays open and is re-read in place: when the limit has been exhausted, opening a file is
 * exactly what fails.
 */
export function openFileLimit(): number {
  try {
    limitsFd ??= openSync('/proc/self/limits', 'r');
    const buf = Buffer.alloc(4096);
    const n = readSync(limitsFd, buf, 0, buf.length, 0);
    const line = buf
      .subarray(0, n)
      .toString('utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    const value = soft === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(soft);
    if (Number.isInteger(value) && value > 0) lastLimit = value;
  } catch {
    // no /proc (or no descriptor left to open it): keep the last value
  }
  return lastLimit;
}

/** openFileLimit(), read again at most once a second (prlimit can change it while running). */
export function cachedOpenFileLimit(read: () => number = openFileLimit, ttlMs = 1000): () => number {
  let value = read();
  let at = Date.now();
  return () => {
    if (Date.now() - at >= ttlMs) {
      value = read();
      at = Date.now();
    }
    return value;
  };
}

/**
 * Connections per listener: half the descriptors (less a fixed reserve) go to client
 * connections, since a busy connection (attach, logs -f, exec) often holds a second descriptor
 * inside the daemon, and the rest are left for images, layers, processes and pipes.
 */
export function connectionCap(fdLimit: number, listeners: number): number {
  const total = Math.min(16_384, Math.max(32, Math.floor((fdLimit - 128) / 2)));
  return Math.max(16, Math.floor(total / Math.max(1, listeners)));
}

interface Conn {
  raw: Socket;
  /** The TLS socket over raw, if any. */
  wrapped?: Duplex;
  busy: number;
  hijacked: boolean;
  timer: NodeJS.Timeout | undefined;
  servedOne: boolean;
}

export interface ConnectionLimits {
  /** A number, or a function read on each new connection (the fd limit can change at run time). */
  cap: number | (() => number);
  firstRequestTimeoutMs: number;
  idleTimeoutMs: number;
}

export class ConnectionPool {
  private readonly conns = new Set<Conn>();
  /** Idle connections, oldest first (a Set keeps insertion order). */
  private readonly idle = new Set<Conn>();
  private readonly bySocket = new WeakMap<Duplex, Conn>();
  private lastWarning = 0;

  constructor(
    private readonly name: string,
    private readonly limits: ConnectionLimits,
    private readonly log: (msg: string) => void,
  ) {}

  get size(): number {
    return this.conns.size;
  }

  /** Takes a new connection; false (and the socket destroyed) when it cannot be served. */
  admit(raw: Socket): boolean {
    const cap = typeof this.limits.cap === 'function' ? this.limits.cap() : this.limits.cap;
    while (this.conns.size >= cap) {
      const oldest = this.idle.values().next().value as Conn | undefined;
      this.warn(
        oldest
          ? `${this.name}: ${cap} connections open (the limit); closing the longest idle one`
          : `${this.name}: ${cap} connections open (the limit), all busy; refusing a new connection`,
      );
      if (!oldest) {
        raw.destroy();
        return false;
      }
      this.drop(oldest);
    }
    const conn: Conn = { raw, busy: 0, hijacked: false, timer: undefined, servedOne: false };
    this.conns.add(conn);
    this.bySocket.set(raw, conn);
    raw.once('close', () => this.forget(conn));
    this.markIdle(conn);
    return true;
  }

  /** The socket the HTTP server sees (a TLS socket over `raw`) belongs to raw's connection. */
  alias(raw: Socket, socket: Duplex): void {
    const conn = this.bySocket.get(raw);
    if (!conn) return;
    conn.wrapped = socket;
    this.bySocket.set(socket, conn);
  }

  requestStarted(socket: Duplex): void {
    const conn = this.bySocket.get(socket);
    if (!conn) return;
    conn.busy++;
    this.idle.delete(conn);
    this.clearTimer(conn);
  }

  requestEnded(socket: Duplex): void {
    const conn = this.bySocket.get(socket);
    if (!conn || conn.busy === 0) return;
    conn.busy--;
    conn.servedOne = true;
    if (conn.busy === 0 && !conn.hijacked && !conn.raw.destroyed) this.markIdle(conn);
  }

  /** An upgraded/hijacked connection stays busy until it closes. */
  hijacked(socket: Duplex): void {
    const conn = this.bySocket.get(socket);
    if (!conn) return;
    conn.hijacked = true;
    this.idle.delete(conn);
    this.clearTimer(conn);
  }

  /**
   * Closes idle connections, longest idle first, until at most `cap` remain. Run periodically:
   * when the fd limit drops below what is open, accept() fails (libuv closes such connections
   * unseen), so a new connection cannot be the trigger.
   */
  trim(cap: number): void {
    for (const conn of this.idle) {
      if (this.conns.size <= cap) return;
      this.drop(conn);
    }
  }

  /** Closes every connection (shutdown). */
  destroyAll(): void {
    for (const conn of [...this.conns]) this.drop(conn);
  }

  private markIdle(conn: Conn): void {
    this.idle.delete(conn);
    this.idle.add(conn);
    this.clearTimer(conn);
    const ms = conn.servedOne ? this.limits.idleTimeoutMs : this.limits.firstRequestTimeoutMs;
    conn.timer = setTimeout(() => this.drop(conn), ms);
    conn.timer.unref();
  }

  private clearTimer(conn: Conn): void {
    if (conn.timer) clearTimeout(conn.timer);
    conn.timer = undefined;
  }

  private drop(conn: Conn): void {
    this.forget(conn);
    conn.wrapped?.destroy();
    conn.raw.destroy();
  }

  private forget(conn: Conn): void {
    this.clearTimer(conn);
    this.idle.delete(conn);
    this.conns.delete(conn);
  }

  private warn(msg: string): void {
    const now = Date.now();
    if (now - this.lastWarning < 10_000) return;
    this.lastWarning = now;
    this.log(msg);
  }
}
