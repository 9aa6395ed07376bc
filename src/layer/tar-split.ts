/**
 * tar-split: the record that lets a layer's exact tar bytes be rebuilt from its extracted diff
 * directory (so a saved layer hashes to its diffID again). Stored gzip-compressed as JSON lines
 * in layerdb/sha256/<chain>/tar-split.json.gz, in the shape Docker's tar-split package writes:
 * `{"type":2,"payload":"<base64 raw bytes>","position":n}` for headers/padding and
 * `{"type":1,"name":"<path in the layer>","size":n,"position":n}` for file payloads.
 */
import { closeSync, constants as fsc, createReadStream, createWriteStream, openSync, readSync, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';
import { constants, createGunzip, createGzip } from 'node:zlib';
import type { TarRecorder } from './tar-reader.js';
import { systemError } from '../lib/errors.js';
import { O_PATH } from '../containerfs/root.js';
import { fdPath } from '../lib/fd-path.js';
import { openPinnedFile, pin } from '../containerfs/pinned.js';

const BATCH = 64 * 1024;

type Line = { type: 1; name: string; size: number; position: number } | { type: 2; payload: string; position: number };

export class TarSplitWriter implements TarRecorder {
  // The fastest level: written once per layer on the pull's critical path, the record is mostly
  // base64 of zero-padded headers, and level 6 took twice the CPU for a quarter less on disk.
  private readonly gz = createGzip({ level: constants.Z_BEST_SPEED });
  private readonly out: WriteStream;
  private readonly done: Promise<void>;
  private position = 0;

  /** `nameOf` maps a tar entry name to its path relative to the diff dir (the extractor's rule). */
  constructor(
    path: string,
    private readonly nameOf: (tarName: string) => string | null,
  ) {
    this.out = createWriteStream(path, { mode: 0o600 });
    this.gz.pipe(this.out);
    this.done = finished(this.out);
    this.done.catch(() => {});
  }

  /** Lines not yet handed to gzip, joined into one write (a write per line costs a zlib job each). */
  private batch: string[] = [];
  private batchLength = 0;

  private text(text: string): void {
    this.batch.push(text);
    this.batchLength += text.length;
    if (this.batchLength >= BATCH) this.flush();
  }

  private flush(): void {
    if (this.batch.length === 0) return;
    this.gz.write(this.batch.join(''));
    this.batch = [];
    this.batchLength = 0;
  }

  /**
   * Waits while gzip or the file lag behind: the reader calls this once per entry, so a layer of
   * many small files never queues its whole record in memory.
   */
  drain(): Promise<void> | undefined {
    if (!this.gz.writableNeedDrain) return undefined;
    return new Promise<void>((resolve) => {
      const done = () => {
        this.gz.off('drain', done);
        this.gz.off('close', done);
        resolve();
      };
      this.gz.on('drain', done);
      this.gz.on('close', done);
    });
  }

  // The lines are put together by hand, as JSON.stringify would write them (same keys, same
  // order): base64 and numbers need no escaping, and stringify scanned every payload byte again.
  segment(bytes: Buffer): void {
    this.text(`{"type":2,"payload":"${bytes.toString('base64')}","position":${this.position++}}\n`);
  }

  payload(name: string, size: number): void {
    this.text(`{"type":1,"name":${JSON.stringify(this.nameOf(name) ?? name)},"size":${size},"position":${this.position++}}\n`);
  }

  async close(): Promise<void> {
    this.flush();
    this.gz.end();
    await this.done;
  }

  /** Drops the record; resolves once its file is closed (a failed pull leaves no open file behind). */
  async abort(): Promise<void> {
    this.gz.destroy();
    if (!this.out.closed) {
      const closed = new Promise<void>((resolve) => this.out.once('close', () => resolve()));
      this.out.destroy();
      await closed;
    }
  }
}

/** A file of the record that a later entry of the layer replaced (by a link, a directory…). */
const replaced = (name: string) => systemError(`layer file ${name} is no longer a file of the layer (a later entry replaced it); its tar cannot be rebuilt`);

/**
 * The payload files of a layer's diff dir, opened the way the extractor made them: each
 * directory on the way and the file itself without following a symlink, so a name the record
 * holds never leads out of the diff dir. A layer may replace a file it wrote, or one of its
 * directories, by a symlink in a later entry (`d/passwd`, then `d -> /etc`): the record still
 * names the file, and following the link put the first bytes of the host's /etc/passwd into
 * `docker save` and `docker push`.
 */
class DiffDirFiles {
  /** Open directories (O_PATH) by their path in the diff dir; '' is the diff dir. */
  private readonly dirs = new Map<string, number>();

  constructor(diffDir: string) {
    this.dirs.set('', openSync(diffDir, O_PATH | fsc.O_DIRECTORY));
  }

  private dir(path: string): number {
    const known = this.dirs.get(path);
    if (known !== undefined) return known;
    const slash = path.lastIndexOf('/');
    const parent = this.dir(slash < 0 ? '' : path.slice(0, slash));
    if (this.dirs.size >= 64) this.closeAllBut(parent);
    const fd = openSync(fdPath({ fd: parent }, path.slice(slash + 1)), O_PATH | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
    this.dirs.set(path, fd);
    return fd;
  }

  /** The regular file `name` (a cleaned path in the diff dir) opened for reading. */
  open(name: string): number {
    const parts = name.split('/').filter((p) => p !== '' && p !== '.');
    const base = parts.pop();
    if (base === undefined || parts.includes('..') || base === '..') throw systemError(`layer file ${name}: invalid name in the tar-split record`);
    // Pinned and looked at before it is opened, so that no device node is ever opened (pinned.ts).
    let dir: number;
    try {
      dir = this.dir(parts.join('/'));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP' || code === 'ENOTDIR' || code === 'ENOENT') throw replaced(name);
      throw err;
    }
    const p = pin(fdPath({ fd: dir }, base));
    if (!p) throw replaced(name);
    try {
      if (!p.st.isFile()) throw replaced(name);
      return openPinnedFile(p, name);
    } finally {
      closeSync(p.fd);
    }
  }

  private closeAllBut(keep: number): void {
    for (const [path, fd] of this.dirs) {
      if (fd === keep || path === '') continue;
      closeSync(fd);
      this.dirs.delete(path);
    }
  }

  close(): void {
    for (const fd of this.dirs.values()) closeSync(fd);
    this.dirs.clear();
  }
}

/**
 * The original tar of a layer, rebuilt from its tar-split record and its diff directory, in
 * pieces (headers and payload chunks). The files are read with synchronous calls: this runs on
 * the file tree worker (containerfs/walk-pool.ts), where a call costs a tenth of a round trip
 * through the thread pool and a layer is mostly small files.
 */
export async function* assembleTarPieces(tarSplitPath: string, diffDir: string): AsyncGenerator<Buffer> {
  const files = new DiffDirFiles(diffDir);
  try {
    const rl = createInterface({ input: createReadStream(tarSplitPath).pipe(createGunzip()), crlfDelay: Infinity });
    for await (const text of rl) {
      if (!text) continue;
      const l = JSON.parse(text) as Line;
      if (l.type === 2) {
        yield Buffer.from(l.payload, 'base64');
        continue;
      }
      if (l.size === 0) continue;
      const fd = files.open(l.name);
      try {
        for (let left = l.size; left > 0; ) {
          const buf = Buffer.allocUnsafe(Math.min(left, 1 << 20));
          const n = readSync(fd, buf, 0, buf.length, null);
          if (n === 0) throw systemError(`layer file ${l.name} is shorter than recorded`);
          left -= n;
          yield buf.subarray(0, n);
        }
      } finally {
        closeSync(fd);
      }
    }
  } finally {
    files.close();
  }
}

/** Length of the tar that assembleTarPieces() would produce. */
export async function tarSplitSize(tarSplitPath: string): Promise<number> {
  const rl = createInterface({ input: createReadStream(tarSplitPath).pipe(createGunzip()), crlfDelay: Infinity });
  let total = 0;
  for await (const text of rl) {
    if (!text) continue;
    const l = JSON.parse(text) as Line;
    total += l.type === 2 ? Buffer.byteLength(l.payload, 'base64') : l.size;
  }
  return total;
}
