/**
 * A streaming tar writer (ustar headers, PAX records for what ustar cannot hold: long names and
 * link targets, large ids and sizes, binary xattrs). Unlike tar-stream's packer it writes mode 0
 * as 0 and xattr values as raw bytes, which a filesystem export needs, and it sets the file
 * type bits in the mode (040755, 0100644) as Docker's archive package does. Reading side is a
 * Readable with backpressure: add() resolves once the consumer has taken the bytes.
 */
import { Readable } from 'node:stream';

export type TarWriteType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'directory' | 'fifo';

export interface TarWriteHeader {
  name: string;
  type: TarWriteType;
  mode: number;
  uid: number;
  gid: number;
  /** Payload size (files only). */
  size?: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  uname?: string;
  gname?: string;
  xattrs?: Map<string, Buffer>;
}

const BLOCK = 512;
const TYPEFLAG: Record<TarWriteType, string> = { file: '0', link: '1', symlink: '2', char: '3', block: '4', directory: '5', fifo: '6' };
/** Go's c_IS* file type bits, which Docker's archive package puts in every header's mode. */
const TYPE_BITS: Record<TarWriteType, number> = {
  file: 0o100000,
  link: 0o100000,
  symlink: 0o120000,
  char: 0o020000,
  block: 0o060000,
  directory: 0o040000,
  fifo: 0o010000,
};
const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

function octal(buf: Buffer, off: number, len: number, value: number): void {
  buf.write(Math.floor(value).toString(8).padStart(len - 1, '0') + '\0', off, len, 'ascii');
}

function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = rest.length + 1;
  while (String(len).length + rest.length !== len) len = String(len).length + rest.length;
  return Buffer.concat([Buffer.from(String(len)), rest]);
}

function header(h: TarWriteHeader, name: string, linkname: string, size: number, typeflag: string): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(name, 0, 100, 'utf8');
  octal(b, 100, 8, (h.mode & 0o7777) | (typeflag === 'x' ? 0 : TYPE_BITS[h.type]));
  octal(b, 108, 8, Math.min(h.uid, MAX_OCTAL_7));
  octal(b, 116, 8, Math.min(h.gid, MAX_OCTAL_7));
  octal(b, 124, 12, Math.min(size, MAX_OCTAL_11));
  octal(b, 136, 12, Math.min(Math.max(0, h.mtime), MAX_OCTAL_11));
  b.write(typeflag, 156, 1, 'ascii');
  b.write(linkname, 157, 100, 'utf8');
  b.write('ustar\0', 257, 6, 'ascii');
  b.write('00', 263, 2, 'ascii');
  if (h.uname) b.write(h.uname, 265, 32, 'utf8');
  if (h.gname) b.write(h.gname, 297, 32, 'utf8');
  octal(b, 329, 8, h.devmajor ?? 0);
  octal(b, 337, 8, h.devminor ?? 0);
  b.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return b;
}

function padding(size: number): Buffer {
  const rem = size % BLOCK;
  return rem === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rem);
}

/** Encodes the header block(s) of one entry: a PAX extended header first when needed. */
export function encodeHeader(h: TarWriteHeader): Buffer {
  const size = h.type === 'file' ? h.size ?? 0 : 0;
  const linkname = h.linkname ?? '';
  const records: Buffer[] = [];
  const nameFits = Buffer.byteLength(h.name) <= 100;
  const linkFits = Buffer.byteLength(linkname) <= 100;
  if (!nameFits) records.push(paxRecord('path', Buffer.from(h.name)));
  if (!linkFits) records.push(paxRecord('linkpath', Buffer.from(linkname)));
  if (h.uid > MAX_OCTAL_7) records.push(paxRecord('uid', Buffer.from(String(h.uid))));
  if (h.gid > MAX_OCTAL_7) records.push(paxRecord('gid', Buffer.from(String(h.gid))));
  if (size > MAX_OCTAL_11) records.push(paxRecord('size', Buffer.from(String(size))));
  for (const [k, v] of h.xattrs ?? []) records.push(paxRecord(`SCHILY.xattr.${k}`, v));
  const main = header(h, nameFits ? h.name : h.name.slice(0, 99), linkFits ? linkname : linkname.slice(0, 99), size, TYPEFLAG[h.type]);
  if (records.length === 0) return main;
  const pax = Buffer.concat(records);
  const base = h.name.replace(/\/+$/, '').split('/').pop() ?? '';
  const paxHeader = header({ ...h, mode: 0o644, xattrs: undefined }, `PaxHeaders.0/${base}`.slice(0, 99), '', pax.length, 'x');
  return Buffer.concat([paxHeader, pax, padding(pax.length), main]);
}

/**
 * One entry's blocks for a writer that pulls (a synchronous walk): the header, then `body` cut
 * or zero-filled to exactly the header's size (a file that changes while it is read must not
 * corrupt the archive), then the padding.
 */
export function* tarEntryBlocks(h: TarWriteHeader, body?: Iterable<Buffer>): Generator<Buffer> {
  yield encodeHeader(h);
  if (h.type !== 'file') return;
  const size = h.size ?? 0;
  let written = 0;
  for (const chunk of body ?? []) {
    const part = chunk.subarray(0, size - written);
    written += part.length;
    if (part.length) yield part;
    if (written >= size) break;
  }
  if (written < size) yield Buffer.alloc(size - written);
  const pad = padding(size);
  if (pad.length) yield pad;
}

/** The end-of-archive marker. */
export const tarEnd = (): Buffer => Buffer.alloc(BLOCK * 2);

export class TarWriter extends Readable {
  private wake: (() => void) | null = null;

  override _read(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this._read();
    cb(err);
  }

  private async write(buf: Buffer): Promise<void> {
    if (this.destroyed) throw new Error('tar stream closed');
    if (buf.length === 0) return;
    if (!this.push(buf)) await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.destroyed) throw new Error('tar stream closed');
  }

  /**
   * Adds one entry. For files, `body` yields the payload; it is cut or zero-filled to exactly
   * `size` bytes (a file that changes while it is read must not corrupt the archive).
   */
  async add(h: TarWriteHeader, body?: AsyncIterable<Buffer> | Buffer): Promise<void> {
    await this.write(encodeHeader(h));
    if (h.type !== 'file') return;
    const size = h.size ?? 0;
    let written = 0;
    if (body) {
      const chunks = Buffer.isBuffer(body) ? [body] : body;
      for await (const chunk of chunks) {
        const part = chunk.subarray(0, size - written);
        written += part.length;
        await this.write(part);
        if (written >= size) break;
      }
    }
    if (written < size) await this.write(Buffer.alloc(size - written));
    await this.write(padding(size));
  }

  /** The end-of-archive marker; ends the stream. */
  finish(): void {
    if (this.destroyed) return;
    this.push(tarEnd());
    this.push(null);
  }
}
