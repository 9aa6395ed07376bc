/**
 * The body of a file tree worker thread (started by walk-pool.ts): tar walks and layers' tars
 * rebuilt, whose output goes back a bounded window at a time, and tree hashes and sizes. Jobs interleave
 * where one waits for its consumer; a hash yields every few milliseconds.
 */
import { parentPort } from 'node:worker_threads';
import { toWire } from '../layer/extract-protocol.js';
import { treeHashSteps } from './tree-hash.js';
import { dirSize } from '../lib/dir-size.js';
import { globTree } from './go-match.js';
import { assembleTarPieces } from '../layer/tar-split.js';
import { gathered, walkTar } from './walk.js';
import type { FromWorker, ToWorker } from './walk-protocol.js';
import type { CopyFilterSpec } from './copy-filter.js';

/**
 * The walk's pieces (512-byte headers, small files) cross in messages of this size: each wakes
 * the daemon. Another is sent while less than WINDOW is untaken, so the daemon holds at most two
 * per stream: a client that opens archives and reads none holds 1 MiB each. (A 2 MiB window
 * copied a 200 MB file out about a tenth faster; 256 KiB messages a fifth slower.)
 */
const BATCH = 512 << 10;
const WINDOW = BATCH;

interface Job {
  id: number;
  outstanding: number;
  aborted: boolean;
  wake: (() => void) | null;
}

const port = parentPort;
if (!port) throw new Error('walk-worker.js runs as a worker thread');
const post = (m: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);
/** The jobs in progress, by id: they interleave wherever one waits for its consumer. */
const jobs = new Map<number, Job>();

/** Sends `pieces` (a tar) in BATCH-sized messages, at most WINDOW ahead of what the daemon has taken. */
async function stream(j: Job, pieces: Iterable<Buffer> | AsyncIterable<Buffer>): Promise<void> {
  try {
    for await (const chunk of gathered(pieces, BATCH)) {
      while (j.outstanding >= WINDOW && !j.aborted) await new Promise<void>((resolve) => (j.wake = resolve));
      if (j.aborted) break; // leaving the loop closes what the walk holds open
      j.outstanding += chunk.length;
      // A buffer of its own (gathered()): its memory moves to the daemon's thread.
      post({ t: 'data', id: j.id, chunk }, [chunk.buffer as ArrayBuffer]);
    }
    post({ t: 'done', id: j.id });
  } catch (err) {
    post({ t: 'fail', id: j.id, error: toWire(err) });
  } finally {
    jobs.delete(j.id);
  }
}

/** How long a hash runs before the worker turns to its other jobs' messages. */
const SLICE_MS = 4;

/** The classic hash of `at`, a time slice at a time: a COPY of a big tree holds up no walk that shares this thread. */
async function hash(id: number, at: string, filter: CopyFilterSpec | undefined): Promise<void> {
  try {
    const steps = treeHashSteps(at, filter);
    for (;;) {
      const until = performance.now() + SLICE_MS;
      let r = steps.next();
      while (!r.done && performance.now() < until) r = steps.next();
      if (r.done) {
        post({ t: 'done', id, ...(r.value !== undefined ? { hash: r.value } : {}) });
        return;
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } catch (err) {
    post({ t: 'fail', id, error: toWire(err) });
  }
}

function wake(j: Job): void {
  const w = j.wake;
  j.wake = null;
  w?.();
}

port.on('message', (m: ToWorker) => {
  if (m.t === 'walk' || m.t === 'assemble') {
    const j: Job = { id: m.id, outstanding: 0, aborted: false, wake: null };
    jobs.set(j.id, j);
    void stream(j, m.t === 'walk' ? walkTar(m.spec, m.opts) : assembleTarPieces(m.tarSplitPath, m.diffDir));
    return;
  }
  if (m.t === 'size') {
    try {
      post({ t: 'done', id: m.id, size: dirSize(m.path) });
    } catch (err) {
      post({ t: 'fail', id: m.id, error: toWire(err) });
    }
    return;
  }
  if (m.t === 'glob') {
    try {
      post({ t: 'done', id: m.id, paths: globTree(m.at, m.pattern) });
    } catch (err) {
      post({ t: 'fail', id: m.id, error: toWire(err) });
    }
    return;
  }
  if (m.t === 'hash') {
    void hash(m.id, m.at, m.filter);
    return;
  }
  const j = jobs.get(m.id);
  if (!j) return; // left over from a job that has ended
  if (m.t === 'read') j.outstanding -= m.bytes;
  else j.aborted = true;
  wake(j);
});
