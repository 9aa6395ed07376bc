import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Trash } from '../../../src/lib/trash.js';

async function tree(root: string, name: string): Promise<string> {
  const dir = join(root, name);
  await mkdir(join(dir, 'diff', 'etc'), { recursive: true });
  await writeFile(join(dir, 'diff', 'etc', 'hosts'), 'x');
  return dir;
}

test('discard frees the path at once and deletes the tree before drain resolves', async () => {
  const root = await mkdtemp(join(tmpdir(), 'trash-'));
  try {
    const logs: string[] = [];
    const trash = new Trash(join(root, 'trash'), (m) => logs.push(m));
    await trash.init();
    const a = await tree(root, 'a'.repeat(64));
    const b = await tree(root, 'b'.repeat(64));
    await Promise.all([trash.discard(a), trash.discard(b)]);
    assert.equal(existsSync(a), false);
    assert.equal(existsSync(b), false);
    // The same name can be made again at once (a new dir, not the one being deleted).
    await tree(root, 'a'.repeat(64));
    await trash.drain();
    assert.deepEqual(await readdir(join(root, 'trash')), []);
    assert.equal(existsSync(join(a, 'diff', 'etc', 'hosts')), true);
    // A path that is gone already is no error.
    await trash.discard(join(root, 'missing'));
    await trash.drain();
    assert.deepEqual(logs, []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('init deletes what an earlier process left in the trash', async () => {
  const root = await mkdtemp(join(tmpdir(), 'trash-'));
  try {
    await tree(join(root, 'trash'), `${'c'.repeat(64)}.123.1`);
    const trash = new Trash(join(root, 'trash'), () => {});
    await trash.init();
    await trash.drain();
    assert.deepEqual(await readdir(join(root, 'trash')), []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
