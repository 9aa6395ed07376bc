/**
 * tar-split: the record that lets a layer's exact tar bytes be rebuilt from its extracted diff
 * directory (so a saved layer hashes to its diffID again). Stored gzip-compressed as JSON lines
 * in layerdb/sha256/<chain>/tar-split.json.gz, in the shape Docker's tar-split package writes:
 * `{"type":2,"payload":"<base64 raw bytes>","position":n}` for headers/padding and
 * `{"type":1,"name":"<path in the layer>","size":n,"position":n}` for file payloads.
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { constants, createGunzip, createGzip } from 'node:zlib';
import type { TarRecorder } from './tar-reader.js';
import { systemError } from '../lib/errors.js';

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

/** Rebuilds the original tar stream from the tar-split record and the diff directory. */
export function assembleTar(tarSplitPath: string, diffDir: string): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    const rl = createInterface({ input: createReadStream(tarSplitPath).pipe(createGunzip()), crlfDelay: Infinity });
    for await (const text of rl) {
      if (!text) continue;
      const l = JSON.parse(text) as Line;
      if (l.type === 2) {
        yield Buffer.from(l.payload, 'base64');
        continue;
      }
      if (l.size === 0) continue;
      const fh = await open(join(diffDir, l.name), 'r');
      try {
        let left = l.size;
        const buf = Buffer.alloc(Math.min(left, 1 << 20));
        while (left > 0) {
          const { bytesRead } = await fh.read(buf, 0, Math.min(left, buf.length), null);
          if (bytesRead === 0) throw systemError(`layer file ${l.name} is shorter than recorded`);
          left -= bytesRead;
          yield Buffer.from(buf.subarray(0, bytesRead));
        }
      } finally {
        await fh.close();
      }
    }
  }
  return Readable.from(gen());
}

/** Length of the tar that assembleTar() would produce. */
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
