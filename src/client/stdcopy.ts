/**
 * Demultiplexes Docker's stdcopy framing: each frame is an 8-byte header
 * (stream byte, 3 zero bytes, big-endian uint32 length) followed by the payload.
 * Stream 1 = stdout, 2 = stderr, 0 = stdin (treated as stdout), 3 = an error from the daemon.
 */
import { Writable, type Readable } from 'node:stream';

const HEADER_LEN = 8;

export class StdcopyError extends Error {}

/** A Writable that splits framed input onto two destinations. */
export class StdcopyDemuxer extends Writable {
  private pending: Buffer = Buffer.alloc(0);
  private readonly out: NodeJS.WritableStream | null;
  private readonly err: NodeJS.WritableStream | null;

  constructor(stdout: NodeJS.WritableStream | null, stderr: NodeJS.WritableStream | null) {
    super();
    this.out = stdout;
    this.err = stderr;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const waits: Array<Promise<void>> = [];
    try {
      while (this.pending.length >= HEADER_LEN) {
        const stream = this.pending[0];
        const size = this.pending.readUInt32BE(4);
        if (this.pending.length < HEADER_LEN + size) break;
        const payload = this.pending.subarray(HEADER_LEN, HEADER_LEN + size);
        this.pending = this.pending.subarray(HEADER_LEN + size);
        const dest = this.destination(stream!, payload);
        if (dest && payload.length > 0 && !dest.write(payload)) {
          waits.push(new Promise((resolve) => dest.once('drain', () => resolve())));
        }
      }
    } catch (err) {
      cb(err as Error);
      return;
    }
    if (waits.length === 0) cb();
    else Promise.all(waits).then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.pending.length > 0) cb(new StdcopyError('unexpected EOF in multiplexed stream'));
    else cb();
  }

  private destination(stream: number, payload: Buffer): NodeJS.WritableStream | null {
    switch (stream) {
      case 0:
      case 1:
        return this.out;
      case 2:
        return this.err;
      case 3:
        throw new StdcopyError(`error from daemon in stream: ${payload.toString()}`);
      default:
        throw new StdcopyError(`Unrecognized input header: ${stream}`);
    }
  }
}

/** Pipes `src` through a demuxer; resolves when `src` ends and all frames are written. */
export function demuxStream(
  src: Readable,
  stdout: NodeJS.WritableStream | null,
  stderr: NodeJS.WritableStream | null,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const demux = new StdcopyDemuxer(stdout, stderr);
    demux.on('finish', () => resolve());
    demux.on('error', reject);
    src.on('error', reject);
    src.pipe(demux);
  });
}

/** Splits a complete framed buffer (handy for tests and small bodies). */
export function demuxBuffer(buf: Buffer): { stdout: Buffer; stderr: Buffer } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let off = 0;
  while (off + HEADER_LEN <= buf.length) {
    const stream = buf[off];
    const size = buf.readUInt32BE(off + 4);
    const payload = buf.subarray(off + HEADER_LEN, off + HEADER_LEN + size);
    if (payload.length < size) throw new StdcopyError('unexpected EOF in multiplexed stream');
    if (stream === 2) err.push(payload);
    else if (stream === 0 || stream === 1) out.push(payload);
    else if (stream === 3) throw new StdcopyError(`error from daemon in stream: ${payload.toString()}`);
    else throw new StdcopyError(`Unrecognized input header: ${stream}`);
    off += HEADER_LEN + size;
  }
  if (off !== buf.length) throw new StdcopyError('unexpected EOF in multiplexed stream');
  return { stdout: Buffer.concat(out), stderr: Buffer.concat(err) };
}
