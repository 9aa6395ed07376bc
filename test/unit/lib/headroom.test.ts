import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocWithHeadroom, takeHeadroom } from '../../../src/lib/headroom.js';
import { frame } from '../../../src/api/stdcopy.js';

test('headroom: a stdcopy frame is built in front of a payload made with room, once, without touching its bytes', () => {
  const payload = allocWithHeadroom(3);
  payload.write('abc');
  const framed = frame(2, payload);
  assert.deepEqual(framed, Buffer.from([2, 0, 0, 0, 0, 0, 0, 3, 0x61, 0x62, 0x63]));
  const inFront = (b: Buffer) => b.buffer === payload.buffer && b.byteOffset + 8 === payload.byteOffset;
  assert.ok(inFront(framed), 'the header went in front of the payload, no copy');
  assert.equal(payload.toString(), 'abc');
  // The room is taken: a second frame of the same payload is a copy, and the first stays whole.
  const again = frame(1, payload);
  assert.ok(!inFront(again));
  assert.deepEqual(again, Buffer.from([1, 0, 0, 0, 0, 0, 0, 3, 0x61, 0x62, 0x63]));
  assert.equal(framed[0], 2);
});

test('headroom: any other buffer (a pool slice, a view) has none, and more than 8 bytes are never given', () => {
  const pooled = Buffer.from('xyz');
  assert.equal(takeHeadroom(pooled, 8), undefined);
  assert.equal(takeHeadroom(Buffer.alloc(16).subarray(8), 8), undefined);
  assert.equal(takeHeadroom(allocWithHeadroom(4), 9), undefined);
  const big = allocWithHeadroom(4);
  assert.equal(takeHeadroom(big.subarray(1), 1), undefined, 'a view of it is another buffer');
  assert.deepEqual(frame(1, Buffer.from('hi')), Buffer.from([1, 0, 0, 0, 0, 0, 0, 2, 0x68, 0x69]));
});
