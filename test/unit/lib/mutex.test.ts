import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedMutex } from '../../../src/lib/mutex.js';

test('idle settles once what was queued for the key when it was called has run, and queues nothing', async () => {
  const m = new KeyedMutex();
  const done: string[] = [];
  let releaseFirst!: () => void;
  const first = m.run('a', () => new Promise<void>((r) => (releaseFirst = r)).then(() => void done.push('first')));
  const second = m.run('a', async () => void done.push('second'));
  const idle = m.idle('a').then(() => done.push('idle'));
  // Another key is not held up, and idle adds no turn of its own.
  await m.idle('b');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(done, []);
  releaseFirst();
  await Promise.all([first, second, idle]);
  assert.deepEqual(done, ['first', 'second', 'idle']);
  // A failed holder still frees the key.
  await m.run('a', async () => Promise.reject(new Error('x'))).catch(() => undefined);
  await m.idle('a');
});
