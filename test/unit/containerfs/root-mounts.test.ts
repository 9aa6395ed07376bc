/**
 * ContainerRoot with mounts laid over it: lookups continue in the source at a mount point,
 * `..` and symlinks inside a source are interpreted in the container, never on the host.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerRoot } from '../../../src/containerfs/root.js';

let dir: string;
let root: ContainerRoot;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-root-mounts-'));
  // rootfs: /etc/f, /link -> /srv (so a mount at /link/v lands on /srv/v); host: vol/, ro/, file, secret beside them.
  await mkdir(join(dir, 'rootfs/etc'), { recursive: true });
  await mkdir(join(dir, 'rootfs/srv'));
  await writeFile(join(dir, 'rootfs/etc/f'), 'container');
  await symlink('/srv', join(dir, 'rootfs/link'));
  await mkdir(join(dir, 'vol/sub'), { recursive: true });
  await writeFile(join(dir, 'vol/in'), 'volume');
  await symlink('../../../..', join(dir, 'vol/up'));
  await symlink('../secret', join(dir, 'vol/sib'));
  await mkdir(join(dir, 'ro'));
  await writeFile(join(dir, 'hostfile'), 'file mount');
  await writeFile(join(dir, 'secret'), 'host');
  root = await ContainerRoot.open(join(dir, 'rootfs'), {
    mounts: [
      { destination: '/data/ro', source: join(dir, 'ro'), readOnly: true },
      { destination: '/data', source: join(dir, 'vol'), readOnly: false },
      { destination: '/etc/hosts', source: join(dir, 'hostfile'), readOnly: false },
      { destination: '/link/v', source: join(dir, 'vol'), readOnly: false },
      { destination: '/gone', source: join(dir, 'missing'), readOnly: false },
    ],
    readonlyRootfs: true,
  });
});
after(async () => {
  await root?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function read(p: string): Promise<string> {
  const r = await root.resolve(p, { followFinal: true });
  try {
    return await readFile(r.at(), 'utf8');
  } finally {
    await r.close();
  }
}

test('a path below a mount point is read from the source', async () => {
  assert.equal(await read('/data/in'), 'volume');
  assert.equal(await read('/etc/hosts'), 'file mount');
  assert.equal(await read('/srv/v/in'), 'volume', 'destination resolved through the container symlink');
  const top = await root.resolve('/data');
  assert.equal(top.containerPath, '/data');
  assert.ok((await top.lstat()).isDirectory());
  await top.close();
});

test('.. and symlinks inside the source stay in the container', async () => {
  assert.equal(await read('/data/up/etc/f'), 'container');
  assert.equal(await read('/data/sub/../../etc/f'), 'container');
  const sib = await root.resolve('/data/sib', { followFinal: true });
  assert.equal(sib.containerPath, '/secret');
  await assert.rejects(lstat(sib.at()), { code: 'ENOENT' });
  await sib.close();
});

test('writable follows the innermost mount, then the rootfs', () => {
  assert.equal(root.writable('/data/x'), true);
  assert.equal(root.writable('/data/ro'), false);
  assert.equal(root.writable('/data/ro/deep/x'), false);
  assert.equal(root.writable('/etc'), false);
  assert.equal(root.mountOf('/data/ro/x'), '/data/ro');
  assert.equal(root.mountOf('/database'), '');
  assert.equal(root.hasMountsBelow('/'), true);
  assert.equal(root.hasMountsBelow('/data/ro'), false);
  assert.equal(root.mountAt('/gone'), undefined, 'a missing source is left out');
});

test('directories are never made in a read-only place', async () => {
  await assert.rejects(root.resolve('/data/ro/a/b', { createDirs: true }), { code: 'EROFS' });
  await assert.rejects(root.resolve('/newdir/x', { createDirs: true }), { code: 'EROFS' });
  const r = await root.resolve('/data/made/x', { createDirs: true });
  await r.close();
  assert.ok((await lstat(join(dir, 'vol/made'))).isDirectory());
});
