/**
 * Layer extraction off the daemon's thread: each layer is decompressed, hashed, recorded
 * (tar-split) and written by extract-worker.ts on a worker thread, so a pull or a load
 * uses every core and the event loop stays free to serve the API. The daemon's thread only moves
 * the (compressed) bytes across, a bounded window at a time: a worker acknowledges what it has
 * consumed, and the source is paused while a window is outstanding, so a slow disk slows the
 * download instead of filling memory.
 *
 * The same workers extract a tar into a container root (PUT /archive, COPY, a build's context)
 * with direct file calls. Jobs share the pool's few threads (lib/worker-pool.ts): a client that
 * stalls its upload holds its job, not a thread.
 */
import type { Readable } from 'node:stream';
import { systemError } from '../lib/errors.js';
import { PooledWorker, WorkerPool } from '../lib/worker-pool.js';
import type { ExtractedLayer } from './extract-layer.js';
import { fromWire, type ExtractJob, type FromWorker, type ToWorker, type TreeExtractOptions } from './extract-protocol.js';
import type { RootSpec } from '../containerfs/root.js';

/** Bytes sent to a worker and not yet consumed by it, at most (the source pauses above this). */
const WINDOW = 2 << 20;
/**
 * The source's chunks (64 KiB socket reads) cross to the worker gathered into messages of this
 * size. Each message wakes the worker and each acknowledgement the daemon, and gunzip hands every
 * input chunk to the thread pool and back: a wake-up per 64 KiB cost a fifth of a pull's CPU.
 */
const BATCH = 512 << 10;
const WORKER_URL = new URL('./extract-worker.js', import.meta.url);

class ExtractWorker extends PooledWorker<ToWorker, FromWorker> {
  constructor(onExit: () => void) {
    super(WORKER_URL, 'layer extraction', onExit);
  }

  /** Streams `src` through the worker into what `job` says; settles once the worker is done with it. */
  run(id: number, src: Readable, job: ExtractJob): Promise<Partial<ExtractedLayer>> {
    return new Promise<Partial<ExtractedLayer>>((resolve, reject) => {
      let outstanding = 0;
      let sourceError: Error | null = null;
      let settled = false;
      const finish = (err: Error | null, result?: Partial<ExtractedLayer>) => {
        if (settled) return;
        settled = true;
        this.handle(id, null);
        // The source is left paused and unread, not destroyed: the caller decides (an API
        // request body must stay open so the error can be answered on it).
        src.off('data', onData);
        src.off('end', onEnd);
        src.off('error', onError);
        src.off('close', onClose);
        src.pause();
        if (err) reject(err);
        else resolve(result!);
      };
      // Gathered into a buffer of its own, so the transfer detaches nothing the source still uses
      // (pooled buffers). Only what was sent counts against the window: a partial batch waits for
      // more data or the end.
      let batch: Buffer | null = null;
      let filled = 0;
      const send = () => {
        if (!batch || filled === 0) return;
        const chunk = new Uint8Array(batch.buffer, batch.byteOffset, filled);
        this.post({ t: 'data', id, chunk }, [batch.buffer as ArrayBuffer]);
        outstanding += filled;
        batch = null;
        filled = 0;
      };
      const onData = (c: Buffer | string) => {
        const buf = typeof c === 'string' ? Buffer.from(c) : c;
        for (let at = 0; at < buf.length; ) {
          batch ??= Buffer.allocUnsafeSlow(BATCH);
          const n = buf.copy(batch, filled, at);
          filled += n;
          at += n;
          if (filled === batch.length) send();
        }
        if (outstanding >= WINDOW) src.pause();
      };
      let ended = false;
      const onEnd = () => {
        ended = true;
        send();
        this.post({ t: 'end', id });
      };
      const onError = (err: Error) => {
        if (sourceError) return;
        // The worker cleans up and answers 'fail'; the caller sees the source's own error.
        sourceError = err;
        this.post({ t: 'abort', id, message: err.message });
      };
      // destroy() without an error emits only 'close'.
      const onClose = () => {
        if (!ended) onError(new Error('the layer stream was closed before its end'));
      };
      const onMessage = (m: FromWorker) => {
        if (m.t === 'read') {
          outstanding -= m.bytes;
          if (outstanding < WINDOW && src.isPaused() && !settled) src.resume();
        } else if (m.t === 'done') {
          finish(sourceError, { ...(m.diffId !== undefined ? { diffId: m.diffId } : {}), ...(m.size !== undefined ? { size: m.size } : {}) });
        } else {
          finish(sourceError ?? fromWire(m.error));
        }
      };
      this.handle(id, { onMessage, onDeath: (err) => finish(err) });
      if (this.dead) {
        finish(systemError('layer extraction worker is gone'));
        return;
      }
      // A source that failed before it got here (a download that broke while the directories
      // were made) emits nothing more.
      if (src.destroyed) {
        finish(src.errored ?? new Error('the layer stream was closed before its end'));
        return;
      }
      this.post({ t: 'job', id, job });
      src.on('data', onData);
      src.on('end', onEnd);
      src.on('error', onError);
      src.on('close', onClose);
      if (src.readableEnded) onEnd();
      src.resume();
    });
  }
}

export class ExtractPool {
  private readonly workers: WorkerPool<ExtractWorker>;
  private nextId = 1;

  /** At most `max` worker threads (default: one per core), each stopped `idleMs` after its last job. */
  constructor(max?: number, idleMs = 30_000) {
    this.workers = new WorkerPool((onExit) => new ExtractWorker(onExit), max, idleMs);
  }

  /**
   * Extracts the (possibly compressed) layer tar `src` into `diffDir` and writes its tar-split
   * record to `tarSplitPath`, on a worker thread. Rejects with the extractor's error (kinds kept),
   * or the source's own; either way the worker has stopped writing when it settles.
   */
  async extract(src: Readable, diffDir: string, tarSplitPath: string): Promise<ExtractedLayer> {
    const { diffId, size } = await this.workers.use((w) => w.run(this.nextId++, src, { kind: 'layer', diffDir, tarSplitPath }));
    return { diffId: diffId!, size: size! };
  }

  /**
   * Extracts the (possibly compressed) tar `src` into the directory `dest` (resolved, absolute)
   * of the container root `root` (ContainerRoot.spec()) with the container extractor
   * (containerfs/extract.ts), on a worker thread with direct file calls. Rejects as the extractor
   * would, or with the source's own error.
   */
  async extractInto(src: Readable, root: RootSpec, dest: string, opts: TreeExtractOptions): Promise<void> {
    await this.workers.use((w) => w.run(this.nextId++, src, { kind: 'tree', root, dest, opts }));
  }

  /** The digest, size and tar-split record of the layer tar `src`, extracting nothing (recordLayerTar). */
  async record(src: Readable, tarSplitPath: string): Promise<ExtractedLayer> {
    const { diffId, size } = await this.workers.use((w) => w.run(this.nextId++, src, { kind: 'record', tarSplitPath }));
    return { diffId: diffId!, size: size! };
  }

  /** Stops every idle worker (busy ones finish their job first). */
  close(): Promise<void> {
    return this.workers.close();
  }
}

/** The process's pool: layer stores share it, so idle workers are kept once, not per store. */
export const extractPool = new ExtractPool();
