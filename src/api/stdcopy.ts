/**
 * Docker's stdcopy framing for multiplexed streams: each frame is an 8-byte header
 * (stream id, three zero bytes, big-endian uint32 payload length) followed by the payload.
 */
import { Writable } from 'node:stream';
import { takeHeadroom } from '../lib/headroom.js';

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
/** Daemon-side errors in a multiplexed stream. */
export const SYSTEMERR = 3;
export type StdStreamId = typeof STDIN | typeof STDOUT | typeof STDERR | typeof SYSTEMERR;

export const STDCOPY_HEADER_LEN = 8;

export function frameHeader(stream: StdStreamId, length: number): Buffer {
  const h = Buffer.alloc(STDCOPY_HEADER_LEN);
  h[0] = stream;
  h.writeUInt32BE(length, 4);
  return h;
}

/**
 * One complete frame (header + payload) in one buffer: a stream sends one per chunk. The header
 * goes in front of the payload in place when the payload was made with room for it (attach
 * output, lib/headroom.ts), else header and payload are copied into a new buffer.
 */
export function frame(stream: StdStreamId, data: Buffer): Buffer {
  const inPlace = takeHeadroom(data, STDCOPY_HEADER_LEN);
  const out = inPlace ?? Buffer.allocUnsafe(STDCOPY_HEADER_LEN + data.length);
  out.writeUInt32BE(stream << 24, 0);
  out.writeUInt32BE(data.length, 4);
  if (!inPlace) data.copy(out, STDCOPY_HEADER_LEN);
  return out;
}

/**
 * A Writable that forwards into `dest`, framing each chunk for `stream` (or passing it raw when
 * `stream` is null, for TTY sessions). Ending or destroying it never ends `dest`: several
 * writers share one connection.
 *
 * A write calls back once `dest` is done with the chunk (its own write called back: the
 * connection has the bytes, or `dest` is gone), not merely when it has room: the frame may
 * be the chunk's own memory, which the caller reuses after the callback (attach output).
 */
export function streamWriter(dest: Writable, stream: StdStreamId | null): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (dest.destroyed || dest.writableEnded || chunk.length === 0) {
        cb();
        return;
      }
      let called = false;
      const done = () => {
        if (called) return;
        called = true;
        dest.off('close', done);
        cb();
      };
      dest.on('close', done);
      dest.write(stream === null ? chunk : frame(stream, chunk), done);
    },
  });
}
