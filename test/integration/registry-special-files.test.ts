/**
 * A multi-layer image of special files (deletions and whiteouts, opaque dirs, a dir replaced by a
 * file, hardlinks, symlinks, setuid/setgid/sticky, file capabilities in security.capability, user
 * xattrs, fifos, device nodes, mtimes, owners), pushed to Debian's docker-registry and pulled by
 * wharfd; then checked file by file in each layer's diff dir (overlay's form) and in a running
 * container's merged rootfs, from the host and from inside the container.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type Daemon } from './harness.js';
import { buildTar, type TarEntrySpec } from '../fixtures/docker-archive.js';
import { buildImage, busyboxTar, publishImage, type BuiltImage } from '../fixtures/registry-images.js';
import { startRegistry, type RegistryProcess } from '../fixtures/registry.js';
import { chainIds } from '../../src/layer/chain-id.js';

// security.capability, VFS_CAP_REVISION_2 with the effective flag, permitted = cap_net_bind_service
// (bit 10): 20 bytes, all below 0x80, so the text PAX record carries them byte for byte.
const CAP_NET_BIND_SERVICE = Buffer.from([0x01, 0, 0, 0x02, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const OLD = new Date('2001-02-03T04:05:06Z');
const DIR_TIME = new Date('2002-03-04T05:06:07Z');

const layer1: TarEntrySpec[] = [
  { name: 'data/', type: 'directory' },
  { name: 'data/keep.txt', content: 'original\n' },
  { name: 'data/remove-me.txt', content: 'to be deleted\n' },
  { name: 'data/gone-dir/', type: 'directory' },
  { name: 'data/gone-dir/inner.txt', content: 'inner\n' },
  { name: 'opq/', type: 'directory' },
  { name: 'opq/old-a.txt', content: 'a\n' },
  { name: 'opq/sub/', type: 'directory' },
  { name: 'opq/sub/old-b.txt', content: 'b\n' },
  { name: 'replaced/', type: 'directory' },
  { name: 'replaced/child.txt', content: 'child\n' },
];

const layer2: TarEntrySpec[] = [
  { name: 'data/', type: 'directory' },
  { name: 'data/.wh.remove-me.txt' },
  { name: 'data/.wh.gone-dir' },
  { name: 'opq/', type: 'directory' },
  { name: 'opq/.wh..wh..opq' },
  { name: 'opq/new.txt', content: 'new\n' },
  { name: 'replaced', content: 'now a file\n' },
  { name: 'files/', type: 'directory' },
  { name: 'files/orig', content: 'hard\n', mode: 0o640, uid: 1000, gid: 1001 },
  { name: 'files/hardlink', type: 'link', linkname: 'files/orig' },
  { name: 'files/sym', type: 'symlink', linkname: 'orig' },
  { name: 'files/abs-sym', type: 'symlink', linkname: '/etc/passwd' },
  { name: 'files/dangling', type: 'symlink', linkname: 'nowhere/x' },
  { name: 'files/suid', content: '#!/bin/sh\n', mode: 0o4755 },
  { name: 'files/sgid', content: '#!/bin/sh\n', mode: 0o2755, gid: 1001 },
  { name: 'files/sgid-dir/', type: 'directory', mode: 0o2775, gid: 1001, mtime: DIR_TIME },
  { name: 'files/sgid-dir/inside', content: 'in\n' },
  { name: 'files/sticky/', type: 'directory', mode: 0o1777 },
  { name: 'files/cap', content: 'cap\n', mode: 0o755, pax: { 'SCHILY.xattr.security.capability': CAP_NET_BIND_SERVICE.toString('latin1') } },
  { name: 'files/user-xattr', content: 'x\n', pax: { 'SCHILY.xattr.user.wharf': 'hello' } },
  { name: 'files/fifo', type: 'fifo', mode: 0o620 },
  { name: 'files/chr', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
  { name: 'files/blk', type: 'block-device', devmajor: 7, devminor: 0, mode: 0o660, gid: 6 },
  { name: 'files/dated', content: 'old\n', mtime: OLD },
  { name: 'files/to-delete', content: 'deleted in layer 3\n' },
  { name: 'files/owned', content: 'o\n', uid: 1000, gid: 1001 },
  { name: 'files/nobody', content: 'n\n', uid: 65534, gid: 65534 },
];

const layer3: TarEntrySpec[] = [
  { name: 'data/', type: 'directory' },
  { name: 'data/keep.txt', content: 'changed\n' },
  { name: 'data/remove-me.txt', content: 'back again\n' },
  { name: 'files/', type: 'directory' },
  { name: 'files/.wh.to-delete' },
  { name: 'files/l3/', type: 'directory' },
  { name: 'files/l3/a', content: 'l3 link\n' },
  { name: 'files/l3/b', type: 'link', linkname: 'files/l3/a' },
];

let root: string;
let registry: RegistryProcess;
let d: Daemon;
let img: BuiltImage;
let ref: string;
let diffDirs: string[];
let merged: string;

const makedev = (major: number, minor: number) => (major << 8) | minor;

function xattrHex(path: string, name: string): string {
  const out = execFileSync('getfattr', ['-h', '--absolute-names', '-e', 'hex', '-n', name, path], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const m = new RegExp(`^${name.replace(/\./g, '\\.')}=0x([0-9a-f]*)$`, 'm').exec(out);
  if (!m) throw new Error(`no ${name} on ${path}: ${out}`);
  return m[1]!;
}

function hasXattr(path: string, name: string): boolean {
  try {
    xattrHex(path, name);
    return true;
  } catch {
    return false;
  }
}

async function allNames(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    out.push(e.name);
    if (e.isDirectory()) out.push(...(await allNames(join(dir, e.name))));
  }
  return out;
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'wharf-special-'));
  await mkdir(join(root, 'storage'));
  registry = await startRegistry({ dir: root, storage: join(root, 'storage') });
  img = buildImage([await busyboxTar(), await buildTar(layer1), await buildTar(layer2), await buildTar(layer3)]);
  await publishImage(registry.url, 'test/special', 'v1', img);
  ref = `${registry.host}/test/special:v1`;
  d = await startDaemon();
  const pull = await d.wharf(['pull', ref], { timeoutMs: 120_000 });
  assert.equal(pull.code, 0, pull.stderr);

  const layerdb = join(d.dataRoot, 'image/overlay2/layerdb/sha256');
  diffDirs = [];
  for (const chain of chainIds(img.layers.map((l) => l.diffId))) {
    const cacheId = (await readFile(join(layerdb, chain.slice(7), 'cache-id'), 'utf8')).trim();
    diffDirs.push(join(d.dataRoot, 'overlay2', cacheId, 'diff'));
  }
  const run = await d.wharf(['run', '-d', '--name', 'special', ref, 'sleep', '600']);
  assert.equal(run.code, 0, run.stderr);
  const mountId = (await readFile(join(d.dataRoot, 'image/overlay2/layerdb/mounts', run.stdout.trim(), 'mount-id'), 'utf8')).trim();
  merged = join(d.dataRoot, 'overlay2', mountId, 'merged');
});

after(async () => {
  if (d) {
    await d.wharf(['rm', '-f', 'special']).catch(() => undefined);
    await d.cleanup();
  }
  await registry?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('special files through a registry pull', () => {
  test('whiteouts and opaque dirs are in overlay form in the layer dirs, never as .wh. files', async () => {
    const [, l1, l2, l3] = diffDirs as [string, string, string, string];
    for (const dir of diffDirs) assert.deepEqual((await allNames(dir)).filter((n) => n.startsWith('.wh.')), [], dir);
    for (const rel of ['data/remove-me.txt', 'data/gone-dir', 'files/to-delete'].map((r) => (r.startsWith('files') ? join(l3, r) : join(l2, r)))) {
      const st = await lstat(rel);
      assert.ok(st.isCharacterDevice() && st.rdev === 0, `${rel} is a 0/0 whiteout device`);
    }
    assert.equal(xattrHex(join(l2, 'opq'), 'trusted.overlay.opaque'), '79', 'opq is opaque ("y")');
    assert.equal(hasXattr(join(l1, 'opq'), 'trusted.overlay.opaque'), false);
    assert.equal(hasXattr(join(l2, 'data'), 'trusted.overlay.opaque'), false, 'a dir with whiteouts is not opaque');
    const [a, b] = await Promise.all([lstat(join(l2, 'files/orig')), lstat(join(l2, 'files/hardlink'))]);
    assert.equal(a.ino, b.ino);
    assert.equal(a.nlink, 2);
    const [c, e] = await Promise.all([lstat(join(l3, 'files/l3/a')), lstat(join(l3, 'files/l3/b'))]);
    assert.equal(c.ino, e.ino);
    assert.equal(xattrHex(join(l2, 'files/cap'), 'security.capability'), CAP_NET_BIND_SERVICE.toString('hex'));
  });

  test('the merged rootfs shows deletions, opaque dirs and replacements as the layers say', async () => {
    const text = (rel: string) => readFile(join(merged, rel), 'utf8');
    assert.equal(await text('data/keep.txt'), 'changed\n');
    assert.equal(await text('data/remove-me.txt'), 'back again\n', 'deleted in layer 2, added again in layer 3');
    assert.deepEqual((await readdir(join(merged, 'data'))).sort(), ['keep.txt', 'remove-me.txt']);
    assert.deepEqual(await readdir(join(merged, 'opq')), ['new.txt']);
    assert.ok((await lstat(join(merged, 'replaced'))).isFile());
    assert.equal(await text('replaced'), 'now a file\n');
    await assert.rejects(lstat(join(merged, 'files/to-delete')), { code: 'ENOENT' });
    assert.equal(await text('bin/busybox').then((s) => s.length > 0), true, 'the busybox base is below');
  });

  test('links, modes, owners, mtimes, xattrs, fifos and device nodes in the merged rootfs', async () => {
    const st = (rel: string) => lstat(join(merged, rel));
    const orig = await st('files/orig');
    const hard = await st('files/hardlink');
    assert.equal(hard.ino, orig.ino, 'hardlink shares the inode');
    assert.equal(orig.mode & 0o7777, 0o640);
    assert.deepEqual([orig.uid, orig.gid], [1000, 1001]);
    assert.equal(await readlink(join(merged, 'files/sym')), 'orig');
    assert.equal(await readlink(join(merged, 'files/abs-sym')), '/etc/passwd');
    assert.equal(await readlink(join(merged, 'files/dangling')), 'nowhere/x');
    assert.equal((await st('files/suid')).mode & 0o7777, 0o4755);
    const sgid = await st('files/sgid');
    assert.deepEqual([sgid.mode & 0o7777, sgid.gid], [0o2755, 1001]);
    const sgidDir = await st('files/sgid-dir');
    assert.ok(sgidDir.isDirectory());
    assert.deepEqual([sgidDir.mode & 0o7777, sgidDir.gid], [0o2775, 1001]);
    assert.equal(sgidDir.mtime.getTime(), DIR_TIME.getTime(), 'a dir keeps its mtime after its entries are written');
    assert.equal((await st('files/sticky')).mode & 0o7777, 0o1777);
    assert.equal((await st('files/dated')).mtime.getTime(), OLD.getTime());
    const fifo = await st('files/fifo');
    assert.ok(fifo.isFIFO());
    assert.equal(fifo.mode & 0o7777, 0o620);
    const chr = await st('files/chr');
    assert.ok(chr.isCharacterDevice());
    assert.equal(chr.rdev, makedev(1, 3));
    const blk = await st('files/blk');
    assert.ok(blk.isBlockDevice());
    assert.deepEqual([blk.rdev, blk.mode & 0o7777, blk.gid], [makedev(7, 0), 0o660, 6]);
    const nobody = await st('files/nobody');
    assert.deepEqual([nobody.uid, nobody.gid], [65534, 65534]);
    assert.equal(xattrHex(join(merged, 'files/cap'), 'security.capability'), CAP_NET_BIND_SERVICE.toString('hex'));
    assert.equal(xattrHex(join(merged, 'files/user-xattr'), 'user.wharf'), Buffer.from('hello').toString('hex'));
  });

  test('inside the container the files look the same', async () => {
    const r = await d.wharf([
      'run', '--rm', ref, 'stat', '-c', '%n %a %u:%g %F %t:%T',
      '/files/suid', '/files/sgid-dir', '/files/sticky', '/files/fifo', '/files/chr', '/files/blk', '/files/owned', '/files/hardlink',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      '/files/suid 4755 0:0 regular file 0:0',
      '/files/sgid-dir 2775 0:1001 directory 0:0',
      '/files/sticky 1777 0:0 directory 0:0',
      '/files/fifo 620 0:0 fifo 0:0',
      '/files/chr 666 0:0 character special file 1:3',
      '/files/blk 660 0:6 block special file 7:0',
      '/files/owned 644 1000:1001 regular file 0:0',
      '/files/hardlink 640 1000:1001 regular file 0:0',
    ]);
    const ls = await d.wharf(['run', '--rm', ref, 'sh', '-c', 'ls -A /opq /data; cat /files/sym; [ -e /data/gone-dir ] || echo gone']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.equal(ls.stdout, '/data:\nkeep.txt\nremove-me.txt\n\n/opq:\nnew.txt\nhard\ngone\n');
  });
});
