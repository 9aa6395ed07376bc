/**
 * Extraction into a container root on the extraction worker (ExtractPool.extractInto, the path
 * of PUT /archive, COPY and a build context): the files as the tar says, the extractor's
 * refusals and lookup failures crossing the thread as the errors the callers map, and the names
 * of a build context clamped at its root.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { ExtractPool } from '../../../src/layer/extract-pool.js';
import { ContainerRoot, RootPathError } from '../../../src/containerfs/root.js';
import { walkTar } from '../../../src/containerfs/walk.js';
import { tarEnd, tarEntryBlocks, type TarWriteHeader } from '../../../src/lib/tar-writer.js';
import { EngineError } from '../../../src/lib/errors.js';

let dir: string;
const pool = new ExtractPool(1, 60_000);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-extract-into-'));
});

after(async () => {
  await pool.close();
  await rm(dir, { recursive: true, force: true });
});

const entry = (h: Partial<TarWriteHeader> & { name: string }, body?: string): Buffer[] => [
  ...tarEntryBlocks({ type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 1_000_000, size: body?.length ?? 0, ...h }, body === undefined ? [] : [Buffer.from(body)]),
];
const tar = (...entries: Buffer[][]) => Readable.from([Buffer.concat([...entries.flat(), tarEnd()])]);

async function freshRoot(name: string): Promise<string> {
  const p = join(dir, name);
  await mkdir(p);
  return p;
}

test('extract into: a walked tree arrives whole, modes, owners, times and links as they were', async () => {
  const src = join(dir, 'src');
  await mkdir(join(src, 'sub'), { recursive: true });
  await writeFile(join(src, 'sub/f'), 'content');
  await chmod(join(src, 'sub/f'), 0o4750);
  await symlink('f', join(src, 'sub/l'));
  const dest = await freshRoot('walked');
  const root = await ContainerRoot.open(dest);
  try {
    await pool.extractInto(Readable.from(walkTar({ at: src, name: '', children: true })), root.spec(), '/', { noOverwriteDirNonDir: false });
  } finally {
    await root.close();
  }
  assert.equal(await readFile(join(dest, 'sub/f'), 'utf8'), 'content');
  assert.equal((await lstat(join(dest, 'sub/f'))).mode & 0o7777, 0o4750);
  assert.equal((await lstat(join(dest, 'sub/f'))).mtimeMs, (await lstat(join(src, 'sub/f'))).mtimeMs - ((await lstat(join(src, 'sub/f'))).mtimeMs % 1000));
  assert.equal(await readlink(join(dest, 'sub/l')), 'f');
});

test('extract into: a build context names entries under its root, a `..` clamped there', async () => {
  const dest = await freshRoot('context');
  const root = await ContainerRoot.open(dest);
  try {
    await pool.extractInto(tar(entry({ name: '../../escaped' }, 'x')), root.spec(), '/', { noOverwriteDirNonDir: false, clampNames: true, chroot: 'destination' });
  } finally {
    await root.close();
  }
  assert.equal(await readFile(join(dest, 'escaped'), 'utf8'), 'x');
  await assert.rejects(lstat(join(dir, 'escaped')));
});

test('extract into: a refusal crosses as the engine error it is, a lookup failure as a RootPathError', async () => {
  const dest = await freshRoot('refusals');
  await symlink('loop', join(dest, 'loop'));
  const root = await ContainerRoot.open(dest);
  try {
    await assert.rejects(
      pool.extractInto(tar(entry({ name: 'link', type: 'symlink', linkname: '../../outside' })), root.spec(), '/sub', { noOverwriteDirNonDir: false }),
      (err: unknown) => err instanceof EngineError && err.kind === 'InvalidParameter' && /outside of the destination/.test(err.message),
    );
    await assert.rejects(
      pool.extractInto(tar(entry({ name: 'loop/x' }, 'y')), root.spec(), '/', { noOverwriteDirNonDir: false }),
      (err: unknown) => err instanceof RootPathError && err.code === 'ELOOP',
    );
    // The worker is whole after both: the next extract works.
    await pool.extractInto(tar(entry({ name: 'after' }, 'z')), root.spec(), '/', { noOverwriteDirNonDir: false });
  } finally {
    await root.close();
  }
  assert.equal(await readFile(join(dest, 'after'), 'utf8'), 'z');
  await assert.rejects(lstat(join(dir, 'outside')));
});

test('extract into: an upload that stalls holds its job, not the thread: another extract on the one worker finishes', async () => {
  const one = new ExtractPool(1, 60_000);
  const dest = await freshRoot('stalled');
  const root = await ContainerRoot.open(dest);
  try {
    // Two 1 MiB files, then nothing: the daemon side sends full 512 KiB messages only.
    const slow = new PassThrough();
    slow.write(Buffer.concat([...entry({ name: 'first' }, 'a'.repeat(1 << 20)), ...entry({ name: 'filler' }, 'f'.repeat(1 << 20))]));
    const stalled = one.extractInto(slow, root.spec(), '/', { noOverwriteDirNonDir: false });
    // The first entry made: its job runs on the worker and waits for more.
    while (!(await lstat(join(dest, 'first')).catch(() => null))) await new Promise((r) => setImmediate(r));
    const threads = readdirSync('/proc/self/task').length;
    await one.extractInto(tar(entry({ name: 'second' }, 'b')), root.spec(), '/', { noOverwriteDirNonDir: false });
    assert.equal(await readFile(join(dest, 'second'), 'utf8'), 'b');
    assert.equal(readdirSync('/proc/self/task').length, threads, 'a second worker thread was started');
    slow.destroy();
    await assert.rejects(stalled, /closed before its end/);
  } finally {
    await root.close();
    await one.close();
  }
});
