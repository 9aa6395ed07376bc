/**
 * File tree walks off the daemon's thread: the tar of a tree (GET /archive, export, commit, COPY,
 * BuildKit's tar exporter), a layer's tar rebuilt for save and push, the classic builder's hash
 * of a COPY source, the paths a COPY wildcard matches and disk usage sizes run on a worker thread
 * (walk-worker.ts) with synchronous file calls. On the daemon's thread each awaited call was a
 * round trip to libuv's thread pool, about ten times the call itself, and a tree of small files is
 * mostly calls: a COPY of 2,000 small files spent 1.3 s there.
 *
 * The tar comes back as a Readable with back-pressure: the worker sends at most a window ahead
 * of what the consumer has taken, and a consumer that goes away stops the walk.
 */
import { Readable } from 'node:stream';
import { systemError } from '../lib/errors.js';
import { PooledWorker, WorkerPool } from '../lib/worker-pool.js';
import { fromWire } from '../layer/extract-protocol.js';
import type { WalkOptions, WalkSpec } from './walk.js';
import type { FromWorker, ToWorker } from './walk-protocol.js';
import type { CopyFilterSpec } from './copy-filter.js';

const WORKER_URL = new URL('./walk-worker.js', import.meta.url);

class WalkWorker extends PooledWorker<ToWorker, FromWorker> {
  constructor(onExit: () => void) {
    super(WORKER_URL, 'file tree walk', onExit);
  }

  /** Feeds `out` with the tar `job` makes; settles once the worker has stopped. */
  stream(job: Extract<ToWorker, { t: 'walk' | 'assemble' }>, out: WalkStream): Promise<void> {
    const id = job.id;
    return new Promise<void>((resolve) => {
      let settled = false;
      const finish = (err: Error | null) => {
        if (settled) return;
        settled = true;
        this.handle(id, null);
        out.detach();
        if (err) out.destroy(err);
        else if (!out.destroyed) out.push(null);
        resolve();
      };
      this.handle(id, {
        onMessage: (m) => {
          if (m.t === 'data') out.deliver(Buffer.from(m.chunk.buffer, m.chunk.byteOffset, m.chunk.byteLength));
          else finish(m.t === 'fail' ? fromWire(m.error) : null);
        },
        onDeath: (err) => finish(err),
      });
      if (this.dead) {
        finish(systemError('file tree walk worker is gone'));
        return;
      }
      out.attach(
        (bytes) => this.post({ t: 'read', id, bytes }),
        () => this.post({ t: 'abort', id }),
      );
      this.post(job);
    });
  }

  /** Runs a job that answers once ('hash', 'size'); resolves with its 'done' message. */
  answer(job: Extract<ToWorker, { t: 'hash' | 'size' | 'glob' }>): Promise<Extract<FromWorker, { t: 'done' }>> {
    return new Promise((resolve, reject) => {
      const finish = (err: Error | null, done?: Extract<FromWorker, { t: 'done' }>) => {
        this.handle(job.id, null);
        if (err) reject(err);
        else resolve(done!);
      };
      this.handle(job.id, {
        onMessage: (m) => {
          if (m.t === 'fail') finish(fromWire(m.error));
          else if (m.t === 'done') finish(null, m);
        },
        onDeath: (err) => finish(err),
      });
      if (this.dead) finish(systemError('file tree walk worker is gone'));
      else this.post(job);
    });
  }
}

/**
 * The tar a worker sends; what the consumer takes is acknowledged, and destroying it aborts the
 * walk. The job starts at the consumer's first read, as a generator's stream does, so a failure
 * never comes before anyone listens for it.
 */
export class WalkStream extends Readable {
  /** Settles once the worker has stopped walking: only then may the fds its paths name be closed. */
  readonly stopped: Promise<void>;
  private begin: (() => void) | null;
  private ack: ((bytes: number) => void) | null = null;
  private abort: (() => void) | null = null;
  /** Bytes pushed while the consumer's buffer was full, acknowledged when it asks for more. */
  private held = 0;

  constructor(run: (out: WalkStream) => Promise<void>) {
    super();
    let settle!: () => void;
    this.stopped = new Promise<void>((resolve) => (settle = resolve));
    this.begin = () =>
      void run(this)
        .catch((err: unknown) => this.destroy(err as Error))
        .finally(settle);
    // Destroyed before its first read: nothing ever ran.
    this.once('close', () => {
      if (!this.begin) return;
      this.begin = null;
      settle();
    });
  }

  attach(ack: (bytes: number) => void, abort: () => void): void {
    this.ack = ack;
    this.abort = abort;
  }

  detach(): void {
    this.ack = null;
    this.abort = null;
  }

  deliver(chunk: Buffer): void {
    if (this.destroyed) return;
    if (this.push(chunk)) this.ack?.(chunk.length);
    else this.held += chunk.length;
  }

  override _read(): void {
    const begin = this.begin;
    if (begin) {
      this.begin = null;
      begin();
      return;
    }
    if (this.held === 0) return;
    const bytes = this.held;
    this.held = 0;
    this.ack?.(bytes);
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.abort?.();
    cb(err);
  }
}

export class WalkPool {
  private readonly workers: WorkerPool<WalkWorker>;
  private nextId = 1;

  /** At most `max` worker threads (default: one per core), each stopped `idleMs` after its last job. */
  constructor(max?: number, idleMs = 30_000) {
    this.workers = new WorkerPool((onExit) => new WalkWorker(onExit), max, idleMs);
  }

  /**
   * The tar of `spec` (end marker included), walked on a worker thread. A failed walk destroys
   * the stream with its error; the fd paths in `spec` and `opts` must stay open until `stopped`.
   */
  tar(spec: WalkSpec, opts: WalkOptions = {}): WalkStream {
    return this.stream({ t: 'walk', id: this.nextId++, spec, opts });
  }

  /**
   * A layer's exact tar, rebuilt from its tar-split record and its diff dir (layer/tar-split.ts)
   * on a worker thread. A failure (a file of the record gone or replaced) destroys the stream.
   */
  assemble(tarSplitPath: string, diffDir: string): WalkStream {
    return this.stream({ t: 'assemble', id: this.nextId++, tarSplitPath, diffDir });
  }

  private stream(job: Extract<ToWorker, { t: 'walk' | 'assemble' }>): WalkStream {
    return new WalkStream((out) => this.workers.use((w) => w.stream(job, out)));
  }

  /** The classic builder's hash of the tree at `at` (`file:…` or `dir:…`), of what `filter` takes; undefined when it is gone. */
  async hash(at: string, filter?: CopyFilterSpec): Promise<string | undefined> {
    const id = this.nextId++;
    return (await this.workers.use((w) => w.answer({ t: 'hash', id, at, ...(filter ? { filter } : {}) }))).hash;
  }

  /** The paths below the directory `at` that the COPY wildcard `pattern` matches, found on a worker thread. */
  async glob(at: string, pattern: string): Promise<string[]> {
    const id = this.nextId++;
    return (await this.workers.use((w) => w.answer({ t: 'glob', id, at, pattern }))).paths ?? [];
  }

  /** The bytes below `path` as Docker counts them (lib/dir-size.ts), walked on a worker thread. */
  async size(path: string): Promise<number> {
    const id = this.nextId++;
    return (await this.workers.use((w) => w.answer({ t: 'size', id, path }))).size ?? 0;
  }

  /** Stops every idle worker (busy ones finish their job first). */
  close(): Promise<void> {
    return this.workers.close();
  }
}

/** The process's pool. */
export const walkPool = new WalkPool();
