/**
 * Worker threads for jobs that would otherwise hold up the daemon's event loop (layer
 * extraction, file tree walks). A worker runs any number of jobs at once, interleaved where each
 * waits (for input from a client, for a client to take its output), so a job stalled by a slow or
 * silent client costs its own state, never a thread. A pool starts at most `max` workers (by
 * default one per core, what the work can use), gives each job to the least busy, and stops a
 * worker `idleMs` after its last job, so an idle daemon holds none.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { systemError } from './errors.js';
import { returnFreedMemory } from './malloc-trim.js';
import { keepYoungGenerationSmall } from './young-generation.js';

interface JobHandlers<Out> {
  onMessage: (m: Out) => void;
  onDeath: (err: Error) => void;
}

/** A worker thread and the handlers of its jobs, by id; subclasses add the jobs' protocol. */
export class PooledWorker<In, Out extends { id: number }> {
  readonly thread: Worker;
  private readonly jobs = new Map<number, JobHandlers<Out>>();
  dead = false;

  constructor(
    url: URL,
    /** What the worker does, for its errors ("layer extraction"). */
    private readonly what: string,
    onExit: () => void,
  ) {
    this.thread = new Worker(url);
    // The worker's start-up reset V8's flags, the daemon's heap settings among them.
    this.thread.once('online', keepYoungGenerationSmall);
    this.thread.on('message', (m: Out) => this.jobs.get(m.id)?.onMessage(m));
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
    const failed = systemError(`${this.what} failed: ${err.message}`, err);
    for (const h of [...this.jobs.values()]) h.onDeath(failed);
    this.jobs.clear();
  }

  /** Routes job `id`'s messages (and the worker's death) to `handlers`, or with null, no longer. */
  protected handle(id: number, handlers: JobHandlers<Out> | null): void {
    if (handlers) this.jobs.set(id, handlers);
    else this.jobs.delete(id);
  }

  protected post(m: In, transfer?: ArrayBuffer[]): void {
    this.thread.postMessage(m, transfer);
  }
}

/** What the pool needs of a worker. */
interface Poolable {
  readonly thread: Worker;
  readonly dead: boolean;
}

export class WorkerPool<W extends Poolable> {
  private readonly workers = new Map<W, { jobs: number; idle: NodeJS.Timeout | null }>();

  constructor(
    /** Starts a worker; it calls `onExit` when its thread has exited. */
    private readonly make: (onExit: () => void) => W,
    private readonly max = availableParallelism(),
    private readonly idleMs = 30_000,
  ) {}

  /** The least busy live worker, or a new one while fewer than `max` run and all are busy. */
  private pick(): W {
    let best: [W, { jobs: number; idle: NodeJS.Timeout | null }] | undefined;
    for (const entry of this.workers) {
      if (entry[0].dead) continue;
      if (!best || entry[1].jobs < best[1].jobs) best = entry;
    }
    const live = [...this.workers.keys()].filter((w) => !w.dead).length;
    if (best && (best[1].jobs === 0 || live >= this.max)) return best[0];
    const w = this.make(() => {
      const s = this.workers.get(w);
      if (s?.idle) clearTimeout(s.idle);
      this.workers.delete(w);
    });
    this.workers.set(w, { jobs: 0, idle: null });
    return w;
  }

  /** Runs `job` on a worker of the pool; the worker stops `idleMs` after its last job. */
  async use<T>(job: (w: W) => Promise<T>): Promise<T> {
    const w = this.pick();
    const s = this.workers.get(w)!;
    if (s.idle) clearTimeout(s.idle);
    s.idle = null;
    if (s.jobs++ === 0) w.thread.ref();
    try {
      return await job(w);
    } finally {
      if (--s.jobs === 0 && this.workers.has(w)) {
        // An idle worker keeps no daemon (or test process) alive, and goes after a while.
        w.thread.unref();
        s.idle = setTimeout(() => {
          this.workers.delete(w);
          void w.thread.terminate();
        }, this.idleMs);
        s.idle.unref();
      }
    }
  }

  /** Stops every idle worker (busy ones finish their jobs first). */
  async close(): Promise<void> {
    const idle = [...this.workers].filter(([, s]) => s.jobs === 0);
    for (const [w, s] of idle) {
      if (s.idle) clearTimeout(s.idle);
      this.workers.delete(w);
    }
    await Promise.all(idle.map(([w]) => w.thread.terminate()));
  }
}
