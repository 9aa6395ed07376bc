/**
 * A streaming tar reader (ustar, GNU long names, PAX incl. global headers) that keeps what a
 * layer store needs and general-purpose readers drop:
 *  - xattr values from `SCHILY.xattr.*` PAX records as raw bytes (security.capability is binary);
 *  - the sha256 of every byte read (the layer's diffID), including the end-of-archive padding;
 *  - a hook that sees every non-payload byte range, so the exact tar can be reassembled later
 *    from the extracted files (tar-split), which is how `save` reproduces the diffID.
 */
import { createHash, type Hash } from 'node:crypto';
import { invalidParameter } from '../lib/errors.js';

export type TarEntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'directory' | 'fifo' | 'other';

export interface TarHeader {
  name: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch, possibly fractional (PAX). */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer>;
}

export interface TarRecorder {
  /** Raw bytes that are not file payload (headers, padding, trailer). */
  segment(bytes: Buffer): void;
  /** A file payload of `size` bytes belonging to the entry named `name`. */
  payload(name: string, size: number): void;
}

const BLOCK = 512;

/** Pulls exact byte counts from an async chunk source, hashing everything it hands out. */
class ByteSource {
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;
  readonly hash: Hash = createHash('sha256');
  private readonly it: AsyncIterator<unknown>;

  constructor(src: AsyncIterable<unknown>) {
    this.it = src[Symbol.asyncIterator]();
  }

  private async fill(n: number): Promise<void> {
    while (this.buf.length < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        break;
      }
      const v = r.value as Buffer | string;
      const chunk = Buffer.isBuffer(v) ? v : Buffer.from(v);
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    }
  }

  private take(n: number): Buffer {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.hash.update(out);
    return out;
  }

  /** Exactly n bytes, or fewer only at end of stream. */
  async read(n: number): Promise<Buffer> {
    await this.fill(n);
    return Buffer.from(this.take(Math.min(n, this.buf.length)));
  }

  /** Streams exactly n bytes as chunks; throws on a truncated stream. */
  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0) await this.fill(1);
      if (this.buf.length === 0) throw invalidParameter('unexpected EOF in tar stream');
      const part = this.take(Math.min(left, this.buf.length));
      left -= part.length;
      yield part;
    }
  }

  /** Everything left (e.g. zero padding after the end-of-archive marker). */
  async *rest(): AsyncGenerator<Buffer> {
    for (;;) {
      if (this.buf.length === 0) await this.fill(1);
      if (this.buf.length === 0) return;
      yield this.take(this.buf.length);
    }
  }
}

function cstr(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return (z === -1 ? s : s.subarray(0, z)).toString('utf8');
}

function num(b: Buffer, off: number, len: number): number {
  const f = b.subarray(off, off + len);
  if (f[0] & 0x80) {
    // base-256 (GNU): big-endian two's complement with the top bit as marker
    let v = f[0] & 0x7f;
    for (let i = 1; i < f.length; i++) v = v * 256 + f[i];
    return v;
  }
  const s = cstr(b, off, len).replace(/ /g, '').trim();
  return s ? parseInt(s, 8) : 0;
}

function checksumOk(h: Buffer): boolean {
  const stored = num(h, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
  return sum === stored;
}

function typeOf(flag: number): TarEntryType | 'pax' | 'paxg' | 'longname' | 'longlink' {
  switch (String.fromCharCode(flag)) {
    case '\0':
    case '0':
    case '7':
      return 'file';
    case '1':
      return 'link';
    case '2':
      return 'symlink';
    case '3':
      return 'char';
    case '4':
      return 'block';
    case '5':
      return 'directory';
    case '6':
      return 'fifo';
    case 'x':
      return 'pax';
    case 'g':
      return 'paxg';
    case 'L':
      return 'longname';
    case 'K':
      return 'longlink';
    default:
      return 'other';
  }
}

/** PAX records keep raw value bytes; keys are UTF-8. */
function parsePax(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < buf.length) {
    const sp = buf.indexOf(0x20, off);
    if (sp === -1) break;
    const len = parseInt(buf.subarray(off, sp).toString('ascii'), 10);
    if (!len || off + len > buf.length) break;
    const rec = buf.subarray(sp + 1, off + len - 1); // drop trailing \n
    const eq = rec.indexOf(0x3d);
    if (eq !== -1) out.set(rec.subarray(0, eq).toString('utf8'), Buffer.from(rec.subarray(eq + 1)));
    off += len;
  }
  return out;
}

const padOf = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

export interface TarEntry {
  header: TarHeader;
  /** The payload; must be fully consumed (or call skip()) before asking for the next entry. */
  body(): AsyncGenerator<Buffer>;
  skip(): Promise<void>;
}

export class TarReader {
  private readonly src: ByteSource;
  private pending: Buffer[] = [];

  constructor(
    input: AsyncIterable<unknown>,
    private readonly recorder?: TarRecorder,
  ) {
    this.src = new ByteSource(input);
  }

  private async readRecorded(n: number): Promise<Buffer> {
    const b = await this.src.read(n);
    if (this.recorder) this.pending.push(b);
    return b;
  }

  private flushSegment(): void {
    if (!this.recorder || this.pending.length === 0) return;
    const seg = Buffer.concat(this.pending);
    this.pending = [];
    if (seg.length) this.recorder.segment(seg);
  }

  /** sha256 of all bytes read so far, as `sha256:<hex>`; complete once entries() has finished. */
  digest(): string {
    return `sha256:${this.src.hash.digest('hex')}`;
  }

  async *entries(): AsyncGenerator<TarEntry> {
    let globalPax = new Map<string, Buffer>();
    let pax: Map<string, Buffer> | null = null;
    let longName: string | null = null;
    let longLink: string | null = null;
    let first = true;
    for (;;) {
      const h = await this.readRecorded(BLOCK);
      if (h.length === 0 && first) throw invalidParameter('archive/tar: invalid tar header: empty stream');
      if (h.length < BLOCK) {
        if (h.length === 0) break;
        throw invalidParameter('unexpected EOF in tar stream');
      }
      if (h.every((x) => x === 0)) break;
      if (!checksumOk(h)) throw invalidParameter('archive/tar: invalid tar header');
      first = false;
      const kind = typeOf(h[156]);
      const size = num(h, 124, 12);
      if (kind === 'pax' || kind === 'paxg' || kind === 'longname' || kind === 'longlink') {
        const data = await this.readRecorded(size + padOf(size));
        if (data.length < size + padOf(size)) throw invalidParameter('unexpected EOF in tar stream');
        const body = data.subarray(0, size);
        if (kind === 'pax') pax = parsePax(body);
        else if (kind === 'paxg') globalPax = new Map([...globalPax, ...parsePax(body)]);
        else if (kind === 'longname') longName = cstr(body, 0, body.length);
        else longLink = cstr(body, 0, body.length);
        continue;
      }
      const rec = new Map([...globalPax, ...(pax ?? [])]);
      pax = null;
      let name = cstr(h, 0, 100);
      const magic = h.subarray(257, 263).toString('latin1');
      if (magic === 'ustar\0') {
        const prefix = cstr(h, 345, 155);
        if (prefix) name = `${prefix}/${name}`;
      }
      if (longName !== null) name = longName;
      let linkname = cstr(h, 157, 100);
      if (longLink !== null) linkname = longLink;
      longName = longLink = null;
      const header: TarHeader = {
        name,
        type: kind,
        mode: num(h, 100, 8) & 0o7777,
        uid: num(h, 108, 8),
        gid: num(h, 116, 8),
        size,
        mtime: num(h, 136, 12),
        linkname,
        devmajor: num(h, 329, 8),
        devminor: num(h, 337, 8),
        xattrs: new Map(),
      };
      for (const [k, v] of rec) {
        if (k === 'path') header.name = v.toString('utf8');
        else if (k === 'linkpath') header.linkname = v.toString('utf8');
        else if (k === 'size') header.size = parseInt(v.toString(), 10);
        else if (k === 'uid') header.uid = parseInt(v.toString(), 10);
        else if (k === 'gid') header.gid = parseInt(v.toString(), 10);
        else if (k === 'mtime') header.mtime = parseFloat(v.toString());
        else if (k.startsWith('SCHILY.xattr.')) header.xattrs.set(k.slice('SCHILY.xattr.'.length), v);
        else if (k.startsWith('LIBARCHIVE.xattr.')) {
          header.xattrs.set(decodeURIComponent(k.slice('LIBARCHIVE.xattr.'.length)), Buffer.from(v.toString(), 'base64'));
        }
      }
      // Only regular files carry a payload that tar-split stores by reference.
      const payloadSize = header.type === 'file' || header.type === 'other' ? header.size : 0;
      const extra = header.type === 'file' || header.type === 'other' ? 0 : header.size;
      this.flushSegment();
      if (payloadSize > 0 || header.type === 'file') this.recorder?.payload(header.name, payloadSize);
      let consumed = false;
      const self = this;
      const body = async function* (): AsyncGenerator<Buffer> {
        if (consumed) return;
        consumed = true;
        yield* self.src.chunks(payloadSize);
        // Payload of types that should have none (rare) and the block padding are raw bytes.
        const tail = await self.readRecorded(extra + padOf(extra) + padOf(payloadSize));
        if (tail.length < extra + padOf(extra) + padOf(payloadSize)) throw invalidParameter('unexpected EOF in tar stream');
      };
      const entry: TarEntry = {
        header,
        body,
        skip: async () => {
          for await (const _ of body()) void _;
        },
      };
      yield entry;
      if (!consumed) await entry.skip();
    }
    // Drain the trailer (second zero block, record padding) so the digest covers the whole stream.
    for await (const chunk of this.src.rest()) if (this.recorder) this.pending.push(Buffer.from(chunk));
    this.flushSegment();
  }
}
