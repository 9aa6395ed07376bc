import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeDetached, encodeRelease, encodeRun, ReplyReader } from '../../../src/lib/spawn-frames.js';

test('spawn frames: a run request is its length, id, kind and length-prefixed fields', () => {
  const f = encodeRun(7, { file: 'ip', args: ['-batch', '-'], cwd: '/x', netns: '/n', input: 'ab' });
  const u32 = (o: number) => f.readUInt32LE(o);
  assert.equal(u32(0), f.length - 4);
  assert.equal(u32(4), 7);
  assert.equal(f.toString('latin1', 8, 9), 'r');
  assert.equal(u32(9), 2);
  assert.equal(f.toString('utf8', 13, 15), 'ip');
  assert.equal(u32(15), 2);
  assert.equal(f.toString('utf8', 19, 21), '/x');
  assert.equal(u32(21), 2);
  assert.equal(f.toString('utf8', 25, 27), '/n', 'the namespace to run in');
  assert.equal(u32(27), 3, 'argv[0] is the file');
  assert.equal(f.toString('utf8', f.length - 2), 'ab');
  const d = encodeDetached(8, { file: 'conmon', args: [], env: { A: 'b' }, pipes: ['read', 'write'] });
  assert.equal(d.toString('latin1', d.length - 2), 'rw');
  assert.match(d.toString('latin1'), /A=b/);
  assert.deepEqual([...encodeRelease([5, 9]).subarray(8)], [0x63, 2, 0, 0, 0, 5, 0, 0, 0, 9, 0, 0, 0]);
});

test('spawn frames: replies cut anywhere are read whole, in order', () => {
  const frame = (id: number, kind: string, ...fields: (number | Buffer)[]) => {
    const parts = fields.map((v) => {
      if (typeof v !== 'number') return Buffer.concat([Buffer.from(Uint32Array.of(v.length).buffer), v]);
      const b = Buffer.alloc(4);
      b.writeUInt32LE(v);
      return b;
    });
    const body = Buffer.concat([Buffer.from(Uint32Array.of(id).buffer), Buffer.from(kind), ...parts]);
    return Buffer.concat([Buffer.from(Uint32Array.of(body.length).buffer), body]);
  };
  const stream = Buffer.concat([
    frame(1, 'x', 3, 0, Buffer.from('out'), Buffer.from('err')),
    frame(2, 'x', 0xffffffff, 9, Buffer.alloc(0), Buffer.alloc(0)),
    frame(3, 'e', 2),
    frame(4, 'p', 1234, 2, 10, 11),
  ]);
  for (const step of [1, 5, stream.length]) {
    const reader = new ReplyReader();
    const got = [];
    for (let i = 0; i < stream.length; i += step) got.push(...reader.push(stream.subarray(i, i + step)));
    assert.deepEqual(got, [
      { id: 1, kind: 'exited', code: 3, signal: 0, stdout: Buffer.from('out'), stderr: Buffer.from('err') },
      { id: 2, kind: 'exited', code: null, signal: 9, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) },
      { id: 3, kind: 'failed', errno: 2 },
      { id: 4, kind: 'started', pid: 1234, fds: [10, 11] },
    ]);
  }
});
