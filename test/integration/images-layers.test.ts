/**
 * Layer store against the real kernel (root): overlay mounts, whiteouts, device nodes,
 * xattrs, and malicious tars that must never write outside the layer.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, readFile, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { isMountPoint } from '../../src/lib/mountinfo.js';
import { LayerStore } from '../../src/layer/layer-store.js';
import { buildTar } from '../fixtures/docker-archive.js';

let root: string;
let store: LayerStore;
const containers: string[] = [];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'wharf-layers-'));
  store = LayerStore.forDataRoot(join(root, 'data'));
  await store.init();
});

after(async () => {
  for (const c of containers) await store.removeRWLayer(c).catch(() => {});
  // Belt and braces: nothing of ours may stay mounted.
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(root));
  for (const l of mounts) execFileSync('umount', ['-l', l.split(' ')[4]!]);
  await rm(root, { recursive: true, force: true });
});

const apply = async (parent: string | null, tar: Buffer) => store.applyLayer(parent, Readable.from([tar]));

test('whiteouts and opaque dirs are honoured in the merged view', async () => {
  const base = await apply(
    null,
    gzipSync(
      await buildTar([
        { name: 'etc/', type: 'directory' },
        { name: 'etc/gone', content: 'old' },
        { name: 'etc/kept', content: 'kept' },
        { name: 'opq/', type: 'directory' },
        { name: 'opq/hidden', content: 'lower' },
        { name: 'bin/su', content: 'x', mode: 0o4755, uid: 1, gid: 2 },
        { name: 'tmp/', type: 'directory', mode: 0o1777 },
        { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
        { name: 'fifo', type: 'fifo' },
        { name: 'ping', content: 'p', pax: { 'SCHILY.xattr.user.note': 'hello' } },
      ]),
    ),
  );
  store.unpin(base.chainId);
  const top = await apply(
    base.chainId,
    await buildTar([
      { name: 'etc/.wh.gone', content: '' },
      { name: 'opq/.wh..wh..opq', content: '' },
      { name: 'opq/new', content: 'upper' },
    ]),
  );
  store.unpin(top.chainId);
  assert.notEqual(base.chainId, top.chainId);
  assert.equal(top.chainId, 'sha256:' + createHash('sha256').update(`${base.chainId} ${top.diffId}`).digest('hex'));

  containers.push('c-whiteout');
  await store.createRWLayer('c-whiteout', top.chainId);
  const again = await store.createRWLayer('c-whiteout', top.chainId).catch((e: unknown) => e);
  assert.match(String(again), /RW layer for container c-whiteout already exists/);
  const merged = await store.mountRW('c-whiteout');
  assert.equal(await store.mountRW('c-whiteout'), merged, 'mountRW is idempotent');
  assert.ok(await isMountPoint(merged));
  assert.ok(!existsSync(join(merged, 'etc/gone')), 'whited-out file is gone');
  assert.equal(readFileSync(join(merged, 'etc/kept'), 'utf8'), 'kept');
  assert.deepEqual(readdirSync(join(merged, 'opq')), ['new'], 'opaque dir hides lower content');
  const su = lstatSync(join(merged, 'bin/su'));
  assert.equal(su.mode & 0o7777, 0o4755);
  assert.equal(su.uid, 1);
  assert.equal(su.gid, 2);
  assert.equal(lstatSync(join(merged, 'tmp')).mode & 0o7777, 0o1777);
  const dev = lstatSync(join(merged, 'dev/null'));
  assert.ok(dev.isCharacterDevice());
  assert.equal(dev.rdev, (1 << 8) | 3);
  assert.ok(lstatSync(join(merged, 'fifo')).isFIFO());
  assert.equal(execFileSync('getfattr', ['--absolute-names', '--only-values', '-n', 'user.note', join(merged, 'ping')]).toString(), 'hello');
  // Docker's init layer is under the container layer.
  assert.ok(existsSync(join(merged, '.dockerenv')));
  assert.equal(readlinkSync(join(merged, 'etc/mtab')), '/proc/mounts');

  const gd = await store.rwGraphDriverData('c-whiteout');
  assert.equal(gd.MergedDir, merged);
  assert.equal(gd.LowerDir!.split(':').length, 3);
  assert.ok(gd.LowerDir!.split(':')[0]!.endsWith('-init/diff'));

  await import('node:fs/promises').then((fs) => fs.writeFile(join(merged, 'newfile'), '12345'));
  assert.ok((await store.rwSize('c-whiteout')) >= 5);

  await store.unmountRW('c-whiteout');
  assert.ok(!(await isMountPoint(merged)));
  await store.unmountRW('c-whiteout');
  await store.removeRWLayer('c-whiteout');
  assert.ok(!existsSync(gd.UpperDir!));
  assert.equal(await store.rwRecord('c-whiteout'), null);
});

test('the saved tar of a layer hashes to its diffID', async () => {
  const tar = await buildTar([
    { name: 'a/', type: 'directory' },
    { name: 'a/b', content: 'y'.repeat(3000) },
    { name: 'a/.wh.c', content: '' },
    { name: 'l', type: 'symlink', linkname: 'a/b' },
  ]);
  const l = await apply(null, tar);
  store.unpin(l.chainId);
  const h = createHash('sha256');
  for await (const c of await store.tarStream(l.chainId)) h.update(c);
  assert.equal(`sha256:${h.digest('hex')}`, l.diffId);
  assert.equal(await store.tarSize(l.chainId), tar.length);
});

test('malicious tars never write outside the layer', async () => {
  const outside = await mkdtemp(join(tmpdir(), 'wharf-outside-'));
  try {
    const cases: Array<[string, Buffer]> = [
      ['dotdot', await buildTar([{ name: '../evil', content: 'x' }])],
      ['dotdot-deep', await buildTar([{ name: 'a/../../evil', content: 'x' }])],
      ['symlink-parent', await buildTar([{ name: 'link', type: 'symlink', linkname: '/' }, { name: 'link/tmp/evil-symlink-parent', content: 'x' }])],
      ['symlink-parent-rel', await buildTar([{ name: 'up', type: 'symlink', linkname: '../../../../../../../..' + outside }, { name: 'up/evil', content: 'x' }])],
      ['hardlink-out', await buildTar([{ name: 'hl', type: 'link', linkname: '../../outside' }])],
      ['hardlink-abs', await buildTar([{ name: 'hl', type: 'link', linkname: '/etc/passwd' }])],
    ];
    for (const [name, tar] of cases) {
      const before = readdirSync(join(root, 'data', 'overlay2')).sort();
      await assert.rejects(apply(null, tar), (e: Error & { kind?: string }) => e.kind === 'InvalidParameter', name);
      assert.deepEqual(readdirSync(join(root, 'data', 'overlay2')).sort(), before, `${name}: nothing left behind`);
    }
    assert.ok(!existsSync(join(root, 'data', 'overlay2', 'evil')));
    assert.ok(!existsSync(join(root, 'evil')));
    assert.ok(!existsSync('/tmp/evil-symlink-parent'));
    assert.ok(!existsSync(join(outside, 'evil')));
    assert.ok(!existsSync(join(root, 'outside')));
    // An absolute entry name is made relative to the layer (as Docker does), never written to /.
    const abs = await apply(null, await buildTar([{ name: '/etc/wharf-evil-abs', content: 'x' }]));
    store.unpin(abs.chainId);
    assert.ok(!existsSync('/etc/wharf-evil-abs'));
    const info = await store.get(abs.chainId);
    assert.equal(await readFile(join(store.driver.diffDir(info!.cacheId), 'etc/wharf-evil-abs'), 'utf8'), 'x');
    // A hardlink to a file inside the layer is fine.
    const ok = await apply(null, await buildTar([{ name: 'f', content: 'z' }, { name: 'g', type: 'link', linkname: 'f' }]));
    store.unpin(ok.chainId);
    const okInfo = await store.get(ok.chainId);
    assert.equal(lstatSync(join(store.driver.diffDir(okInfo!.cacheId), 'g')).nlink, 2);
  } finally {
    await rm(outside, { recursive: true, force: true });
  }
});

test('a truncated layer leaves nothing behind', async () => {
  const tar = await buildTar([{ name: 'big', content: 'q'.repeat(5000) }]);
  const before = readdirSync(join(root, 'data', 'overlay2')).sort();
  const layersBefore = (await store.list()).sort();
  await assert.rejects(apply(null, tar.subarray(0, 2000)));
  assert.deepEqual(readdirSync(join(root, 'data', 'overlay2')).sort(), before);
  assert.deepEqual((await store.list()).sort(), layersBefore);
});

test('gc removes only layers nothing uses', async () => {
  const a = await apply(null, await buildTar([{ name: 'gc-a', content: 'a' }]));
  const b = await apply(a.chainId, await buildTar([{ name: 'gc-b', content: 'b' }]));
  store.unpin(a.chainId);
  store.unpin(b.chainId);
  containers.push('c-gc');
  await store.createRWLayer('c-gc', a.chainId);
  const res = await store.gc([b.chainId], []);
  assert.deepEqual(res.removed, [b.chainId], 'a is kept: a container sits on it');
  assert.equal(await store.has(a.chainId), true);
  await store.removeRWLayer('c-gc');
  const res2 = await store.gc([a.chainId], []);
  assert.deepEqual(res2.removed, [a.chainId]);
  assert.equal(await store.has(a.chainId), false);
});

test('a layer a gc kept only for a pin or a container is handed back for collection when let go', async () => {
  const handed: string[] = [];
  store.onReleasedAfterGc = (c) => handed.push(c);
  try {
    const a = await apply(null, await buildTar([{ name: 'pin-a', content: 'a' }]));
    // Its image went (e.g. pruned the moment it was registered) while the apply still pinned it.
    assert.deepEqual((await store.gc([a.chainId], [])).removed, []);
    assert.equal(await store.has(a.chainId), true);
    store.unpin(a.chainId);
    assert.deepEqual(handed, [a.chainId]);
    assert.deepEqual((await store.gc(handed, [])).removed, [a.chainId]);
    // A pin no gc saw is released quietly.
    const b = await apply(null, await buildTar([{ name: 'pin-b', content: 'b' }]));
    store.unpin(b.chainId);
    assert.deepEqual(handed, [a.chainId]);
    // A container on a layer whose image went (rmi -f): its removal hands the layer back.
    containers.push('c-held');
    await store.createRWLayer('c-held', b.chainId);
    assert.deepEqual((await store.gc([b.chainId], [])).removed, []);
    assert.deepEqual(handed, [a.chainId]);
    await store.removeRWLayer('c-held');
    assert.deepEqual(handed, [a.chainId, b.chainId]);
    assert.deepEqual((await store.gc([b.chainId], [])).removed, [b.chainId]);
  } finally {
    delete store.onReleasedAfterGc;
  }
});

test('an apply that finds its layer registered while a gc removes it either keeps it or makes it anew', async () => {
  const tar = await buildTar([{ name: 'race', content: 'r' }]);
  for (let i = 0; i < 20; i++) {
    const first = await apply(null, tar);
    store.unpin(first.chainId);
    // The gc decides before the apply pins; the apply's dedupe finds the layer still there.
    const staged = await store.stageLayer(Readable.from([tar]));
    const [, again] = await Promise.all([store.gc([first.chainId], []), store.commitStaged(staged, null)]);
    assert.equal(again.chainId, first.chainId);
    assert.equal(await store.has(again.chainId), true, `round ${i}: the apply returned a layer the gc removed`);
    store.unpin(again.chainId);
    await store.gc([again.chainId], []);
  }
});

test('removeOrphans clears driver dirs no record refers to, and keeps registered ones', async () => {
  const kept = await apply(null, await buildTar([{ name: 'kept', content: 'k' }]));
  store.unpin(kept.chainId);
  const orphan = 'f'.repeat(64);
  await store.driver.create(orphan, null);
  const recent = 'e'.repeat(64);
  await store.driver.create(recent, null);
  // A crash's leftover predates the store; a dir made since may be another process's apply.
  await utimes(store.driver.dir(orphan), new Date(2020, 0, 1), new Date(2020, 0, 1));
  const removed = await store.removeOrphans();
  assert.deepEqual(removed, [orphan]);
  assert.ok(!existsSync(store.driver.dir(orphan)));
  assert.ok(existsSync(store.driver.dir(recent)));
  await store.driver.remove(recent);
  const info = await store.get(kept.chainId);
  assert.ok(existsSync(store.driver.diffDir(info!.cacheId)));
  for (const l of readdirSync(join(root, 'data', 'overlay2', 'l'))) {
    assert.ok(existsSync(join(root, 'data', 'overlay2', 'l', l)), `l/${l} resolves`);
  }
});
