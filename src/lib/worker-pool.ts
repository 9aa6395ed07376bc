/**
 * Worker threads kept for jobs that would otherwise hold up the daemon's event loop (layer
 * extraction, file tree walks). A worker runs one job at a time; one is started when none is
 * idle (concurrency is bounded by the callers), and up to `keepIdle` idle ones are kept for the
 * next job and stop after `idleMs` without work, so an idle daemon holds none.
 */
import { Worker } from 'node:worker_threads';
import { systemError } from './errors.js';
import { returnFreedMemory } from './malloc-trim.js';
import { keepYoungGenerationSmall } from './young-generation.js';

/** A worker thread and the handlers of the job it runs; subclasses add the job's protocol. */
export class PooledWorker<In, Out> {
  readonly thread: Worker;
  /** The running job's handler, or null when idle. */
  protected onMessage: ((m: Out) => void) | null = null;
  protected onDeath: ((err: Error) => void) | null = null;
  dead = false;
  idleTimer: NodeJS.Timeout | null = null;

  constructor(
    url: URL,
    /** What the worker does, for its errors ("layer extraction"). */
    private readonly what: string,
    onExit: () => void,
  ) {
    this.thread = new Worker(url);
    // The worker's start-up reset V8's flags, the daemon's heap settings among them.
    this.thread.once('online', keepYoungGenerationSmall);
    this.thread.on('message', (m: Out) => this.onMessage?.(m));
    this.thread.on('error', (err) => this.die(err));
    this.thread.on('exit', (code) => {
      this.die(systemError(`${this.what} worker exited (code ${code})`));
      onExit();
      // The end of a pull, load or build: what its buffers and this thread's heap took goes back.
      returnFreedMemory();
    });
  }

  private die(err: Error): void {
    if (this.dead) return;
    this.dead = true;
    this.onDeath?.(systemError(`${this.what} failed: ${err.message}`, err));
  }

  /** Sets (or with null, clears) the running job's handlers. */
  protected handle(onMessage: ((m: Out) => void) | null, onDeath: ((err: Error) => void) | null): void {
    this.onMessage = onMessage;
    this.onDeath = onDeath;
  }

  protected post(m: In, transfer?: ArrayBuffer[]): void {
    this.thread.postMessage(m, transfer);
  }
}

/** What the pool needs of a worker. */
interface Poolable {
  readonly thread: Worker;
  readonly dead: boolean;
  idleTimer: NodeJS.Timeout | null;
}

export class WorkerPool<W extends Poolable> {
  private readonly idle: W[] = [];

  constructor(
    /** Starts a worker; it calls `onExit` when its thread has exited. */
    private readonly make: (onExit: () => void) => W,
    private readonly keepIdle = 2,
    private readonly idleMs = 30_000,
  ) {}

  /** An idle worker, or a new one. Hand it back with give() once its job has settled. */
  take(): W {
    for (let w = this.idle.pop(); w; w = this.idle.pop()) {
      if (w.idleTimer) clearTimeout(w.idleTimer);
      w.idleTimer = null;
      if (!w.dead) {
        w.thread.ref();
        return w;
      }
    }
    const w = this.make(() => {
      const i = this.idle.indexOf(w);
      if (i >= 0) this.idle.splice(i, 1);
    });
    return w;
  }

  give(w: W): void {
    if (w.dead) return;
    if (this.idle.length >= this.keepIdle) {
      void w.thread.terminate();
      return;
    }
    // An idle worker keeps no daemon (or test process) alive, and goes after a while.
    w.thread.unref();
    w.idleTimer = setTimeout(() => {
      const i = this.idle.indexOf(w);
      if (i >= 0) this.idle.splice(i, 1);
      void w.thread.terminate();
    }, this.idleMs);
    w.idleTimer.unref();
    this.idle.push(w);
  }

  /** Runs `job` on a worker of the pool and hands the worker back once it has settled. */
  async use<T>(job: (w: W) => Promise<T>): Promise<T> {
    const w = this.take();
    try {
      return await job(w);
    } finally {
      this.give(w);
    }
  }

  /** Stops every idle worker (busy ones finish their job first). */
  async close(): Promise<void> {
    const all = this.idle.splice(0);
    for (const w of all) if (w.idleTimer) clearTimeout(w.idleTimer);
    await Promise.all(all.map((w) => w.thread.terminate()));
  }
}
