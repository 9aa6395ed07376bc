/** The build's message channel: a producer waits for room while the consumer has not read. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Channel } from '../../../src/daemon/build-channel.js';

describe('build channel', () => {
  test('room() waits above the high-water mark until the consumer drains, and ends with the consumer', async () => {
    const ch = new Channel();
    for (let i = 0; i < Channel.HIGH_WATER; i++) ch.push({ stream: `${i}\n` });
    let roomy = false;
    const waiting = ch.room().then(() => (roomy = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(roomy, false);
    const it = ch[Symbol.asyncIterator]();
    for (let i = 0; i < Channel.HIGH_WATER / 2 + 1; i++) assert.equal((await it.next()).value?.stream, `${i}\n`);
    await waiting;
    assert.equal(roomy, true);
    // A consumer that stops releases producers for good.
    for (let i = 0; i < Channel.HIGH_WATER; i++) ch.push({ stream: 'x' });
    await it.return(undefined);
    await ch.room();
  });
  test('an error ends the stream after the messages before it', async () => {
    const ch = new Channel();
    ch.push({ stream: 'a' });
    ch.end(new Error('boom'));
    const got: string[] = [];
    await assert.rejects(async () => {
      for await (const m of ch) got.push(m.stream!);
    }, /boom/);
    assert.deepEqual(got, ['a']);
  });
});
