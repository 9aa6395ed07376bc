import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { streamWriter } from '../../../src/api/stdcopy.js';
import { allocWithHeadroom } from '../../../src/lib/headroom.js';

/** A connection that keeps what it was given, unsent, until `send()`; it has room for much more. */
function slowConnection() {
  const held: Array<{ data: Buffer; cb: () => void }> = [];
  const sent: Buffer[] = [];
  const dest = new Writable({ highWaterMark: 1 << 20, write: (data: Buffer, _e, cb) => void held.push({ data, cb }) });
  const send = () => {
    const w = held.shift()!;
    sent.push(Buffer.from(w.data));
    w.cb();
  };
  return { dest, held, sent, send };
}

test('streamWriter calls a write back only when the connection is done with the frame, which may be the chunk itself', async () => {
  const conn = slowConnection();
  const w = streamWriter(conn.dest, 1);
  const chunk = allocWithHeadroom(5);
  chunk.write('hello');
  let called = false;
  w.write(chunk, () => (called = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(conn.held.length, 1);
  // The frame is the chunk's own memory with the header in front: no copy.
  assert.equal(conn.held[0]!.data.buffer, chunk.buffer);
  assert.equal(called, false, 'the connection still holds the frame, though it had room for more');
  conn.send();
  await new Promise((r) => setImmediate(r));
  assert.equal(called, true);
  assert.deepEqual(conn.sent[0], Buffer.concat([Buffer.from([1, 0, 0, 0, 0, 0, 0, 5]), Buffer.from('hello')]));
});

test('streamWriter calls back a write the connection never finishes once the connection closes', async () => {
  const conn = slowConnection();
  const w = streamWriter(conn.dest, null);
  let called = false;
  w.write(Buffer.from('raw'), () => (called = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(conn.held[0]!.data.toString(), 'raw');
  conn.dest.destroy();
  await new Promise((r) => setImmediate(r));
  assert.equal(called, true);
});
