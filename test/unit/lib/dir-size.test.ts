/**
 * The disk-usage walk: Docker's count (no directories, hardlinks once), never through a link,
 * and a nesting deeper than any call stack.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { link, mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dirSize } from '../../../src/lib/dir-size.js';
import { makeDeepTree } from '../../lib/deep-tree.js';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-dir-size-'));
});

after(() => {
  // rm(1) removes a tree deeper than PATH_MAX; node's rm walks it by path.
  execFileSync('rm', ['-rf', dir]);
});

test('dir size: files and links by their own size, a hard link once, a link to a directory not followed', async () => {
  const root = join(dir, 'count');
  await mkdir(join(root, 'sub'), { recursive: true });
  await writeFile(join(root, 'a'), 'x'.repeat(100));
  await writeFile(join(root, 'sub/b'), 'y'.repeat(50));
  await link(join(root, 'a'), join(root, 'sub/a2'));
  // Outside the tree: what a followed link would count.
  await mkdir(join(dir, 'outside'));
  await writeFile(join(dir, 'outside/big'), 'z'.repeat(10_000));
  const target = join(dir, 'outside');
  await symlink(target, join(root, 'sub/out'));
  assert.equal(dirSize(root), 100 + 50 + Buffer.byteLength(target));
  assert.equal(dirSize(join(dir, 'missing')), 0);
});

test("dir size: a nesting deeper than Docker's walk reaches is counted to that depth, one open directory per level", () => {
  const root = join(dir, 'deep');
  mkdirSync(root);
  writeFileSync(join(root, 'top'), 'x'.repeat(5));
  // 3,000 levels with a file at the bottom.
  makeDeepTree(root, 3000, () => writeFileSync('bottom', 'y'.repeat(10)));
  assert.equal(dirSize(root), 5);
});
