/**
 * A streaming tar reader (ustar, GNU long names, PAX; global PAX headers are ignored, as Docker
 * ignores them) that keeps what a layer store needs and general-purpose readers drop:
 *  - xattr values from `SCHILY.xattr.*` PAX records as raw bytes (security.capability is binary);
 *  - the sha256 of every byte read (the layer's diffID), including the end-of-archive padding;
 *  - a hook that sees every non-payload byte range, so the exact tar can be reassembled later
 *    from the extracted files (tar-split), which is how `save` reproduces the diffID.
 * The input is untrusted: header records (PAX, GNU long names) are limited to 1 MiB as in Go's
 * archive/tar, every byte is looked at a bounded number of times, xattr names and values are
 * checked (xattr.ts), and malformed numbers or records refuse the archive.
 */
import { createHash, type Hash } from 'node:crypto';
import { invalidParameter } from '../lib/errors.js';
import { checkXattr } from './xattr.js';

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
  /** A promise that resolves when the recorder can take more (backpressure), or nothing when it can now; asked once per entry. */
  drain?(): Promise<void> | undefined;
}

const BLOCK = 512;

/**
 * The largest PAX extended header or GNU long name/link record accepted, as Go's archive/tar
 * (and so Docker) limits them: such a record is held in memory whole.
 */
export const MAX_HEADER_RECORD = 1 << 20;

/**
 * Pulls exact byte counts from an async chunk source, hashing everything it hands out (when asked). Chunks
 * are queued, not concatenated, so reading n bytes costs O(n) however the input was split.
 */
class ByteSource {
  private readonly queue: Buffer[] = [];
  /** Index of the first unread chunk in `queue`, and the offset into it. */
  private head = 0;
  private off = 0;
  private avail = 0;
  private ended = false;
  private readonly it: AsyncIterator<unknown>;

  constructor(
    src: AsyncIterable<unknown>,
    /** null when nobody asks for the digest (a second sha256 pass over every byte saved). */
    readonly hash: Hash | null,
  ) {
    this.it = src[Symbol.asyncIterator]();
  }

  private async fill(n: number): Promise<void> {
    while (this.avail < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        break;
      }
      const v = r.value as Buffer | string;
      const chunk = Buffer.isBuffer(v) ? v : Buffer.from(v);
      if (chunk.length === 0) continue;
      if (this.head > 64 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.queue.push(chunk);
      this.avail += chunk.length;
    }
  }

  /** Up to `max` bytes from the front of the first chunk (no copy). */
  private takeFront(max: number): Buffer {
    const c = this.queue[this.head]!;
    const n = Math.min(max, c.length - this.off);
    const out = c.subarray(this.off, this.off + n);
    this.off += n;
    this.avail -= n;
    if (this.off === c.length) {
      this.queue[this.head++] = EMPTY;
      this.off = 0;
    }
    this.hash?.update(out);
    return out;
  }

  /** Bytes buffered and not yet read. */
  get buffered(): number {
    return this.avail;
  }

  /** Exactly n bytes (a copy), or fewer only at end of stream. */
  async read(n: number): Promise<Buffer> {
    await this.fill(n);
    return this.readBuffered(n);
  }

  /** Up to n bytes of what is buffered (a copy), without waiting for more. */
  readBuffered(n: number): Buffer {
    const out = Buffer.allocUnsafe(Math.min(n, this.avail));
    for (let w = 0; w < out.length; ) {
      const part = this.takeFront(out.length - w);
      part.copy(out, w);
      w += part.length;
    }
    return out;
  }

  /**
   * Exactly n buffered bytes as views of the queued chunks (no copy); the caller has checked
   * `buffered >= n`. A payload already in memory is handed over without an await per chunk.
   */
  takeBuffered(n: number): Buffer[] {
    const out: Buffer[] = [];
    for (let left = n; left > 0; ) {
      const part = this.takeFront(left);
      left -= part.length;
      out.push(part);
    }
    return out;
  }

  /** Streams exactly n bytes as chunks; throws on a truncated stream. */
  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.avail === 0) await this.fill(1);
      if (this.avail === 0) throw invalidParameter('unexpected EOF in tar stream');
      const part = this.takeFront(left);
      left -= part.length;
      yield part;
    }
  }

  /** Everything left (e.g. zero padding after the end-of-archive marker). */
  async *rest(): AsyncGenerator<Buffer> {
    for (;;) {
      if (this.avail === 0) await this.fill(1);
      if (this.avail === 0) return;
      yield this.takeFront(this.avail);
    }
  }
}

const EMPTY = Buffer.alloc(0);

function cstr(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return (z === -1 ? s : s.subarray(0, z)).toString('utf8');
}

/** A numeric header field (octal, or GNU base-256); -1 when it is not a valid non-negative number. */
function num(b: Buffer, off: number, len: number): number {
  const f = b.subarray(off, off + len);
  if (f[0]! & 0x80) {
    // base-256 (GNU): big-endian two's complement with the top bit as marker; negative is invalid
    if (f[0]! & 0x40) return -1;
    let v = f[0]! & 0x3f;
    for (let i = 1; i < f.length; i++) v = v * 256 + f[i]!;
    return Number.isSafeInteger(v) ? v : -1;
  }
  // Fast path, one pass over the bytes (this runs six times per entry): octal digits and spaces
  // up to a NUL. Anything else takes the general rule below.
  let v = 0;
  let digits = 0;
  let i = off;
  for (; i < off + len; i++) {
    const c = b[i]!;
    if (c === 0) break;
    if (c === 0x20) continue;
    if (c < 0x30 || c > 0x37) break;
    v = v * 8 + (c - 0x30);
    digits++;
  }
  if (i === off + len || b[i] === 0) return digits === 0 ? 0 : Number.isSafeInteger(v) ? v : -1;
  const s = cstr(b, off, len).replace(/ /g, '').trim();
  if (s === '') return 0;
  return /^[0-7]+$/.test(s) ? parseInt(s, 8) : -1;
}

function checksumOk(h: Buffer): boolean {
  const stored = num(h, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += (i >= 148 && i < 156 ? 32 : h[i])!;
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

const badHeader = (why: string) => invalidParameter(`archive/tar: invalid tar header: ${why}`);

/**
 * PAX records (`<len> <key>=<value>\n`) keep raw value bytes; keys are UTF-8. One pass over the
 * record; a malformed record refuses the archive, as Go's reader does.
 */
function parsePax(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < buf.length) {
    let sp = off;
    while (sp < buf.length && sp - off < 20 && buf[sp]! >= 0x30 && buf[sp]! <= 0x39) sp++;
    const len = sp > off && buf[sp] === 0x20 ? parseInt(buf.subarray(off, sp).toString('latin1'), 10) : NaN;
    if (!(len > sp - off + 1) || off + len > buf.length || buf[off + len - 1] !== 0x0a) throw badHeader('malformed PAX record');
    const rec = buf.subarray(sp + 1, off + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw badHeader('malformed PAX record');
    const key = rec.subarray(0, eq);
    const value = rec.subarray(eq + 1);
    if (key.includes(0)) throw badHeader('PAX record key contains a NUL');
    out.set(key.toString('utf8'), Buffer.from(value));
    off += len;
  }
  return out;
}

/** Types that never carry a payload, whatever their size field says (Go's isHeaderOnlyType). */
const HEADER_ONLY = new Set<TarEntryType>(['link', 'symlink', 'char', 'block', 'directory', 'fifo']);

const RECORD_NAMES = { pax: 'PAX extended header', paxg: 'PAX global header', longname: 'GNU long name', longlink: 'GNU long link' } as const;

/** Applies one PAX record to the header it precedes. */
function applyPax(header: TarHeader, key: string, v: Buffer): void {
  const text = () => v.toString('utf8');
  const int = () => {
    const s = v.toString('latin1');
    if (!/^[0-9]{1,15}$/.test(s)) throw badHeader(`PAX ${key} ${JSON.stringify(s)} is not a valid number`);
    return parseInt(s, 10);
  };
  if (key === 'path' || key === 'linkpath') {
    if (v.includes(0)) throw badHeader(`PAX ${key} contains a NUL`);
    if (key === 'path') header.name = text();
    else header.linkname = text();
  } else if (key === 'size') header.size = int();
  else if (key === 'uid') header.uid = int();
  else if (key === 'gid') header.gid = int();
  else if (key === 'mtime') {
    const s = v.toString('latin1');
    if (!/^-?[0-9]{1,15}(\.[0-9]*)?$/.test(s)) throw badHeader(`PAX mtime ${JSON.stringify(s)} is not a valid time`);
    header.mtime = parseFloat(s);
  } else if (key.startsWith('SCHILY.xattr.')) {
    const name = key.slice('SCHILY.xattr.'.length);
    checkXattr(header.name, name, v);
    header.xattrs.set(name, v);
  } else if (key.startsWith('LIBARCHIVE.xattr.')) {
    let name: string;
    try {
      name = decodeURIComponent(key.slice('LIBARCHIVE.xattr.'.length));
    } catch {
      throw badHeader(`PAX record ${JSON.stringify(key)} has an invalid xattr name encoding`);
    }
    const value = Buffer.from(v.toString('latin1'), 'base64');
    checkXattr(header.name, name, value);
    header.xattrs.set(name, value);
  }
}

const padOf = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

export interface TarEntry {
  header: TarHeader;
  /** The payload; must be fully consumed (or call skip()) before asking for the next entry. */
  body(): AsyncGenerator<Buffer>;
  /**
   * The whole payload at once when it (and its padding) is in memory already, consumed as
   * body() would; null when it is not, and then body() still reads it.
   */
  bufferedBody(): Buffer[] | null;
  /** Consumes the payload; settles at once (undefined) when it was in memory. */
  skip(): Promise<void> | undefined;
}

export class TarReader {
  private readonly src: ByteSource;
  private pending: Buffer[] = [];

  constructor(
    input: AsyncIterable<unknown>,
    private readonly recorder?: TarRecorder,
    opts: { digest?: boolean } = {},
  ) {
    this.src = new ByteSource(input, opts.digest === false ? null : createHash('sha256'));
  }

  private async readRecorded(n: number): Promise<Buffer> {
    return this.recorded(this.src.buffered >= n ? this.src.readBuffered(n) : await this.src.read(n));
  }

  private recorded(b: Buffer): Buffer {
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
    if (!this.src.hash) throw new Error('TarReader: made without a digest');
    return `sha256:${this.src.hash.digest('hex')}`;
  }

  async *entries(): AsyncGenerator<TarEntry> {
    let pax: Map<string, Buffer> | null = null;
    let longName: string | null = null;
    let longLink: string | null = null;
    for (;;) {
      const h = await this.readRecorded(BLOCK);
      // An empty stream is an empty archive, as Go's archive/tar reads it (Docker imports it as an
      // empty layer and extracts nothing from it).
      if (h.length < BLOCK) {
        if (h.length === 0) break;
        throw invalidParameter('unexpected EOF in tar stream');
      }
      if (h.every((x) => x === 0)) {
        // The end is two zero blocks; as Go's reader, the stream may stop after the first, but
        // not inside the second, and a header after a zero block is no archive.
        const second = await this.readRecorded(BLOCK);
        if (second.length === 0 || (second.length === BLOCK && second.every((x) => x === 0))) break;
        if (second.length < BLOCK) throw invalidParameter('unexpected EOF in tar stream');
        throw invalidParameter('archive/tar: invalid tar header');
      }
      if (!checksumOk(h)) throw invalidParameter('archive/tar: invalid tar header');
      const kind = typeOf(h[156]!);
      const size = num(h, 124, 12);
      if (size < 0) throw badHeader('invalid size field');
      if (kind === 'pax' || kind === 'paxg' || kind === 'longname' || kind === 'longlink') {
        if (size > MAX_HEADER_RECORD) {
          throw invalidParameter(
            `archive/tar: header field too long: a ${RECORD_NAMES[kind]} record of ${size} bytes (at most ${MAX_HEADER_RECORD} are accepted)`,
          );
        }
        const data = await this.readRecorded(size + padOf(size));
        if (data.length < size + padOf(size)) throw invalidParameter('unexpected EOF in tar stream');
        // Consecutive records must not pile up in memory before the entry they belong to.
        this.flushSegment();
        const body = data.subarray(0, size);
        if (kind === 'pax') pax = parsePax(body);
        // Global headers are ignored, as Docker ignores them (Go's reader hands them over as entries).
        else if (kind === 'paxg') parsePax(body);
        else if (kind === 'longname') longName = cstr(body, 0, body.length);
        else longLink = cstr(body, 0, body.length);
        continue;
      }
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
        mode: num(h, 100, 8),
        uid: num(h, 108, 8),
        gid: num(h, 116, 8),
        size,
        mtime: num(h, 136, 12),
        linkname,
        devmajor: num(h, 329, 8),
        devminor: num(h, 337, 8),
        xattrs: new Map(),
      };
      for (const f of ['mode', 'uid', 'gid', 'mtime', 'devmajor', 'devminor'] as const) {
        if (header[f] < 0) throw badHeader(`invalid ${f} field of ${JSON.stringify(header.name)}`);
      }
      header.mode &= 0o7777;
      // The path first: xattr errors name the entry.
      const path = pax?.get('path');
      if (path) applyPax(header, 'path', path);
      for (const [k, v] of pax ?? []) if (k !== 'path') applyPax(header, k, v);
      pax = null;
      if (header.uid > 0xffffffff || header.gid > 0xffffffff) throw badHeader(`uid/gid of ${JSON.stringify(header.name)} out of range`);
      if (header.name.includes('\0')) throw badHeader('name contains a NUL');
      // Only regular files (and unknown types, as files) carry a payload; tar-split stores it by reference.
      const payloadSize = HEADER_ONLY.has(header.type) ? 0 : header.size;
      this.flushSegment();
      if (payloadSize > 0 || header.type === 'file') this.recorder?.payload(header.name, payloadSize);
      const draining = this.recorder?.drain?.();
      if (draining) await draining;
      let consumed = false;
      const self = this;
      const body = async function* (): AsyncGenerator<Buffer> {
        if (consumed) return;
        consumed = true;
        yield* self.src.chunks(payloadSize);
        const tail = await self.readRecorded(padOf(payloadSize));
        // A stream that ends right after the last payload, without its padding or the end blocks,
        // is a whole archive to Go's reader (the Docker CLI sends `build -f -` contexts so).
        if (tail.length > 0 && tail.length < padOf(payloadSize)) throw invalidParameter('unexpected EOF in tar stream');
      };
      const bufferedBody = (): Buffer[] | null => {
        if (consumed) return [];
        const pad = padOf(payloadSize);
        if (this.src.buffered < payloadSize + pad) return null;
        consumed = true;
        const parts = this.src.takeBuffered(payloadSize);
        if (pad) this.recorded(this.src.readBuffered(pad));
        return parts;
      };
      const entry: TarEntry = {
        header,
        body,
        bufferedBody,
        skip: () => {
          if (bufferedBody()) return undefined;
          return (async () => {
            for await (const _ of body()) void _;
          })();
        },
      };
      yield entry;
      if (!consumed) await entry.skip();
    }
    // Drain the trailer (second zero block, record padding, anything after) so the digest covers
    // the whole stream; recorded chunk by chunk, so whatever follows is never held in memory.
    this.flushSegment();
    for await (const chunk of this.src.rest()) {
      if (!this.recorder) continue;
      this.recorder.segment(Buffer.from(chunk));
      const draining = this.recorder.drain?.();
      if (draining) await draining;
    }
  }
}
