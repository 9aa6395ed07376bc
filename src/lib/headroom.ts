/**
 * Buffers with spare bytes in front of their contents, so that whoever writes one out can put a
 * header there and send both as one buffer, without a copy (the stdcopy frame of attach output).
 * Only buffers made here have it (the bytes before any other buffer may be another's), and only
 * once: the first taker owns the room.
 */
export const HEADROOM = 8;
const withRoom = new WeakSet<Buffer>();

/** An uninitialised buffer of `size` bytes with HEADROOM bytes of its own in front. */
export function allocWithHeadroom(size: number): Buffer {
  const b = Buffer.allocUnsafe(HEADROOM + size).subarray(HEADROOM);
  withRoom.add(b);
  return b;
}

/** The first `size` bytes after HEADROOM in `backing` (at least HEADROOM + size long), with that room in front. */
export function headroomIn(backing: Buffer, size: number): Buffer {
  const b = backing.subarray(HEADROOM, HEADROOM + size);
  withRoom.add(b);
  return b;
}

/** `chunk` grown by `n` bytes in front (for the caller to fill), or undefined when it has no such room. */
export function takeHeadroom(chunk: Buffer, n: number): Buffer | undefined {
  if (n > HEADROOM || !withRoom.delete(chunk)) return undefined;
  return Buffer.from(chunk.buffer, chunk.byteOffset - n, chunk.length + n);
}
