/**
 * The synchronous tree walk (walk.ts) and its worker pool (walk-pool.ts): what the tar holds for
 * each kind of entry, the options commit, COPY and `cp` use, and that the pool's walk is the same
 * tar, stops when its consumer goes away and hashes as the classic builder does.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, readdirSync } from 'node:fs';
import { chmod, link, lstat, mkdir, mkdtemp, open, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { TarReader, type TarHeader } from '../../../src/layer/tar-reader.js';
import { tarEntryBlocks } from '../../../src/lib/tar-writer.js';
import { llistxattr, lsetxattr } from '../../../src/layer/xattr.js';
import { gathered, walkTar } from '../../../src/containerfs/walk.js';
import { WalkPool } from '../../../src/containerfs/walk-pool.js';
import { treeHash } from '../../../src/containerfs/tree-hash.js';
import { makeDeepTree } from '../../lib/deep-tree.js';

let dir: string;
const CAPABILITY = Buffer.from([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const pool = new WalkPool(1, 60_000);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-walk-'));
  // tree/: a setuid file, a nested file, a symlink, two hard links, a FIFO, a socket and a device.
  const t = join(dir, 'tree');
  await mkdir(join(t, 'sub/deeper'), { recursive: true });
  await writeFile(join(t, 'a'), 'alpha');
  await chmod(join(t, 'a'), 0o4755);
  await writeFile(join(t, 'sub/deeper/b'), 'b'.repeat(70_000));
  await symlink('../a', join(t, 'sub/up'));
  await writeFile(join(t, 'sub/h1'), 'shared');
  await link(join(t, 'sub/h1'), join(t, 'sub/h2'));
  execFileSync('mkfifo', [join(t, 'fifo')]);
  execFileSync('mknod', [join(t, 'whiteout'), 'c', '0', '0']);
  socketFile(join(t, 'sock'));
  // An opaque directory as overlayfs marks it, and a file capability (cap_net_raw, VFS_CAP_REVISION_2).
  lsetxattr(join(t, 'sub'), 'trusted.overlay.opaque', Buffer.from('y'));
  lsetxattr(join(t, 'a'), 'security.capability', CAPABILITY);
  // other/: what a mount laid over tree/sub would show.
  await mkdir(join(dir, 'other'));
  await writeFile(join(dir, 'other/from-mount'), 'mounted');
});

after(async () => {
  await pool.close();
  // rm(1) removes a tree deeper than PATH_MAX; node's rm walks it by path.
  execFileSync('rm', ['-rf', dir]);
});

/** A unix socket's file left behind, as by a process that exits without closing its server (closing one unlinks it). */
function socketFile(path: string): void {
  execFileSync(process.execPath, ['-e', 'require("net").createServer().listen(process.argv[1], () => process.exit(0))', path]);
  assert.ok(lstatSync(path).isSocket());
}

interface Entry {
  h: TarHeader;
  body: string;
}

async function entries(tar: Readable | Iterable<Buffer>): Promise<Entry[]> {
  const src = tar instanceof Readable ? tar : Readable.from(tar);
  const out: Entry[] = [];
  for await (const e of new TarReader(src, undefined, { digest: false }).entries()) {
    const parts: Buffer[] = [];
    for await (const c of e.body()) parts.push(c);
    out.push({ h: e.header, body: Buffer.concat(parts).toString() });
  }
  return out;
}

const byName = (all: Entry[]) => new Map(all.map((e) => [e.h.name, e]));

test('walk: each kind of entry as Docker archives it, sockets left out, a second hard link as a link', async () => {
  const all = byName(await entries(walkTar({ at: join(dir, 'tree'), name: 'tree' })));
  assert.deepEqual([...all.keys()].sort(), ['tree/', 'tree/a', 'tree/fifo', 'tree/sub/', 'tree/sub/deeper/', 'tree/sub/deeper/b', 'tree/sub/h1', 'tree/sub/h2', 'tree/sub/up', 'tree/whiteout']);
  assert.equal(all.get('tree/a')!.h.mode & 0o7777, 0o4755);
  assert.equal(all.get('tree/a')!.body, 'alpha');
  assert.deepEqual([...all.get('tree/a')!.h.xattrs], [['security.capability', CAPABILITY]], 'a file capability travels, as in Docker\'s tars');
  assert.deepEqual([...all.get('tree/sub/h1')!.h.xattrs], [], 'no other attribute does');
  assert.equal(all.get('tree/sub/deeper/b')!.body.length, 70_000);
  assert.equal(all.get('tree/sub/up')!.h.type, 'symlink');
  assert.equal(all.get('tree/sub/up')!.h.linkname, '../a');
  assert.equal(all.get('tree/sub/h1')!.body, 'shared');
  assert.equal(all.get('tree/sub/h2')!.h.type, 'link');
  assert.equal(all.get('tree/sub/h2')!.h.linkname, 'tree/sub/h1');
  assert.equal(all.get('tree/fifo')!.h.type, 'fifo');
  assert.equal(all.get('tree/whiteout')!.h.type, 'char');
});

test('walk: children only, with --chmod, overlay whiteouts and opaque dirs, and a mount laid over an entry', async () => {
  const all = byName(
    await entries(
      walkTar(
        { at: join(dir, 'tree'), name: '', children: true },
        { chmod: 0o640, whiteouts: true, mounts: new Map([['sub/deeper', join(dir, 'other')]]) },
      ),
    ),
  );
  assert.ok(!all.has('/') && !all.has('tree/'), 'the directory itself is not an entry');
  assert.equal(all.get('a')!.h.mode & 0o7777, 0o640);
  assert.equal(all.get('sub/')!.h.mode & 0o7777, 0o640);
  assert.ok(all.has('.wh.whiteout') && !all.has('whiteout'), 'a 0:0 char device is a whiteout');
  assert.ok(all.has('sub/.wh..wh..opq'), 'trusted.overlay.opaque makes an opaque marker');
  assert.ok(!all.has('sub/deeper/.wh..wh..opq'));
  assert.equal(all.get('sub/deeper/from-mount')!.body, 'mounted', 'the mount source is walked in place of the entry');
  assert.ok(!all.has('sub/deeper/b'));
});

test('walk: an entry gone before the walk is an empty tar, and a root of "" is named /', async () => {
  assert.deepEqual(await entries(walkTar({ at: join(dir, 'missing'), name: 'x' })), []);
  const all = await entries(walkTar({ at: join(dir, 'other'), name: '' }));
  assert.deepEqual(all.map((e) => e.h.name), ['/', '/from-mount']);
});

test('tar entry blocks: a body longer than the header says is cut, a shorter one zero-filled', async () => {
  const h = { name: 'f', type: 'file' as const, mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 4 };
  const cut = await entries([...tarEntryBlocks(h, [Buffer.from('abcdef')]), Buffer.alloc(1024)]);
  assert.equal(cut[0]!.body, 'abcd');
  const filled = await entries([...tarEntryBlocks(h, [Buffer.from('ab')]), Buffer.alloc(1024)]);
  assert.equal(filled[0]!.body, 'ab\0\0');
});

test('gathered: pieces joined into buffers of the size asked, the last one shorter, bytes unchanged', async () => {
  const pieces = [Buffer.from('abc'), Buffer.from('defgh'), Buffer.from(''), Buffer.from('ij')];
  const out: Buffer[] = [];
  for await (const b of gathered(pieces, 4)) out.push(b);
  assert.deepEqual(out.map((b) => b.length), [4, 4, 2]);
  assert.equal(Buffer.concat(out).toString(), 'abcdefghij');
});

test('walk pool: the same tar as the walk in this thread', async () => {
  const spec = { at: join(dir, 'tree'), name: 'tree' };
  const inThread = Buffer.concat([...walkTar(spec)]);
  const tar = pool.tar(spec);
  const parts: Buffer[] = [];
  for await (const c of tar) parts.push(c as Buffer);
  await tar.stopped;
  assert.ok(Buffer.concat(parts).equals(inThread));
});

test('walk pool: a consumer that goes away stops the walk, and the worker walks again after', async () => {
  // 256 MiB (sparse): far beyond the window the worker may send ahead of its consumer.
  const big = join(dir, 'big');
  await mkdir(big);
  await (await open(join(big, 'sparse'), 'w')).close();
  await truncate(join(big, 'sparse'), 256 << 20);
  const tar = pool.tar({ at: big, name: 'big' });
  const first = await new Promise<Buffer>((resolve) => tar.once('data', resolve));
  assert.ok(first.length > 0);
  tar.destroy();
  // Without the abort the worker would wait for acknowledgements that never come.
  await tar.stopped;
  const again = await entries(pool.tar({ at: join(dir, 'other'), name: 'o' }));
  assert.deepEqual(again.map((e) => e.h.name), ['o/', 'o/from-mount']);
});

test('walk pool: a walk its consumer stalls holds its job, not the thread: another walk on the one worker finishes', async () => {
  const big = join(dir, 'stalled');
  await mkdir(big);
  await (await open(join(big, 'sparse'), 'w')).close();
  await truncate(join(big, 'sparse'), 64 << 20);
  const one = new WalkPool(1, 60_000);
  try {
    const stalled = one.tar({ at: big, name: 'big' });
    await new Promise((resolve) => stalled.once('data', resolve));
    stalled.pause();
    const threads = readdirSync('/proc/self/task').length;
    const other = await entries(one.tar({ at: join(dir, 'other'), name: 'o' }));
    assert.deepEqual(other.map((e) => e.h.name), ['o/', 'o/from-mount']);
    assert.equal(readdirSync('/proc/self/task').length, threads, 'a second worker thread was started');
    stalled.destroy();
    await stalled.stopped;
  } finally {
    await one.close();
  }
});

test('walk pool: the classic hash of a tree, changed by a mode, undefined for a missing path', async () => {
  const at = join(dir, 'tree/sub');
  const hash = await pool.hash(at);
  assert.equal(hash, treeHash(at));
  assert.match(hash!, /^dir:[0-9a-f]{64}$/);
  assert.match((await pool.hash(join(dir, 'tree/a')))!, /^file:[0-9a-f]{64}$/);
  await chmod(join(at, 'h1'), 0o600);
  assert.notEqual(await pool.hash(at), hash);
  assert.equal(await pool.hash(join(dir, 'nope')), undefined);
});

test('walk pool: a hash of a big tree is done in slices: a walk on the same worker finishes first', async () => {
  const big = join(dir, 'hash-big');
  await mkdir(big);
  // Sparse: a gigabyte of zeros to hash (seconds of sha256) and no disk used.
  await writeFile(join(big, 'zeros'), '');
  await truncate(join(big, 'zeros'), 1 << 30);
  const one = new WalkPool(1, 60_000);
  try {
    const order: string[] = [];
    const hashed = one.hash(big).then((h) => order.push(`hash ${h?.slice(0, 4)}`));
    const walked = entries(one.tar({ at: join(dir, 'other'), name: 'o' })).then((all) => order.push(`walk ${all.length}`));
    await Promise.all([hashed, walked]);
    assert.deepEqual(order, ['walk 2', 'hash dir:']);
  } finally {
    await one.close();
  }
});

test('walk and hash: a nesting deeper than the bound fails as Docker\'s walk fails past PATH_MAX, without exhausting fds or the stack', async () => {
  const root = join(dir, 'deep');
  makeDeepTree(root, 2100);
  assert.throws(() => [...walkTar({ at: root, name: 'deep' })], /file name too long/);
  assert.throws(() => treeHash(root), /file name too long/);
  const tar = pool.tar({ at: root, name: 'deep' });
  await assert.rejects(entries(tar), /file name too long/);
  await tar.stopped;
});

test('walk as a layer: the upper dir left as extracting its tar would make it (times, attributes, no socket)', async () => {
  const up = join(dir, 'as-layer');
  await mkdir(join(up, 'opq'), { recursive: true });
  await writeFile(join(up, 'f'), 'file');
  await symlink('f', join(up, 'l'));
  lsetxattr(join(up, 'f'), 'user.note', Buffer.from('not in any tar'));
  lsetxattr(join(up, 'f'), 'security.capability', CAPABILITY);
  lsetxattr(join(up, 'opq'), 'trusted.overlay.opaque', Buffer.from('y'));
  lsetxattr(join(up, 'opq'), 'trusted.overlay.impure', Buffer.from('y'));
  await utimes(join(up, 'f'), 1_000_000.75, 1_000_000.25);
  socketFile(join(up, 'sock'));
  socketFile(join(up, 'opq/sock'));
  const all = byName(await entries(walkTar({ at: up, name: '', children: true }, { whiteouts: true, asLayer: true })));
  assert.deepEqual([...all.keys()].sort(), ['f', 'l', 'opq/', 'opq/.wh..wh..opq']);
  assert.deepEqual([...all.get('f')!.h.xattrs.keys()], ['security.capability']);
  await assert.rejects(lstat(join(up, 'sock')), { code: 'ENOENT' }, 'a socket no tar carries is removed');
  await assert.rejects(lstat(join(up, 'opq/sock')), { code: 'ENOENT' });
  assert.deepEqual(llistxattr(join(up, 'f')), ['security.capability']);
  assert.deepEqual(llistxattr(join(up, 'opq')), ['trusted.overlay.opaque']);
  // opq's time is its tar entry's though the socket in it went after it was archived.
  for (const name of ['f', 'l', 'opq']) {
    const st = await lstat(join(up, name));
    assert.equal(st.mtimeMs % 1000, 0, `${name}: whole seconds`);
    assert.equal(st.atimeMs, st.mtimeMs, `${name}: atime as extraction sets it`);
    assert.equal(Math.floor(st.mtimeMs / 1000), all.get(name === 'opq' ? 'opq/' : name)!.h.mtime);
  }
  assert.equal((await lstat(join(up, 'f'))).mtimeMs, 1_000_000_000);
});
