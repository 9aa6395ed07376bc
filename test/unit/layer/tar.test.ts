import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { chainIds } from '../../../src/layer/chain-id.js';
import { detectCompression } from '../../../src/layer/decompress.js';
import { layerRelativePath } from '../../../src/layer/extract.js';
import { TarReader, type TarRecorder } from '../../../src/layer/tar-reader.js';
import { buildTar } from '../../fixtures/docker-archive.js';

/** A PAX header block + file entry with a binary xattr value, written by hand. */
function paxTarWithBinaryXattr(value: Buffer): Buffer {
  const header = (name: string, size: number, type: string) => {
    const h = Buffer.alloc(512);
    h.write(name, 0);
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(size.toString(8).padStart(11, '0') + '\0', 124);
    h.write('00000000000\0', 136);
    h.write('        ', 148);
    h.write(type, 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    return h;
  };
  const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
  const key = Buffer.from(' SCHILY.xattr.security.capability=');
  let rec = Buffer.concat([key, value, Buffer.from('\n')]);
  let len = rec.length + 2;
  len = rec.length + String(len).length;
  rec = Buffer.concat([Buffer.from(String(len)), rec]);
  return Buffer.concat([
    header('PaxHeaders/ping', rec.length, 'x'),
    pad(rec),
    header('bin/ping', 3, '0'),
    pad(Buffer.from('abc')),
    Buffer.alloc(1024),
  ]);
}

test('PAX xattrs keep binary values byte for byte', async () => {
  const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x80, 0x20, 0x00, 0x00, 0xff, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const tarBuf = paxTarWithBinaryXattr(cap);
  const reader = new TarReader(Readable.from([tarBuf]));
  const seen: Array<[string, Buffer | undefined, string]> = [];
  for await (const e of reader.entries()) {
    let body = '';
    for await (const c of e.body()) body += c.toString();
    seen.push([e.header.name, e.header.xattrs.get('security.capability'), body]);
  }
  assert.equal(seen.length, 1);
  assert.equal(seen[0]![0], 'bin/ping');
  assert.deepEqual(seen[0]![1], cap);
  assert.equal(seen[0]![2], 'abc');
  assert.equal(reader.digest(), `sha256:${createHash('sha256').update(tarBuf).digest('hex')}`);
});

test('long names, symlinks, hardlinks, devices; digest covers the whole stream', async () => {
  const longName = 'd/' + 'x'.repeat(150) + '/file';
  const buf = await buildTar([
    { name: 'd/', type: 'directory' },
    { name: longName, content: 'hello', mode: 0o4755, uid: 1000, gid: 1000 },
    { name: 'ln', type: 'symlink', linkname: '/etc/passwd' },
    { name: 'hl', type: 'link', linkname: longName },
    { name: 'null', type: 'character-device', devmajor: 1, devminor: 3 },
  ]);
  const reader = new TarReader(Readable.from([buf.subarray(0, 700), buf.subarray(700)]));
  const got: string[] = [];
  for await (const e of reader.entries()) {
    const h = e.header;
    got.push(`${h.type}:${h.name}:${h.linkname}:${h.mode.toString(8)}:${h.uid}:${h.devmajor},${h.devminor}`);
  }
  assert.deepEqual(got, [
    'directory:d/::755:0:0,0',
    `file:${longName}::4755:1000:0,0`,
    'symlink:ln:/etc/passwd:644:0:0,0',
    `link:hl:${longName}:644:0:0,0`,
    'char:null::644:0:1,3',
  ]);
  assert.equal(reader.digest(), `sha256:${createHash('sha256').update(buf).digest('hex')}`);
});

test('recorder segments + payloads reproduce the tar exactly', async () => {
  const buf = await buildTar([
    { name: 'a', content: 'x'.repeat(1000) },
    { name: 'b/', type: 'directory' },
    { name: 'b/c', content: '' },
  ]);
  const parts: Array<Buffer | [string, number]> = [];
  const rec: TarRecorder = { segment: (b) => parts.push(Buffer.from(b)), payload: (n, s) => parts.push([n, s]) };
  const files: Record<string, Buffer> = {};
  for await (const e of new TarReader(Readable.from([buf]), rec).entries()) {
    const chunks: Buffer[] = [];
    for await (const c of e.body()) chunks.push(c);
    files[e.header.name] = Buffer.concat(chunks);
  }
  const rebuilt = Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : files[p[0]]!.subarray(0, p[1]))));
  assert.ok(rebuilt.equals(buf));
});

test('rejects non-tar input', async () => {
  const reader = new TarReader(Readable.from([Buffer.alloc(512, 7)]));
  await assert.rejects(async () => {
    for await (const e of reader.entries()) await e.skip();
  }, /invalid tar header/);
});

test("a stream ending right after the last payload is a whole archive (Go's reader), mid-padding it is not", async () => {
  const whole = await buildTar([{ name: 'a', content: 'one' }, { name: 'b', content: 'x'.repeat(47) }]);
  // Header and data of b end at 512 * 3 + 47: no padding, no end-of-archive blocks.
  const cut = whole.subarray(0, 512 * 3 + 47);
  const read = async (buf: Buffer) => {
    const out: Array<[string, string]> = [];
    for await (const e of new TarReader(Readable.from([buf])).entries()) {
      const parts: Buffer[] = [];
      for await (const c of e.body()) parts.push(c);
      out.push([e.header.name, Buffer.concat(parts).toString()]);
    }
    return out;
  };
  assert.deepEqual(await read(cut), [['a', 'one'], ['b', 'x'.repeat(47)]]);
  await assert.rejects(read(whole.subarray(0, 512 * 3 + 47 + 10)), /unexpected EOF in tar stream/);
  await assert.rejects(read(whole.subarray(0, 512 * 3 + 40)), /unexpected EOF in tar stream/);
  // The end: one zero block then nothing is whole; a second one cut short, or a header after it, is not.
  const end = 512 * 4;
  assert.equal((await read(whole.subarray(0, end + 512))).length, 2);
  await assert.rejects(read(whole.subarray(0, end + 1023)), /unexpected EOF in tar stream/);
  await assert.rejects(read(Buffer.concat([whole.subarray(0, end + 512), whole.subarray(0, 512)])), /invalid tar header/);
});

test('entry names are cleaned; escaping names are rejected', () => {
  assert.equal(layerRelativePath('/etc/passwd'), 'etc/passwd');
  assert.equal(layerRelativePath('./a/./b/../c'), 'a/c');
  assert.equal(layerRelativePath('./'), '');
  assert.throws(() => layerRelativePath('../evil'), /outside of the layer/);
  assert.throws(() => layerRelativePath('a/../../evil'), /outside of the layer/);
});

test('chain IDs follow the OCI definition', () => {
  const a = 'sha256:' + '1'.repeat(64);
  const b = 'sha256:' + '2'.repeat(64);
  const ids = chainIds([a, b]);
  assert.equal(ids[0], a);
  assert.equal(ids[1], 'sha256:' + createHash('sha256').update(`${a} ${b}`).digest('hex'));
});

test('compression is detected from magic bytes', () => {
  assert.equal(detectCompression(Buffer.from([0x1f, 0x8b, 8])), 'gzip');
  assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
  assert.equal(detectCompression(Buffer.from('ustar')), 'none');
});
