/**
 * The body of an extraction worker thread (started by extract-pool.ts): layers and tars into
 * container roots, each job's input arriving as 'data' messages and acknowledged as it is
 * consumed, so the daemon never queues more than a small window of it here. Jobs interleave
 * where one waits for its input.
 */
import { parentPort } from 'node:worker_threads';
import { Readable } from 'node:stream';
import { extractLayerTar, recordLayerTar } from './extract-layer.js';
import { toWire, type ExtractJob, type FromWorker, type ToWorker } from './extract-protocol.js';
import { clampName, ContainerExtractor } from '../containerfs/extract.js';
import { directFs } from '../containerfs/fs-calls.js';
import { ContainerRoot } from '../containerfs/root.js';

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
/** The jobs in progress, by id: they interleave wherever one waits for its input. */
const jobs = new Map<number, Job>();

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

/** Extracts into a container root opened again here, its file calls made directly (fs-calls.ts). */
async function extractTree(src: Readable, job: Extract<ExtractJob, { kind: 'tree' }>): Promise<void> {
  const root = await ContainerRoot.open(job.root.hostPath, { mounts: job.root.mounts, readonlyRootfs: job.root.readonlyRootfs, fs: directFs });
  try {
    const { clampNames, ...opts } = job.opts;
    await new ContainerExtractor(root, job.dest, { ...opts, ...(clampNames ? { rename: clampName } : {}) }).extract(src);
  } finally {
    await root.close();
  }
}

async function run(j: Job, what: ExtractJob): Promise<void> {
  try {
    const src = Readable.from(input(j));
    if (what.kind === 'tree') {
      await extractTree(src, what);
      post({ t: 'done', id: j.id });
      return;
    }
    const { diffId, size } = what.kind === 'record' ? await recordLayerTar(src, what.tarSplitPath) : await extractLayerTar(src, what.diffDir, what.tarSplitPath);
    post({ t: 'done', id: j.id, diffId, size });
  } catch (err) {
    post({ t: 'fail', id: j.id, error: toWire(j.aborted ?? err) });
  } finally {
    jobs.delete(j.id);
  }
}

port.on('message', (m: ToWorker) => {
  if (m.t === 'job') {
    const j: Job = { id: m.id, queue: [], ended: false, aborted: null, wake: null };
    jobs.set(j.id, j);
    void run(j, m.job);
    return;
  }
  const j = jobs.get(m.id);
  if (!j) return; // left over from a job that has ended
  if (m.t === 'data') j.queue.push(Buffer.from(m.chunk.buffer, m.chunk.byteOffset, m.chunk.byteLength));
  else if (m.t === 'end') j.ended = true;
  else j.aborted = new Error(m.message);
  wake(j);
});
