/**
 * The hostile-archive corpus through the layer extractor alone (reader, tar-split recorder,
 * extractor), as a pull, load or import runs it: every case is refused or kept inside the layer
 * directory, and the bait next to it is untouched. The same corpus goes through the daemon's four
 * entry points in test/integration/hostile-archives.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { isEngineError } from '../../../src/lib/errors.js';
import { LayerExtractor, layerRelativePathOrNull } from '../../../src/layer/extract.js';
import { TarReader } from '../../../src/layer/tar-reader.js';
import { TarSplitWriter } from '../../../src/layer/tar-split.js';
import { hostileCases, makeBait, paxRecord, rawTar, snapshotTree } from '../../fixtures/hostile-archives.js';

let root: string;
let bait: string;
let baseline: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'wharf-hostile-'));
  bait = await makeBait(root);
  baseline = await snapshotTree(root);
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function extract(tar: Buffer, chunk = 4096): Promise<{ dir: string; err?: unknown }> {
  const dir = await mkdtemp(join(root, 'layer-'));
  const diff = join(dir, 'diff');
  await mkdir(diff);
  const split = new TarSplitWriter(join(dir, 'tar-split.json.gz'), layerRelativePathOrNull);
  const parts: Buffer[] = [];
  for (let i = 0; i < tar.length; i += chunk) parts.push(tar.subarray(i, i + chunk));
  try {
    await new LayerExtractor(diff).extract(new TarReader(Readable.from(parts), split));
    await split.close();
    return { dir };
  } catch (err) {
    await split.abort();
    return { dir, err };
  }
}

for (const c of hostileCases('/BAIT')) {
  test(`layer: ${c.name}`, async () => {
    const [hc] = hostileCases(bait).filter((x) => x.name === c.name);
    const { dir, err } = await extract(hc!.tar);
    try {
      if (hc!.layer === 'refused') {
        assert.ok(err, 'the layer was accepted');
        assert.ok(isEngineError(err, 'InvalidParameter'), `not a 400: ${String(err)}`);
        if (hc!.message) assert.match((err as Error).message, hc!.message);
      } else if (hc!.layer === 'accepted') {
        assert.equal(err, undefined, `refused: ${String(err)}`);
      } else if (err) {
        assert.ok(isEngineError(err, 'InvalidParameter'), `not a 400: ${String(err)}`);
      }
      // Nothing outside the layer's own directory changed, and nothing appeared beside the bait.
      await rm(dir, { recursive: true, force: true });
      assert.equal(await snapshotTree(root), baseline);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test('layer: valid xattrs are set on the entry itself, never through a symlink', async () => {
  const cap = Buffer.from([0x01, 0, 0, 0x02, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const tar = rawTar([
    { name: 'bin', body: 'x', mode: 0o755, pax: [['SCHILY.xattr.security.capability', cap], ['SCHILY.xattr.user.note', 'a=b\nc']] },
    { name: 'link', type: '2', linkname: `${bait}/secret`, pax: [['SCHILY.xattr.trusted.wharf', 'on-the-link']] },
    { name: 'lib', body: 'y', pax: [[`LIBARCHIVE.xattr.${encodeURIComponent('user.with space')}`, Buffer.from('v').toString('base64')]] },
    // The kernel permits no user.* on a symlink (EPERM): skipped as Docker skips it, and not set on the target either.
    { name: 'ulink', type: '2', linkname: `${bait}/bin`, pax: [['SCHILY.xattr.user.x', 'v']] },
  ]);
  const { dir, err } = await extract(tar);
  try {
    assert.equal(err, undefined, String(err));
    const get = (p: string) => execFileSync('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', join(dir, 'diff', p)], { encoding: 'utf8' });
    assert.match(get('bin'), new RegExp(`security.capability=0x${cap.toString('hex')}`));
    assert.match(get('bin'), new RegExp(`user.note=0x${Buffer.from('a=b\nc').toString('hex')}`));
    assert.match(get('link'), new RegExp(`trusted.wharf=0x${Buffer.from('on-the-link').toString('hex')}`));
    assert.match(get('lib'), /user.with space=0x76/);
    assert.equal(await snapshotTree(root).then((s) => s.split('\n').filter((l) => l.startsWith(bait)).join('\n')), baseline.split('\n').filter((l) => l.startsWith(bait)).join('\n'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('layer: a 1 MiB PAX record split into tiny chunks is read whole (linear reader)', async () => {
  const comment = Buffer.alloc((1 << 20) - 64, 0x61);
  const tar = rawTar([{ name: 'a', body: 'x', pax: [['comment', comment]] }]);
  assert.ok(tar.length > 1 << 20);
  const { dir, err } = await extract(tar, 61);
  await rm(dir, { recursive: true, force: true });
  assert.equal(err, undefined, String(err));
});

test('layer: header-only types carry no payload whatever their size field says (as in Go)', async () => {
  // A directory header claiming 512 bytes of payload, followed straight by a file header: Docker reads the file.
  const withSize = rawTar([{ name: 'd/', type: '5' }, { name: 'd/f', body: 'f\n' }]);
  const h = Buffer.from(withSize.subarray(0, 512));
  h.write('00000001000\0', 124, 12, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  const { dir, err } = await extract(Buffer.concat([h, withSize.subarray(512)]));
  try {
    assert.equal(err, undefined, String(err));
    assert.deepEqual(await readdir(join(dir, 'diff', 'd')), ['f']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('layer: consecutive header records are limited one by one, not only in sum', async () => {
  const records = Array.from({ length: 3 }, () => ({ name: 'PaxHeaders/x', type: 'x', body: paxRecord('comment', Buffer.alloc(900_000, 0x62)) }));
  const { dir, err } = await extract(rawTar([...records, { name: 'a', body: 'x' }]));
  await rm(dir, { recursive: true, force: true });
  assert.equal(err, undefined, String(err));
});

test('layer: data after the end of the archive is hashed and recorded piece by piece, never held whole', async () => {
  const tar = Buffer.concat([rawTar([{ name: 'a', body: 'x' }]), Buffer.alloc(8 << 20, 0x7a)]);
  const parts: Buffer[] = [];
  let largest = 0;
  const chunks: Buffer[] = [];
  for (let i = 0; i < tar.length; i += 65536) chunks.push(tar.subarray(i, i + 65536));
  const reader = new TarReader(Readable.from(chunks), {
    segment: (b) => {
      largest = Math.max(largest, b.length);
      parts.push(Buffer.from(b));
    },
    payload: (_n, size) => parts.push(Buffer.from('x'.repeat(size))),
  });
  for await (const e of reader.entries()) await e.skip();
  assert.ok(Buffer.concat(parts).equals(tar), 'the record does not rebuild the stream');
  assert.ok(largest <= 65536, `a segment of ${largest} bytes`);
  assert.equal(reader.digest(), `sha256:${createHash('sha256').update(tar).digest('hex')}`);
});
