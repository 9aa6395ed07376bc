/**
 * The overlay mount of a container layer turns off what would keep changes outside its upper
 * dir (redirect_dir, metacopy) and what would tie the upper dir to its lowers (index), where the
 * kernel has them; and the options work: a mount with them copies a renamed directory up whole.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { overlayMountOptions } from '../../../src/layer/overlay2.js';

let dir: string | undefined;
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('overlay options: index, redirect_dir and metacopy off where the kernel has them', () => {
  assert.deepEqual(overlayMountOptions('l/A:l/B', 'x', () => true), ['lowerdir=l/A:l/B', 'upperdir=x/diff', 'workdir=x/work', 'index=off', 'redirect_dir=off', 'metacopy=off']);
  assert.deepEqual(overlayMountOptions('l/A', 'x', (p) => p === 'index'), ['lowerdir=l/A', 'upperdir=x/diff', 'workdir=x/work', 'index=off']);
});

test('overlay options: this kernel takes them, and a directory renamed in the mount is whole in the upper dir', async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-overlay-options-'));
  await mkdir(join(dir, 'lower/d'), { recursive: true });
  await writeFile(join(dir, 'lower/d/f'), 'lower file');
  for (const sub of ['x/diff', 'x/work', 'merged']) await mkdir(join(dir, sub), { recursive: true });
  const opts = overlayMountOptions('lower', 'x', (p) => existsSync(`/sys/module/overlay/parameters/${p}`));
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', opts.join(','), join(dir, 'merged')], { cwd: dir });
  try {
    // With redirect_dir on, the upper dir would get `renamed` as an empty directory pointing at lower/d.
    await rename(join(dir, 'merged/d'), join(dir, 'merged/renamed')).catch(async (err: NodeJS.ErrnoException) => {
      // EXDEV: what redirect_dir=off answers; mv then copies, as this does.
      assert.equal(err.code, 'EXDEV');
      execFileSync('cp', ['-a', join(dir!, 'merged/d'), join(dir!, 'merged/renamed')]);
      execFileSync('rm', ['-r', join(dir!, 'merged/d')]);
    });
  } finally {
    execFileSync('umount', [join(dir, 'merged')]);
  }
  assert.deepEqual(await readdir(join(dir, 'x/diff/renamed')), ['f']);
});
