/**
 * The server side of one SPDY/3.1 connection: client-opened streams as Duplex objects, pings,
 * resets and GOAWAY, with bounded memory and back-pressure both ways.
 *
 * Back-pressure: a stream whose reader is slow pauses the whole socket (as spdystream's own
 * unbuffered channels do), so a client's data waits in TCP, not here; our writes wait for the
 * socket to drain. Flow-control windows are not enforced on what we send (Go's clients never
 * grant window), and what we receive is credited back with WINDOW_UPDATE so a client that does
 * honour windows never stalls.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import {
  DEFAULT_FRAME_LIMITS,
  FLAG_FIN,
  FLAG_UNIDIRECTIONAL,
  FrameReader,
  GoAwayStatus,
  HeaderEncoder,
  RstStatus,
  SpdyProtocolError,
  encodeData,
  encodeGoAway,
  encodePing,
  encodeRst,
  encodeWindowUpdate,
  type Frame,
  type FrameLimits,
  type Headers,
} from './spdy-frames.js';

export interface SessionLimits extends FrameLimits {
  /** Streams open at once; more are refused (RST_STREAM REFUSED_STREAM). */
  maxStreams: number;
  /** Bytes of our control frames (ping replies, resets) a client that does not read may leave queued. */
  maxControlBacklog: number;
  /** The session ends after this long without a frame either way. */
  idleTimeoutMs: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  ...DEFAULT_FRAME_LIMITS,
  maxStreams: 64,
  maxControlBacklog: 1 << 20,
  idleTimeoutMs: 4 * 60 * 60_000,
};

/** Largest DATA frame we send. */
const MAX_OUT_FRAME = 32 << 10;
/** Received bytes credited back in one WINDOW_UPDATE. */
const WINDOW_CREDIT = 32 << 10;
/** Readable buffer of one stream before the socket pauses. */
const STREAM_HIGH_WATER = 64 << 10;

export class SpdyStream extends Duplex {
  /** FIN (or RST) received: the client sends no more. */
  remoteClosed = false;
  /** FIN sent (or the client made the stream unidirectional). */
  localClosed = false;
  replied = false;
  /** Set when the stream ended by RST either way. */
  reset = false;
  uncredited = 0;

  constructor(
    private readonly session: SpdySession,
    readonly id: number,
    readonly headers: Headers,
  ) {
    super({ allowHalfOpen: true, readableHighWaterMark: STREAM_HIGH_WATER, writableHighWaterMark: MAX_OUT_FRAME });
    // Whoever uses the stream learns of its end by 'close'; an error event must never go unheard.
    this.on('error', () => {});
  }

  header(name: string): string | undefined {
    return this.headers.get(name)?.[0];
  }

  /** Accepts the stream (SYN_REPLY). */
  accept(): void {
    if (this.replied || this.reset) return;
    this.replied = true;
    this.session.sendReply(this);
  }

  /** Refuses the stream (RST_STREAM REFUSED_STREAM). */
  refuse(): void {
    this.replied = true;
    this.resetWith(RstStatus.RefusedStream);
  }

  resetWith(status: number): void {
    if (this.reset) return;
    this.reset = true;
    this.session.sendRst(this.id, status);
    this.destroy();
  }

  override _read(): void {
    this.session.unblock(this);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.localClosed || this.reset || !this.session.alive) return cb(); // the client is gone: drop
    let ok = true;
    for (let off = 0; off < chunk.length; off += MAX_OUT_FRAME) {
      ok = this.session.send(encodeData(this.id, chunk.subarray(off, off + MAX_OUT_FRAME), false));
    }
    if (ok) cb();
    else this.session.afterDrain(() => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.localClosed && !this.reset && this.session.alive) {
      this.localClosed = true;
      this.session.send(encodeData(this.id, Buffer.alloc(0), true));
    }
    this.localClosed = true;
    this.session.maybeForget(this);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.reset && !(this.localClosed && this.remoteClosed)) {
      this.reset = true;
      this.session.sendRst(this.id, RstStatus.Cancel);
    }
    this.session.forget(this);
    cb(err);
  }
}

/**
 * Emits 'stream' (SpdyStream) for each stream the client opens; the listener must accept() or
 * refuse() it at once. Emits 'close' once, when the connection is gone.
 */
export class SpdySession extends EventEmitter {
  alive = true;
  private readonly reader: FrameReader;
  private readonly encoder = new HeaderEncoder();
  private readonly streams = new Map<number, SpdyStream>();
  private readonly blocked = new Set<SpdyStream>();
  private drainWaiters: Array<() => void> = [];
  private lastClientStream = 0;
  private goingAway = false;
  private ending = false;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly limits: SessionLimits = DEFAULT_SESSION_LIMITS,
    head?: Buffer,
  ) {
    super();
    this.reader = new FrameReader(limits);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.flushDrainWaiters());
    socket.on('end', () => this.destroy());
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.destroy());
    this.touch();
    if (head?.length) queueMicrotask(() => this.onData(head));
  }

  get openStreams(): number {
    return this.streams.size;
  }

  // ---- input ------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (!this.alive) return;
    this.touch();
    let frames: Frame[];
    try {
      frames = this.reader.push(chunk);
    } catch (err) {
      this.fail(err);
      return;
    }
    for (const frame of frames) {
      if (!this.alive) return;
      try {
        this.handle(frame);
      } catch (err) {
        this.fail(err);
        return;
      }
    }
  }

  private handle(f: Frame): void {
    switch (f.type) {
      case 'syn_stream':
        return this.onSynStream(f.streamId, f.flags, f.headers);
      case 'data':
        return this.onStreamData(f.streamId, f.data, (f.flags & FLAG_FIN) !== 0);
      case 'rst_stream': {
        const s = this.streams.get(f.streamId);
        if (!s) return;
        s.reset = true;
        s.remoteClosed = true;
        s.destroy();
        return;
      }
      case 'ping':
        // Odd ids are the client's own pings: echo them. Even ids would answer ours (we send none).
        if (f.id % 2 === 1) this.sendControl(encodePing(f.id));
        return;
      case 'goaway':
        this.goingAway = true;
        if (this.streams.size === 0) this.end();
        return;
      case 'headers': {
        const s = this.streams.get(f.streamId);
        if (s && f.flags & FLAG_FIN) this.remoteFin(s);
        return;
      }
      default:
        // SETTINGS, WINDOW_UPDATE (we do not enforce the client's window), SYN_REPLY (we open
        // no streams) and unknown control frames carry nothing for us.
        return;
    }
  }

  private onSynStream(id: number, flags: number, headers: Headers): void {
    if (id % 2 === 0 || id <= this.lastClientStream) {
      this.sendRst(id, RstStatus.ProtocolError);
      return;
    }
    this.lastClientStream = id;
    if (this.goingAway) {
      this.sendRst(id, RstStatus.RefusedStream);
      return;
    }
    if (this.streams.size >= this.limits.maxStreams) {
      this.sendRst(id, RstStatus.RefusedStream);
      return;
    }
    const s = new SpdyStream(this, id, headers);
    this.streams.set(id, s);
    if (flags & FLAG_UNIDIRECTIONAL) s.localClosed = true;
    if (flags & FLAG_FIN) this.remoteFin(s);
    this.emit('stream', s);
    if (!s.replied) s.refuse();
  }

  private onStreamData(id: number, data: Buffer, fin: boolean): void {
    const s = this.streams.get(id);
    if (!s) {
      // A stream we reset or never had: spdystream drops such frames too.
      return;
    }
    if (s.remoteClosed) {
      s.resetWith(RstStatus.StreamAlreadyClosed);
      return;
    }
    if (data.length) {
      s.uncredited += data.length;
      if (s.uncredited >= WINDOW_CREDIT) {
        this.sendControl(encodeWindowUpdate(id, s.uncredited));
        this.sendControl(encodeWindowUpdate(0, s.uncredited));
        s.uncredited = 0;
      }
      if (!s.push(data)) this.block(s);
    }
    if (fin) this.remoteFin(s);
  }

  private remoteFin(s: SpdyStream): void {
    if (s.remoteClosed) return;
    s.remoteClosed = true;
    s.push(null);
    this.maybeForget(s);
  }

  private block(s: SpdyStream): void {
    this.blocked.add(s);
    this.socket.pause();
  }

  /** A stream's reader wants more: resume the socket once no stream is over its buffer. */
  unblock(s: SpdyStream): void {
    if (!this.blocked.delete(s)) return;
    if (this.blocked.size === 0 && this.alive) this.socket.resume();
  }

  // ---- output -----------------------------------------------------------------------------

  /** Writes a frame; false when the socket's buffer is full (wait with afterDrain). */
  send(frame: Buffer): boolean {
    if (!this.alive || !this.socket.writable) return true;
    this.touch();
    return this.socket.write(frame);
  }

  /** Control frames the client provokes: a client that sends them but never reads is cut off. */
  private sendControl(frame: Buffer): void {
    if (!this.alive || !this.socket.writable) return;
    if (this.socket.writableLength > this.limits.maxControlBacklog) {
      this.destroy();
      return;
    }
    this.send(frame);
  }

  afterDrain(cb: () => void): void {
    if (!this.alive) return cb();
    this.drainWaiters.push(cb);
  }

  private flushDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const cb of waiters) cb();
  }

  sendReply(s: SpdyStream): void {
    this.sendControl(this.encoder.synReply(s.id, [], false));
  }

  sendRst(id: number, status: number): void {
    this.sendControl(encodeRst(id, status));
  }

  // ---- lifetime ---------------------------------------------------------------------------

  maybeForget(s: SpdyStream): void {
    if (s.localClosed && s.remoteClosed) this.forget(s);
  }

  forget(s: SpdyStream): void {
    if (this.streams.get(s.id) !== s) return;
    this.streams.delete(s.id);
    this.unblock(s);
    if (this.goingAway && this.streams.size === 0) this.end();
  }

  private touch(): void {
    if (this.idleTimer) this.idleTimer.refresh();
    else {
      this.idleTimer = setTimeout(() => this.end(), this.limits.idleTimeoutMs);
      this.idleTimer.unref();
    }
  }

  private fail(err: unknown): void {
    const status = err instanceof SpdyProtocolError ? GoAwayStatus.ProtocolError : GoAwayStatus.InternalError;
    if (this.alive && this.socket.writable) this.socket.write(encodeGoAway(this.lastClientStream, status));
    this.emit('protocol-error', err);
    this.destroy();
  }

  /** Says GOAWAY and closes once what was written is flushed; open streams are cut. */
  end(): void {
    if (!this.alive || this.ending) return;
    this.ending = true;
    if (this.socket.writable) this.socket.end(encodeGoAway(this.lastClientStream, GoAwayStatus.Ok));
    // A client that never reads must not keep the socket: give the flush a moment, then cut.
    setTimeout(() => this.destroy(), 5_000).unref();
    this.closeStreams();
  }

  destroy(): void {
    if (!this.alive) {
      this.socket.destroy();
      return;
    }
    this.alive = false;
    clearTimeout(this.idleTimer);
    this.socket.destroy();
    this.closeStreams();
    this.flushDrainWaiters();
    this.emit('close');
  }

  private closeStreams(): void {
    for (const s of [...this.streams.values()]) {
      s.reset = true;
      s.destroy();
    }
    this.streams.clear();
    this.blocked.clear();
  }
}
