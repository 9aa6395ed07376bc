import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { frame, GrpcError, readMessages, Status } from '../../../src/buildkit/grpc.js';

async function all(chunks: Buffer[]): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const m of readMessages(Readable.from(chunks))) out.push(Buffer.from(m));
  return out;
}

test('messages come out whole however the stream splits them', async () => {
  const msgs = [Buffer.from('first'), Buffer.alloc(0), Buffer.alloc(70_000, 7), Buffer.from('last')];
  const wire = Buffer.concat(msgs.map(frame));
  for (const size of [1, 3, 5, 6, 4096, wire.length]) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < wire.length; i += size) chunks.push(wire.subarray(i, i + size));
    assert.deepEqual(await all(chunks), msgs, `chunks of ${size}`);
  }
});

test('a stream cut inside a message, a compressed message or an oversized one is an error', async () => {
  const cut = frame(Buffer.from('whole message')).subarray(0, 9);
  await assert.rejects(all([cut]), (e: unknown) => e instanceof GrpcError && e.code === Status.INTERNAL);
  const compressed = frame(Buffer.from('x'));
  compressed[0] = 1;
  await assert.rejects(all([compressed]), (e: unknown) => e instanceof GrpcError && e.code === Status.UNIMPLEMENTED);
  const huge = Buffer.alloc(5);
  huge.writeUInt32BE(0xffffffff, 1);
  await assert.rejects(all([huge]), (e: unknown) => e instanceof GrpcError && e.code === Status.RESOURCE_EXHAUSTED);
});
