/**
 * The body of a layer extraction worker thread (started by extract-pool.ts): one job at a time,
 * its input arriving as 'data' messages and acknowledged as it is consumed, so the daemon never
 * queues more than a small window of a layer here.
 */
import { parentPort } from 'node:worker_threads';
import { Readable } from 'node:stream';
import { extractLayerTar } from './extract-layer.js';
import { toWire, type FromWorker, type ToWorker } from './extract-protocol.js';

interface Job {
  id: number;
  queue: Buffer[];
  ended: boolean;
  aborted: Error | null;
  wake: (() => void) | null;
}

const port = parentPort;
if (!port) throw new Error('extract-worker.js runs as a worker thread');
const post = (m: FromWorker) => port.postMessage(m);
let job: Job | null = null;

async function* input(j: Job): AsyncGenerator<Buffer> {
  for (;;) {
    const chunk = j.queue.shift();
    if (chunk !== undefined) {
      post({ t: 'read', id: j.id, bytes: chunk.length });
      yield chunk;
      continue;
    }
    if (j.aborted) throw j.aborted;
    if (j.ended) return;
    await new Promise<void>((resolve) => (j.wake = resolve));
  }
}

function wake(j: Job): void {
  const w = j.wake;
  j.wake = null;
  w?.();
}

async function run(j: Job, diffDir: string, tarSplitPath: string): Promise<void> {
  try {
    const { diffId, size } = await extractLayerTar(Readable.from(input(j)), diffDir, tarSplitPath);
    post({ t: 'done', id: j.id, diffId, size });
  } catch (err) {
    post({ t: 'fail', id: j.id, error: toWire(j.aborted ?? err) });
  } finally {
    if (job === j) job = null;
  }
}

port.on('message', (m: ToWorker) => {
  if (m.t === 'job') {
    job = { id: m.id, queue: [], ended: false, aborted: null, wake: null };
    void run(job, m.diffDir, m.tarSplitPath);
    return;
  }
  const j = job;
  if (!j || j.id !== m.id) return; // left over from a job that has ended
  if (m.t === 'data') j.queue.push(Buffer.from(m.chunk.buffer, m.chunk.byteOffset, m.chunk.byteLength));
  else if (m.t === 'end') j.ended = true;
  else j.aborted = new Error(m.message);
  wake(j);
});
