/**
 * BuildKit's COPY filters (copy-filter.ts) as its file copier judges each path below a source, and
 * the walk and hash that apply them (walk.ts, tree-hash.ts, through the worker pool): excluded
 * entries left out, a directory kept only for what below it is taken, held until then.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { CopyFilter } from '../../../src/containerfs/copy-filter.js';
import { walkTar } from '../../../src/containerfs/walk.js';
import { WalkPool } from '../../../src/containerfs/walk-pool.js';
import { treeHash } from '../../../src/containerfs/tree-hash.js';
import { TarReader } from '../../../src/layer/tar-reader.js';

let dir: string;
const pool = new WalkPool(1, 60_000);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-copy-filter-'));
  // src/: x/a.txt x/b.md x/y/c.txt z/d.txt z/e.png top.txt, and an empty directory.
  for (const d of ['x/y', 'z', 'empty']) await mkdir(join(dir, 'src', d), { recursive: true });
  for (const f of ['x/a.txt', 'x/b.md', 'x/y/c.txt', 'z/d.txt', 'z/e.png', 'top.txt']) await writeFile(join(dir, 'src', f), f);
});

after(async () => {
  await pool.close();
  execFileSync('rm', ['-rf', dir]);
});

async function names(tar: Iterable<Buffer> | Readable): Promise<string[]> {
  const out: string[] = [];
  for await (const e of new TarReader(tar instanceof Readable ? tar : Readable.from(tar), undefined, { digest: false }).entries()) {
    out.push(e.header.name);
    for await (const _ of e.body());
  }
  return out;
}

test('judge: --exclude leaves out a match and all below it; an exception walks an excluded directory', () => {
  const f = new CopyFilter({ exclude: ['*.md', 'z'] });
  assert.equal(f.judge('x/b.md', false), 'take', '`*` does not cross a /');
  assert.equal(f.judge('b.md', false), 'skip');
  assert.equal(f.judge('z', true), 'skip');
  assert.equal(f.judge('z/d.txt', false), 'skip', 'below an excluded directory');
  assert.equal(f.judge('x', true), 'take');
  const g = new CopyFilter({ exclude: ['z', '!z/d.txt'] });
  assert.equal(g.judge('z', true), 'pass');
  assert.equal(g.judge('z/d.txt', false), 'take');
  assert.equal(g.judge('z/e.png', false), 'skip');
});

test('judge: --parents\' include pattern takes its matches and all below them, walks the directories on the way', () => {
  const f = new CopyFilter({ include: ['x/**/*.txt'] });
  assert.equal(f.judge('x', true), 'pass');
  assert.equal(f.judge('x/a.txt', false), 'take', '** matches no directory too');
  assert.equal(f.judge('x/y/c.txt', false), 'take');
  assert.equal(f.judge('x/b.md', false), 'skip');
  assert.equal(f.judge('z', true), 'pass');
  const dirOnly = new CopyFilter({ include: ['x'], exclude: ['**/*.md'] });
  assert.equal(dirOnly.judge('x', true), 'take');
  assert.equal(dirOnly.judge('x/y/c.txt', false), 'take');
  assert.equal(dirOnly.judge('x/b.md', false), 'skip', 'an exclude wins over an include');
});

test('walk: a filtered tar holds only what is taken and the directories above it, each before what it holds', async () => {
  const at = join(dir, 'src');
  assert.deepEqual(await names(walkTar({ at, name: '', children: true }, { filter: { include: ['**/*.txt'], exclude: ['z'] } })), ['top.txt', 'x/', 'x/a.txt', 'x/y/', 'x/y/c.txt']);
  assert.deepEqual(await names(walkTar({ at, name: '', children: true }, { filter: { include: ['x/y/c.txt'] } })), ['x/', 'x/y/', 'x/y/c.txt'], 'no empty directory, no directory without a match');
  assert.deepEqual(await names(walkTar({ at, name: '', children: true }, { filter: { exclude: ['*', '!x/y'] } })), ['x/', 'x/y/', 'x/y/c.txt']);
  // The pool's walk runs the same filter on its worker; the names are matched below the walk's root.
  assert.deepEqual(await names(pool.tar({ at: join(at, 'x'), name: 'x' }, { filter: { exclude: ['*.md', 'y'] } })), ['x/', 'x/a.txt']);
});

test('hash: only what the filter takes counts, a held directory once something below it is taken', async () => {
  const at = join(dir, 'src');
  const filter = { include: ['x/**/*.txt'] };
  const before = await pool.hash(at, filter);
  assert.equal(before, treeHash(at, filter));
  assert.equal(await pool.hash(at), treeHash(at), 'no filter: the classic hash');
  assert.notEqual(before, treeHash(at));
  await writeFile(join(at, 'x/b.md'), 'changed, but not taken');
  await mkdir(join(at, 'x/unrelated'));
  await chmod(join(at, 'z'), 0o700);
  assert.equal(await pool.hash(at, filter), before);
  await chmod(join(at, 'x/y'), 0o700);
  assert.notEqual(await pool.hash(at, filter), before, 'a directory the copy makes counts with its mode');
  await chmod(join(at, 'x/y'), 0o755);
  assert.equal(await pool.hash(at, filter), before);
  await writeFile(join(at, 'x/y/c.txt'), 'changed');
  assert.notEqual(await pool.hash(at, filter), before);
});
