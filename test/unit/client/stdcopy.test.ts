import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { demuxBuffer, demuxStream, StdcopyError } from '../../../src/client/stdcopy.js';
import { decodeJsonStream } from '../../../src/client/json-stream.js';
import { encodeQuery, compareApiVersions } from '../../../src/client/engine-client.js';
import { parseHost, resolveHost } from '../../../src/client/host.js';

function frame(stream: number, data: string): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(Buffer.byteLength(data), 4);
  return Buffer.concat([h, Buffer.from(data)]);
}

async function collect(s: PassThrough): Promise<string> {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => s.on('end', () => resolve(Buffer.concat(chunks).toString())));
}

describe('stdcopy demux', () => {
  it('splits frames onto stdout and stderr, even when split across chunks', async () => {
    const all = Buffer.concat([frame(1, 'out1\n'), frame(2, 'err1\n'), frame(1, 'out2\n')]);
    const chunks = [all.subarray(0, 3), all.subarray(3, 11), all.subarray(11)];
    const out = new PassThrough();
    const err = new PassThrough();
    const outP = collect(out);
    const errP = collect(err);
    await demuxStream(Readable.from(chunks), out, err);
    out.end();
    err.end();
    assert.equal(await outP, 'out1\nout2\n');
    assert.equal(await errP, 'err1\n');
  });

  it('fails on a truncated frame and on daemon error frames', async () => {
    assert.throws(() => demuxBuffer(frame(1, 'abc').subarray(0, 9)), StdcopyError);
    assert.throws(() => demuxBuffer(frame(3, 'boom')), /error from daemon in stream: boom/);
    await assert.rejects(demuxStream(Readable.from([frame(1, 'abc').subarray(0, 9)]), new PassThrough(), new PassThrough()), StdcopyError);
  });
});

describe('client helpers', () => {
  it('decodes newline separated and concatenated JSON', async () => {
    const msgs: unknown[] = [];
    for await (const m of decodeJsonStream(Readable.from(['{"status":"a"}\n{"sta', 'tus":"b"}{"id":"c"}']))) msgs.push(m);
    assert.deepEqual(msgs, [{ status: 'a' }, { status: 'b' }, { id: 'c' }]);
  });

  it('resolves hosts in Docker order', () => {
    assert.equal(resolveHost(undefined, {}), 'unix:///run/wharf.sock');
    assert.equal(resolveHost(undefined, { DOCKER_HOST: 'tcp://1.2.3.4:2375' }), 'tcp://1.2.3.4:2375');
    assert.equal(resolveHost(undefined, { DOCKER_HOST: 'x', WHARF_HOST: 'unix:///w.sock' }), 'unix:///w.sock');
    assert.equal(resolveHost('unix:///flag.sock', { WHARF_HOST: 'y' }), 'unix:///flag.sock');
    assert.deepEqual(parseHost('tcp://127.0.0.1:2376'), { kind: 'tcp', host: '127.0.0.1', port: 2376, url: 'tcp://127.0.0.1:2376' });
    assert.equal(parseHost('unix:///run/x.sock').kind, 'unix');
  });

  it('encodes queries and compares API versions', () => {
    assert.equal(encodeQuery({ a: true, b: undefined, c: ['x', 'y z'], d: 5 }), '?a=1&c=x&c=y%20z&d=5');
    assert.equal(compareApiVersions('1.41', '1.50'), -1);
    assert.equal(compareApiVersions('1.50', '1.50'), 0);
    assert.equal(compareApiVersions('1.100', '1.50'), 1);
  });
});
