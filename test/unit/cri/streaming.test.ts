import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { Deflate, Z_SYNC_FLUSH } from 'pako';
import { resizeEvents, exitCodeStatus } from '../../../src/cri/streaming/remotecommand.js';
import { parseAddress } from '../../../src/cri/streaming/server.js';
import { SPDY3_DICTIONARY } from '../../../src/cri/streaming/spdy-dictionary.js';
import { FrameReader, SpdyProtocolError, encodeData } from '../../../src/cri/streaming/spdy-frames.js';
import { TokenCache } from '../../../src/cri/streaming/tokens.js';

test('tokens: single use, expire after the TTL, bounded in flight', () => {
  let now = 1_000;
  const cache = new TokenCache<string>(60_000, 2, () => now);
  const a = cache.insert('a');
  assert.match(a, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(cache.consume(a), 'a');
  assert.equal(cache.consume(a), undefined, 'a token is good once');
  const b = cache.insert('b');
  cache.insert('c');
  assert.throws(() => cache.insert('d'), /maximum number of in-flight/);
  now += 60_001;
  assert.equal(cache.consume(b), undefined, 'expired');
  cache.insert('e'); // the expired ones made room
  assert.equal(cache.size, 1);
});

test('frames: split across chunks, limits, bad versions', () => {
  const r = new FrameReader();
  const frame = encodeData(5, Buffer.from('hello'), true);
  assert.deepEqual(r.push(frame.subarray(0, 3)), []);
  const [f] = r.push(frame.subarray(3));
  assert.deepEqual(f, { type: 'data', streamId: 5, flags: 1, data: Buffer.from('hello') });

  const drip = new FrameReader();
  const two = Buffer.concat([encodeData(1, Buffer.alloc(3000, 1), false), encodeData(3, Buffer.from('x'), true)]);
  const dripped = [];
  for (let i = 0; i < two.length; i++) dripped.push(...drip.push(two.subarray(i, i + 1)));
  assert.deepEqual(dripped.map((x) => x.type === 'data' && [x.streamId, x.data.length]), [[1, 3000], [3, 1]]);

  const big = Buffer.alloc(8);
  big.writeUInt32BE(1);
  big.writeUInt32BE(2 << 20, 4);
  assert.throws(() => new FrameReader().push(big), SpdyProtocolError);

  const v2 = Buffer.from([0x80, 0x02, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 1]);
  assert.throws(() => new FrameReader().push(v2), /unsupported SPDY version 2/);
});

test('frames: SYN_STREAM headers through the shared zlib context', () => {
  const z = new Deflate({ dictionary: SPDY3_DICTIONARY });
  let out: Uint8Array[] = [];
  z.onData = (c) => out.push(c);
  const block = (pairs: Array<[string, string]>) => {
    const parts: Buffer[] = [];
    const u32 = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
    parts.push(u32(pairs.length));
    for (const [k, v] of pairs) parts.push(u32(k.length), Buffer.from(k), u32(v.length), Buffer.from(v));
    out = [];
    z.push(Buffer.concat(parts), Z_SYNC_FLUSH);
    return Buffer.concat(out);
  };
  const syn = (id: number, hb: Buffer) => {
    const b = Buffer.alloc(18);
    b.writeUInt32BE(0x80030001);
    b.writeUInt32BE(10 + hb.length, 4);
    b.writeUInt32BE(id, 8);
    return Buffer.concat([b, hb]);
  };
  const r = new FrameReader();
  const frames = r.push(Buffer.concat([syn(1, block([['streamtype', 'error']])), syn(3, block([['streamtype', 'stdout'], ['x', 'a\0b']]))]));
  assert.equal(frames.length, 2);
  const [f1, f2] = frames as Array<{ headers: Map<string, string[]> }>;
  assert.deepEqual([...f1!.headers], [['streamtype', ['error']]]);
  assert.deepEqual([...f2!.headers], [['streamtype', ['stdout']], ['x', ['a', 'b']]]);
});

test('resize: JSON sizes in any chunking; junk and out-of-range sizes are skipped', async () => {
  const input = new PassThrough();
  const ac = new AbortController();
  const sizes = resizeEvents(input, ac.signal);
  input.write('{"Width":80,"Hei');
  input.write('ght":24}\n{"Width":-1,"Height":3}\nnot json}{"Width":100,"Height":50}\n');
  input.end();
  const got = [];
  for await (const s of sizes) got.push(s);
  // Only the newest pending size is kept: the reader came late.
  assert.deepEqual(got, [{ width: 100, height: 50 }]);
});

test('status: the exit code as kubelet encodes it', () => {
  const st = exitCodeStatus(['sh', '-c', 'exit 3'], 3);
  assert.equal(st.reason, 'NonZeroExitCode');
  assert.deepEqual(st.details, { causes: [{ reason: 'ExitCode', message: '3' }] });
});

test('cri-stream-address: host:port, [v6]:port, :port', () => {
  assert.deepEqual(parseAddress(undefined), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseAddress('0.0.0.0:10010'), { host: '0.0.0.0', port: 10010 });
  assert.deepEqual(parseAddress('[::1]:7'), { host: '::1', port: 7 });
  assert.deepEqual(parseAddress(':9'), { host: '127.0.0.1', port: 9 });
  assert.throws(() => parseAddress('nohost'), /want host:port/);
});

