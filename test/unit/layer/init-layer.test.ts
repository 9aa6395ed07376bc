/**
 * The init layer's lookups in the image's layers: a directory the image has keeps its owner and
 * mode, a file it has is not shadowed, and a link in a layer is never followed to the host.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { populateInitLayer } from '../../../src/layer/init-layer.js';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-init-layer-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('init layer: an image directory keeps its owner and mode, an image file is not shadowed', async () => {
  const lower = join(dir, 'plain/lower');
  await mkdir(join(lower, 'etc'), { recursive: true });
  await chown(join(lower, 'etc'), 7, 8);
  await chmod(join(lower, 'etc'), 0o750);
  await writeFile(join(lower, 'etc/hosts'), 'image hosts');
  const diff = join(dir, 'plain/diff');
  await mkdir(diff);
  populateInitLayer(diff, [lower]);
  const etc = await lstat(join(diff, 'etc'));
  assert.deepEqual([etc.uid, etc.gid, etc.mode & 0o7777], [7, 8, 0o750]);
  await assert.rejects(lstat(join(diff, 'etc/hosts')), 'the image has the file: no stub over it');
  assert.ok((await lstat(join(diff, 'etc/hostname'))).isFile());
});

test("init layer: a layer's link is not followed to the host to look a path up", async () => {
  // On the host: <dir>/host/hosts, the file the link would reach.
  await mkdir(join(dir, 'host'));
  await writeFile(join(dir, 'host/hosts'), 'host file');
  const lower = join(dir, 'linked/lower');
  await mkdir(lower, { recursive: true });
  await symlink(join(dir, 'host'), join(lower, 'etc'));
  const diff = join(dir, 'linked/diff');
  await mkdir(diff);
  populateInitLayer(diff, [lower]);
  // Followed, the host's file counted as the image's, and no stub was made.
  assert.ok((await lstat(join(diff, 'etc/hosts'))).isFile());
  assert.equal((await lstat(join(dir, 'host/hosts'))).size, 'host file'.length);
});
