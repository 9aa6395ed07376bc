/**
 * Layers extracted by the store (on its worker threads) against the real kernel: the result is
 * GNU tar's for every kind of entry (modes, owners, mtimes, xattrs, hardlinks, symlinks, fifos,
 * devices), whiteouts are char 0/0 nodes of the entry's owner however they are made, errors keep
 * their kind across the thread, and a failing source leaves nothing behind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { setImmediate as turn } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { isEngineError } from '../../src/lib/errors.js';
import { LayerStore } from '../../src/layer/layer-store.js';
import { buildTar, type TarEntrySpec } from '../fixtures/docker-archive.js';
import { hostileCases, makeBait, snapshotTree } from '../fixtures/hostile-archives.js';

let root: string;
let store: LayerStore;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'wharf-extract-'));
  store = LayerStore.forDataRoot(join(root, 'data'));
  await store.init();
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Extracts through the store and returns the layer's diff dir. */
async function stage(tar: Buffer, opts: { gzip?: boolean } = {}): Promise<string> {
  const blob = opts.gzip ? gzipSync(tar) : tar;
  const parts: Buffer[] = [];
  for (let i = 0; i < blob.length; i += 16384) parts.push(blob.subarray(i, i + 16384));
  const staged = await store.stageLayer(Readable.from(parts));
  assert.equal(staged.diffId, `sha256:${createHash('sha256').update(tar).digest('hex')}`);
  return store.driver.diffDir(staged.cacheId);
}

/** One line per path: kind, mode, owner, mtime, rdev, content or target, xattrs, and which earlier path it is a hardlink of. */
function describeTree(dir: string): string[] {
  const lines: string[] = [];
  const inodes = new Map<number, string>();
  const walk = (rel: string) => {
    const p = join(dir, rel);
    const st = lstatSync(p);
    const kind = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFile() ? 'f' : st.isFIFO() ? 'p' : st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : '?';
    const content = st.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16) : st.isSymbolicLink() ? readlinkSync(p) : '';
    const xattrs = execFileSync('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', p], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .join(',');
    const linkOf = !st.isDirectory() && st.nlink > 1 ? (inodes.get(st.ino) ?? '') : '';
    if (!st.isDirectory() && st.nlink > 1 && !inodes.has(st.ino)) inodes.set(st.ino, rel);
    const mtime = kind === 'l' ? '' : String(Math.floor(st.mtimeMs / 1000));
    lines.push(`${rel} ${kind} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${mtime} ${st.rdev} ${content} [${xattrs}] ${linkOf}`);
    if (st.isDirectory()) for (const name of readdirSync(p).sort()) walk(rel ? `${rel}/${name}` : name);
  };
  for (const name of readdirSync(dir).sort()) walk(name);
  return lines;
}

/** A posix_acl_default xattr value (version 2; user_obj rwx, group_obj r-x, other none; ids unused). */
const DEFAULT_ACL = '\x02\0\0\0' + '\x01\0\x07\0\0\0\0\0' + '\x04\0\x05\0\0\0\0\0' + '\x20\0\0\0\0\0\0\0';

test('every kind of entry comes out as GNU tar extracts it: modes, owners, mtimes, xattrs, links, devices', async () => {
  const t = (s: number) => new Date(Date.UTC(2020, 0, 1) + s * 1000);
  const entries: TarEntrySpec[] = [
    { name: 'etc/', type: 'directory', mode: 0o755, mtime: t(1) },
    { name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\n', mode: 0o644, mtime: t(2) },
    { name: 'etc/shadow', content: 'root:*::0:::::\n', mode: 0o640, uid: 0, gid: 42, mtime: t(3) },
    // A file mode the umask would cut (a file made with it would be 0644).
    { name: 'etc/open', content: 'rw for all', mode: 0o666, mtime: t(3) },
    // A later entry of the same name replaces the earlier one (a file by a file, below a file by a dir).
    { name: 'etc/motd', content: 'first', mtime: t(17) },
    { name: 'etc/motd', content: 'second', mode: 0o600, mtime: t(18) },
    { name: 'usr/bin/su', content: Buffer.alloc(70_000, 7), mode: 0o4755, uid: 0, gid: 0, mtime: t(4) },
    { name: 'usr/bin/wall', content: 'wall', mode: 0o2755, uid: 0, gid: 5, mtime: t(5) },
    { name: 'usr/bin/ping', content: 'ping', mode: 0o755, mtime: t(6), pax: { 'SCHILY.xattr.user.note': 'a=b', 'SCHILY.xattr.trusted.wharf': 'on' } },
    { name: 'usr/bin/ping-link', type: 'link', linkname: 'usr/bin/ping', mtime: t(7) },
    { name: 'usr/bin/su-link', type: 'link', linkname: 'usr/bin/su', mtime: t(7) },
    { name: 'usr/lib/empty', content: '', mode: 0o600, uid: 1000, gid: 1000, mtime: t(8) },
    { name: 'usr/lib/big', content: Buffer.alloc(3 << 20, 0x5a), mode: 0o644, mtime: t(9) },
    { name: 'usr/lib/libc.so', type: 'symlink', linkname: 'libc.so.6', uid: 3, gid: 4, mtime: t(10) },
    { name: 'usr/lib/abs', type: 'symlink', linkname: '/etc/passwd', mtime: t(10) },
    { name: 'tmp/', type: 'directory', mode: 0o1777, mtime: t(11) },
    { name: 'home/u/', type: 'directory', mode: 0o700, uid: 1000, gid: 100, mtime: t(12) },
    { name: 'home/u/.profile', content: 'x', mode: 0o644, uid: 1000, gid: 100, mtime: t(13) },
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666, mtime: t(14) },
    { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660, uid: 0, gid: 6, mtime: t(15) },
    { name: 'run/initctl', type: 'fifo', mode: 0o600, mtime: t(16) },
    { name: 'var/x', content: 'file first', mtime: t(19) },
    { name: 'var/x/', type: 'directory', mode: 0o750, mtime: t(20) },
    { name: 'var/x/y', content: 'inside', mtime: t(21) },
    // A directory given again with another owner keeps being chowned.
    { name: 'srv/', type: 'directory', mode: 0o755, uid: 1000, gid: 1000, mtime: t(24) },
    { name: 'srv/', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: t(24) },
    // What is made in a setgid directory takes its group unless chowned, and a subdirectory its
    // setgid bit unless chmodded: root-owned entries in one still come out 0:0 and as given.
    { name: 'sg/', type: 'directory', mode: 0o2775, uid: 0, gid: 50, mtime: t(25) },
    { name: 'sg/f', content: 'f', mode: 0o644, mtime: t(26) },
    { name: 'sg/l', type: 'symlink', linkname: 'f', mtime: t(26) },
    { name: 'sg/d/', type: 'directory', mode: 0o755, mtime: t(27) },
    { name: 'sg/d/f', content: 'g', mode: 0o644, mtime: t(28) },
    { name: 'sg/implicit/f', content: 'h', mode: 0o644, mtime: t(29) },
    // A default ACL (u::rwx g::r-x o::---) replaces the umask for new entries below it.
    { name: 'acl/', type: 'directory', mode: 0o755, mtime: t(30), pax: { 'SCHILY.xattr.system.posix_acl_default': DEFAULT_ACL } },
    { name: 'acl/f', content: 'a', mode: 0o644, mtime: t(31) },
  ];
  // A directory's entry after its contents: its own mtime in both. (Entries that come back into a
  // directory GNU tar has left would differ: GNU tar sets a directory's time when it leaves it,
  // Docker, and so wharf, at the end of the layer.)
  entries.push({ name: 'var/', type: 'directory', mode: 0o755, mtime: t(22) });
  const tar = await buildTar(entries);
  const ours = await stage(tar, { gzip: true });
  const gnu = await mkdtemp(join(root, 'gnu-'));
  execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--same-owner', '--same-permissions', '-xf', '-', '-C', gnu], { input: tar });
  // GNU tar leaves the implicit parents (usr, usr/bin, run, dev, home…) at the time of extraction and 0755; so does the store.
  // A directory made implicitly in a setgid one: GNU tar makes it 0755 0:0, the store (as Docker's
  // MkdirAll) as the kernel does, setgid with the parent's group; only what is in it is compared.
  const stable = (lines: string[]) =>
    lines.map((l) => (/^(usr|usr\/bin|usr\/lib|run|dev|home) d /.test(l) ? l.replace(/ \d+ 0 /, ' <now> 0 ') : l)).filter((l) => !l.startsWith('sg/implicit d '));
  assert.deepEqual(stable(describeTree(ours)), stable(describeTree(gnu)));
});

test('whiteouts are char 0/0 nodes owned as their entries say, replaced and re-made correctly', async () => {
  const entries: TarEntrySpec[] = [
    { name: 'a/', type: 'directory' },
    ...Array.from({ length: 300 }, (_, i): TarEntrySpec => ({ name: `a/.wh.gone${i}`, content: '' })),
    { name: 'a/.wh.owned', content: '', uid: 5, gid: 6 },
    { name: 'a/.wh.owned2', content: '', uid: 5, gid: 6 },
    // The first whiteout of an owner replaced by a file: the next whiteout must not become a link to that file.
    { name: 'b/.wh.first', content: '', uid: 7, gid: 7 },
    { name: 'b/first', content: 'now a file' },
    { name: 'b/.wh.second', content: '', uid: 7, gid: 7 },
    // The first whiteout of an owner removed with its directory: its successor is made afresh.
    { name: 'c/.wh.in-dir', content: '', uid: 8, gid: 8 },
    { name: 'c', content: 'c is a file now' },
    { name: 'd/.wh.after', content: '', uid: 8, gid: 8 },
    // A whiteout replaced by a directory with content.
    { name: 'e/.wh.sub', content: '' },
    { name: 'e/sub/', type: 'directory' },
    { name: 'e/sub/f', content: 'f' },
    { name: 'opq/.wh..wh..opq', content: '' },
  ];
  const diff = await stage(await buildTar(entries));
  const isWhiteout = (p: string, uid = 0, gid = 0) => {
    const st = lstatSync(join(diff, p));
    assert.ok(st.isCharacterDevice(), `${p} is not a char device`);
    assert.equal(st.rdev, 0, `${p} is not 0/0`);
    assert.equal(`${st.uid}:${st.gid}`, `${uid}:${gid}`, `${p}'s owner`);
    return st;
  };
  const inodes = new Set<number>();
  for (let i = 0; i < 300; i++) inodes.add(isWhiteout(`a/gone${i}`).ino);
  // One mknod for them all: the rest are links to it.
  assert.equal(inodes.size, 1);
  assert.equal(isWhiteout('a/owned', 5, 6).ino, isWhiteout('a/owned2', 5, 6).ino);
  assert.ok(!inodes.has(lstatSync(join(diff, 'a/owned')).ino), 'another owner has its own node');
  assert.equal(readFileSync(join(diff, 'b/first'), 'utf8'), 'now a file');
  isWhiteout('b/second', 7, 7);
  assert.equal(readFileSync(join(diff, 'c'), 'utf8'), 'c is a file now');
  isWhiteout('d/after', 8, 8);
  assert.equal(readFileSync(join(diff, 'e/sub/f'), 'utf8'), 'f');
  assert.equal(execFileSync('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', '--absolute-names', join(diff, 'opq')], { encoding: 'utf8' }), 'y');
  assert.deepEqual((await readdir(diff)).sort(), ['a', 'b', 'c', 'd', 'e', 'opq']);
});

test('the hostile corpus through the store: refused with the extractor\'s own 400, nothing written outside, nothing left', async () => {
  const bait = await makeBait(join(root, 'h'));
  const before = await snapshotTree(join(root, 'h'));
  const driverHome = store.driver.home;
  const known = new Set(await readdir(driverHome));
  for (const c of hostileCases(bait)) {
    let err: unknown;
    let cacheId: string | null = null;
    try {
      cacheId = (await store.stageLayer(Readable.from([c.tar]))).cacheId;
    } catch (e) {
      err = e;
    }
    if (c.layer === 'refused') {
      assert.ok(isEngineError(err, 'InvalidParameter'), `${c.name}: not a 400: ${String(err)}`);
      if (c.message) assert.match((err as Error).message, c.message, c.name);
    } else if (c.layer === 'accepted') {
      assert.equal(err, undefined, `${c.name}: ${String(err)}`);
    } else if (err) {
      assert.ok(isEngineError(err, 'InvalidParameter'), `${c.name}: not a 400: ${String(err)}`);
    }
    if (cacheId) known.add(cacheId);
    assert.deepEqual((await readdir(driverHome)).filter((n) => !known.has(n)), [], `${c.name}: a failed layer left its directory`);
  }
  assert.equal(await snapshotTree(join(root, 'h')), before);
});

test('a source that fails mid-layer fails the stage with its own error and leaves nothing; the next layer extracts', async () => {
  const tar = await buildTar([{ name: 'big', content: Buffer.alloc(8 << 20, 1) }]);
  const tmpRoot = join(root, 'data', 'image', 'overlay2', 'layerdb', 'tmp');
  const known = new Set([...(await readdir(store.driver.home)), ...(await readdir(tmpRoot))]);
  const boom = new Error('connection reset by peer');
  async function* cut(): AsyncGenerator<Buffer> {
    for (let i = 0; i < 4 << 20; i += 65536) yield tar.subarray(i, i + 65536);
    throw boom;
  }
  await assert.rejects(store.stageLayer(Readable.from(cut())), (e) => e === boom);
  assert.deepEqual((await readdir(store.driver.home)).filter((n) => !known.has(n)), []);
  assert.deepEqual((await readdir(tmpRoot)).filter((n) => !known.has(n)), []);
  // Truncated input: the extractor's own error, a 400.
  await assert.rejects(store.stageLayer(Readable.from([tar.subarray(0, 5 << 20)])), (e) => isEngineError(e, 'InvalidParameter'));
  const diff = await stage(tar);
  assert.equal(lstatSync(join(diff, 'big')).size, 8 << 20);
});

test('a layer goes on being written while the calling thread is busy: extraction runs on a worker', async () => {
  const n = 2000;
  const tar = await buildTar(Array.from({ length: n }, (_, i): TarEntrySpec => ({ name: `f/${i}`, content: '' })));
  const driverHome = store.driver.home;
  const known = new Set(await readdir(driverHome));
  const staging = store.stageLayer(Readable.from([tar]));
  // Let the store hand the (single-chunk) layer over and the first file appear...
  let diff: string | undefined;
  while (!diff || !existsSync(join(diff, 'f/0'))) {
    await turn();
    const made = (await readdir(driverHome)).find((d) => !known.has(d) && d !== 'l');
    if (made) diff = join(driverHome, made, 'diff');
  }
  // ...then keep this thread from the event loop until the last one is there (or give up).
  const deadline = Date.now() + 60_000;
  let done = false;
  while (!(done = existsSync(join(diff, `f/${n - 1}`))) && Date.now() < deadline);
  assert.ok(done, 'the layer made no progress while the event loop was blocked');
  const staged = await staging;
  await store.discardStaged(staged);
});

test('the source is read only as fast as the worker extracts: at most a few MiB ahead of what is on disk', async () => {
  const n = 60_000;
  const tar = await buildTar(Array.from({ length: n }, (_, i): TarEntrySpec => ({ name: `f/${i}`, content: '' })));
  const driverHome = store.driver.home;
  const known = new Set(await readdir(driverHome));
  const checkAt = 24 << 20;
  let produced = 0;
  let ahead = -1;
  const source = new Readable({
    read() {
      if (produced >= tar.length) return void this.push(null);
      if (produced >= checkAt && ahead < 0) {
        const made = readdirSync(driverHome).find((d) => !known.has(d) && d !== 'l');
        const extracted = made ? readdirSync(join(driverHome, made, 'diff', 'f')).length : 0;
        ahead = produced - extracted * 512;
      }
      this.push(tar.subarray(produced, produced + 65536));
      produced += 65536;
    },
  });
  const staged = await store.stageLayer(source);
  await store.discardStaged(staged);
  // Without the pause at the window the whole 30 MiB is read at once, a few ms into the layer.
  assert.ok(ahead >= 0 && ahead <= 6 << 20, `read ${(ahead / 1048576).toFixed(1)} MiB ahead of the extraction`);
});

test('a source that broke before the store reads it, or closes without an end, fails the stage (never hangs)', { timeout: 120_000 }, async () => {
  const boom = new Error('registry went away');
  const broken = new PassThrough();
  broken.on('error', () => {});
  broken.destroy(boom);
  await assert.rejects(store.stageLayer(broken), (e) => e === boom);
  const closed = new PassThrough();
  closed.destroy();
  await assert.rejects(store.stageLayer(closed), /closed before its end/);
  const cut = new PassThrough();
  const staging = store.stageLayer(cut);
  cut.write((await buildTar([{ name: 'a', content: 'x'.repeat(100_000) }])).subarray(0, 50_000));
  setImmediate(() => cut.destroy());
  await assert.rejects(staging, /closed before its end/);
});

test('a chain stops at 125 layers, as moby\'s maxLayerDepth: the 126th is refused and leaves nothing', async () => {
  let parent: string | null = null;
  for (let i = 0; i < 125; i++) {
    const tar = await buildTar([{ name: `l${i}`, content: `${i}\n` }]);
    parent = (await store.applyLayer(parent, Readable.from([tar]))).chainId;
  }
  const lower = (await store.driver.lower((await store.get(parent!))!.cacheId)).split(':');
  assert.equal(lower.length, 124);
  const before = (await readdir(store.driver.home)).sort();
  await assert.rejects(store.applyLayer(parent, Readable.from([await buildTar([{ name: 'too-deep', content: 'x' }])])), { message: 'max depth exceeded' });
  assert.deepEqual((await readdir(store.driver.home)).sort(), before, 'the refused layer left its directory');
});
