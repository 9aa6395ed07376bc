/**
 * SPDY/3.1 framing as kubelet's clients (moby/spdystream under client-go) speak it: frame
 * encoding and an incremental, bounded frame reader with the connection's header decompressor.
 *
 * Why hand-written: the one npm implementation (spdy-transport) is unmaintained since 2018 and
 * enforces SPDY's send window, while spdystream never sends WINDOW_UPDATE, so a compliant sender
 * stalls after 64 KiB of output. The subset kubelet uses is small (SYN_STREAM/SYN_REPLY/DATA/
 * RST_STREAM/PING/GOAWAY/WINDOW_UPDATE/SETTINGS/HEADERS); zlib with SPDY/3's dictionary comes from
 * pako because Node's zlib offers no synchronous streaming inflate across frames.
 */
import { Deflate, Inflate, Z_SYNC_FLUSH } from 'pako';
import { SPDY3_DICTIONARY } from './spdy-dictionary.js';

export const SPDY_VERSION = 3;

export const FrameType = {
  SynStream: 1,
  SynReply: 2,
  RstStream: 3,
  Settings: 4,
  Ping: 6,
  GoAway: 7,
  Headers: 8,
  WindowUpdate: 9,
} as const;

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;

export const RstStatus = {
  ProtocolError: 1,
  InvalidStream: 2,
  RefusedStream: 3,
  Cancel: 5,
  InternalError: 6,
  StreamInUse: 8,
  StreamAlreadyClosed: 9,
  FrameTooLarge: 11,
} as const;

export const GoAwayStatus = { Ok: 0, ProtocolError: 1, InternalError: 2 } as const;

/** Bounds on what a peer may make us hold. Frames past them end the connection. */
export interface FrameLimits {
  /** Largest DATA payload accepted (SPDY allows 16 MiB; Go's clients write 32 KiB). */
  maxDataFrame: number;
  /** Largest control frame (its compressed header block included). */
  maxControlFrame: number;
  /** Largest header block once decompressed, and most header entries in one. */
  maxHeaderBytes: number;
  maxHeaderEntries: number;
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = {
  maxDataFrame: 1 << 20,
  maxControlFrame: 64 << 10,
  maxHeaderBytes: 256 << 10,
  maxHeaderEntries: 128,
};

export type Headers = Map<string, string[]>;

export type Frame =
  | { type: 'data'; streamId: number; flags: number; data: Buffer }
  | { type: 'syn_stream'; streamId: number; associatedTo: number; priority: number; flags: number; headers: Headers }
  | { type: 'syn_reply' | 'headers'; streamId: number; flags: number; headers: Headers }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'settings'; flags: number }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'window_update'; streamId: number; delta: number }
  | { type: 'unknown'; frameType: number };

/** A violation that ends the session (GOAWAY PROTOCOL_ERROR). */
export class SpdyProtocolError extends Error {}

// ---- encoding ---------------------------------------------------------------------------

function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE((0x8000 | SPDY_VERSION) * 0x10000 + type);
  head.writeUInt32BE(flags * 0x1000000 + payload.length, 4);
  return Buffer.concat([head, payload]);
}

export function encodeData(streamId: number, data: Buffer, fin: boolean): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(streamId & 0x7fffffff);
  head.writeUInt32BE((fin ? FLAG_FIN : 0) * 0x1000000 + data.length, 4);
  return data.length ? Buffer.concat([head, data]) : head;
}

export function encodeRst(streamId: number, status: number): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(streamId & 0x7fffffff);
  p.writeUInt32BE(status, 4);
  return controlFrame(FrameType.RstStream, 0, p);
}

export function encodePing(id: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(id >>> 0);
  return controlFrame(FrameType.Ping, 0, p);
}

export function encodeGoAway(lastGoodStreamId: number, status: number): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(lastGoodStreamId & 0x7fffffff);
  p.writeUInt32BE(status, 4);
  return controlFrame(FrameType.GoAway, 0, p);
}

export function encodeWindowUpdate(streamId: number, delta: number): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(streamId & 0x7fffffff);
  p.writeUInt32BE(delta & 0x7fffffff, 4);
  return controlFrame(FrameType.WindowUpdate, 0, p);
}

/** The connection's outgoing header compressor: one zlib stream for all frames, as SPDY/3 wants. */
export class HeaderEncoder {
  private readonly deflate = new Deflate({ dictionary: SPDY3_DICTIONARY });
  private out: Uint8Array[] = [];

  constructor() {
    this.deflate.onData = (chunk) => this.out.push(chunk);
  }

  private compress(headers: Array<[string, string]>): Buffer {
    const parts: Buffer[] = [u32(headers.length)];
    for (const [name, value] of headers) {
      const n = Buffer.from(name.toLowerCase(), 'utf8');
      const v = Buffer.from(value, 'utf8');
      parts.push(u32(n.length), n, u32(v.length), v);
    }
    this.out = [];
    this.deflate.push(Buffer.concat(parts), Z_SYNC_FLUSH);
    return Buffer.concat(this.out);
  }

  synReply(streamId: number, headers: Array<[string, string]>, fin: boolean): Buffer {
    const id = Buffer.alloc(4);
    id.writeUInt32BE(streamId & 0x7fffffff);
    return controlFrame(FrameType.SynReply, fin ? FLAG_FIN : 0, Buffer.concat([id, this.compress(headers)]));
  }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

// ---- decoding ---------------------------------------------------------------------------

/** The connection's incoming header decompressor, bounded per header block. */
class HeaderDecoder {
  private readonly inflate = new Inflate({ dictionary: SPDY3_DICTIONARY, chunkSize: 16 << 10 });
  private out: Uint8Array[] = [];
  private outBytes = 0;

  constructor(private readonly limits: FrameLimits) {
    this.inflate.onData = (chunk) => {
      this.outBytes += chunk.length;
      // Stop a decompression bomb here: the session ends, so the zlib state need not survive.
      if (this.outBytes > this.limits.maxHeaderBytes) throw new SpdyProtocolError('header block too large');
      this.out.push(chunk);
    };
  }

  decode(block: Buffer): Headers {
    this.out = [];
    this.outBytes = 0;
    if (block.length === 0) throw new SpdyProtocolError('empty header block');
    this.inflate.push(block, Z_SYNC_FLUSH);
    if (this.inflate.err) throw new SpdyProtocolError(`header decompression failed: ${this.inflate.msg || this.inflate.err}`);
    return this.parse(Buffer.concat(this.out));
  }

  private parse(buf: Buffer): Headers {
    let off = 0;
    const take = (n: number): Buffer => {
      if (off + n > buf.length) throw new SpdyProtocolError('truncated header block');
      const b = buf.subarray(off, off + n);
      off += n;
      return b;
    };
    const count = take(4).readUInt32BE();
    if (count > this.limits.maxHeaderEntries) throw new SpdyProtocolError('too many headers');
    const headers: Headers = new Map();
    for (let i = 0; i < count; i++) {
      const name = take(take(4).readUInt32BE()).toString('utf8');
      const value = take(take(4).readUInt32BE()).toString('utf8');
      if (!name || name !== name.toLowerCase()) throw new SpdyProtocolError('invalid header name');
      if (headers.has(name)) throw new SpdyProtocolError('duplicate header');
      headers.set(name, value.split('\0'));
    }
    if (off !== buf.length) throw new SpdyProtocolError('trailing bytes in header block');
    return headers;
  }
}

/**
 * Turns the bytes of a connection into frames. `push` returns the complete frames in the bytes
 * so far; it never holds more than one frame (bounded by the limits) plus its 8-byte header.
 */
export class FrameReader {
  /** Bytes of an incomplete frame, kept as they came until the frame is whole (a client that
   * drips a frame byte by byte costs no copying). */
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes needed before parsing can go on: a frame header, or the frame it announced. */
  private needed = 8;
  private pending: Buffer = Buffer.alloc(0);
  private readonly headers: HeaderDecoder;

  constructor(private readonly limits: FrameLimits = DEFAULT_FRAME_LIMITS) {
    this.headers = new HeaderDecoder(limits);
  }

  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered < this.needed) return [];
    this.pending = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks);
    this.chunks = [];
    this.buffered = 0;
    const frames: Frame[] = [];
    while (this.pending.length >= 8) {
      const first = this.pending.readUInt32BE(0);
      const second = this.pending.readUInt32BE(4);
      const flags = second >>> 24;
      const length = second & 0xffffff;
      const control = (first & 0x80000000) !== 0;
      if (control && length > this.limits.maxControlFrame) throw new SpdyProtocolError(`control frame of ${length} bytes is too large`);
      if (!control && length > this.limits.maxDataFrame) throw new SpdyProtocolError(`data frame of ${length} bytes is too large`);
      if (this.pending.length < 8 + length) break;
      const payload = this.pending.subarray(8, 8 + length);
      this.pending = this.pending.subarray(8 + length);
      if (!control) {
        const streamId = first & 0x7fffffff;
        if (streamId === 0) throw new SpdyProtocolError('data frame on stream 0');
        // Copy: the payload outlives the socket chunk it was cut from.
        frames.push({ type: 'data', streamId, flags, data: Buffer.from(payload) });
        continue;
      }
      const version = (first >>> 16) & 0x7fff;
      if (version !== SPDY_VERSION) throw new SpdyProtocolError(`unsupported SPDY version ${version}`);
      frames.push(this.control(first & 0xffff, flags, payload));
    }
    if (this.pending.length) {
      this.chunks = [this.pending];
      this.buffered = this.pending.length;
      this.needed = this.pending.length >= 8 ? 8 + (this.pending.readUInt32BE(4) & 0xffffff) : 8;
    } else this.needed = 8;
    this.pending = Buffer.alloc(0);
    return frames;
  }

  private control(type: number, flags: number, p: Buffer): Frame {
    const need = (n: number) => {
      if (p.length < n) throw new SpdyProtocolError(`control frame type ${type} too short`);
    };
    const streamIdAt = (off: number) => {
      const id = p.readUInt32BE(off) & 0x7fffffff;
      if (id === 0) throw new SpdyProtocolError(`frame type ${type} on stream 0`);
      return id;
    };
    switch (type) {
      case FrameType.SynStream: {
        need(10);
        const streamId = streamIdAt(0);
        return {
          type: 'syn_stream',
          streamId,
          associatedTo: p.readUInt32BE(4) & 0x7fffffff,
          priority: p[8]! >>> 5,
          flags,
          headers: this.headers.decode(p.subarray(10)),
        };
      }
      case FrameType.SynReply:
      case FrameType.Headers: {
        need(4);
        const streamId = streamIdAt(0);
        return { type: type === FrameType.SynReply ? 'syn_reply' : 'headers', streamId, flags, headers: this.headers.decode(p.subarray(4)) };
      }
      case FrameType.RstStream:
        if (p.length !== 8) throw new SpdyProtocolError('bad RST_STREAM length');
        return { type: 'rst_stream', streamId: streamIdAt(0), status: p.readUInt32BE(4) };
      case FrameType.Settings: {
        need(4);
        const n = p.readUInt32BE(0);
        if (p.length !== 4 + n * 8) throw new SpdyProtocolError('bad SETTINGS length');
        return { type: 'settings', flags };
      }
      case FrameType.Ping:
        if (p.length !== 4) throw new SpdyProtocolError('bad PING length');
        return { type: 'ping', id: p.readUInt32BE(0) };
      case FrameType.GoAway:
        if (p.length !== 8) throw new SpdyProtocolError('bad GOAWAY length');
        return { type: 'goaway', lastGoodStreamId: p.readUInt32BE(0) & 0x7fffffff, status: p.readUInt32BE(4) };
      case FrameType.WindowUpdate:
        if (p.length !== 8) throw new SpdyProtocolError('bad WINDOW_UPDATE length');
        return { type: 'window_update', streamId: p.readUInt32BE(0) & 0x7fffffff, delta: p.readUInt32BE(4) & 0x7fffffff };
      default:
        // SPDY/3: unknown control frames are ignored.
        return { type: 'unknown', frameType: type };
    }
  }
}
