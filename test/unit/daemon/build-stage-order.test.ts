import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HELD_LIMIT, StageOrder } from '../../../src/daemon/build-stage-order.js';

function recorder(order: StageOrder) {
  const shown: string[] = [];
  return { shown, write: (i: number, text: string) => order.write(i, text.length, () => shown.push(text)) };
}

test("later stages' output waits for the stages before them, then comes in the Dockerfile's order", () => {
  const order = new StageOrder(3);
  const { shown, write } = recorder(order);
  write(1, 'b1');
  write(0, 'a1');
  write(2, 'c1');
  write(1, 'b2');
  assert.deepEqual(shown, ['a1']);
  order.finish(2, false);
  assert.deepEqual(shown, ['a1']);
  write(0, 'a2');
  order.finish(0, false);
  // Stage 1 is shown now: its held lines, then what it writes, live.
  assert.deepEqual(shown, ['a1', 'a2', 'b1', 'b2']);
  write(1, 'b3');
  assert.deepEqual(shown, ['a1', 'a2', 'b1', 'b2', 'b3']);
  order.finish(1, false);
  assert.deepEqual(shown, ['a1', 'a2', 'b1', 'b2', 'b3', 'c1']);
});

test('a failed stage is shown up to its failure; nothing of the stages after it ever is', () => {
  const order = new StageOrder(3);
  const { shown, write } = recorder(order);
  write(1, 'b1');
  write(2, 'c1');
  order.finish(1, true);
  write(0, 'a1');
  order.finish(0, false);
  assert.deepEqual(shown, ['a1', 'b1']);
  write(2, 'c2');
  order.finish(2, false);
  assert.deepEqual(shown, ['a1', 'b1']);
});

test('a held stage waits for room once it holds HELD_LIMIT, until it is shown; the shown one waits for the client', async () => {
  const order = new StageOrder(2);
  const { write } = recorder(order);
  let clientWaits = 0;
  const client = async () => {
    clientWaits++;
  };
  await order.room(1, client);
  write(1, 'x'.repeat(HELD_LIMIT));
  let roomy = false;
  const waiting = order.room(1, client).then(() => (roomy = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(roomy, false);
  await order.room(0, client);
  assert.equal(clientWaits, 1);
  order.finish(0, false);
  await waiting;
  assert.equal(roomy, true);
  assert.equal(clientWaits, 2, 'once shown, the stage waits for the client as the others do');
});

test('a stage held back behind a failure is never left waiting for room', async () => {
  const order = new StageOrder(2);
  const { shown, write } = recorder(order);
  write(1, 'x'.repeat(HELD_LIMIT));
  const waiting = order.room(1, async () => {});
  order.finish(0, true);
  await waiting;
  assert.deepEqual(shown, []);
});
