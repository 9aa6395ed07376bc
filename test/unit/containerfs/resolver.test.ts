/**
 * The one resolver for paths inside a container root (containerfs/root.ts), as its users meet it:
 * -u user resolution, volume copy-up and the working directory. Symlinks in the image, and
 * symlinks swapped in while the daemon reads, never lead outside the root.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdirAllInRoot, readFileInRoot } from '../../../src/containerfs/root.js';
import { resolveUser } from '../../../src/runtime/user.js';
import { copyUp } from '../../../src/volume/copy-up.js';

let base: string;
/** A host directory beside the roots, standing for the host's /etc: nothing may be read or written there. */
let bait: string;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'wharf-containerfs-'));
  bait = join(base, 'bait');
  await mkdir(bait);
  await writeFile(join(bait, 'passwd'), 'hostuser:x:4242:4242::/host:/bin/sh\n');
  await writeFile(join(bait, 'shadow'), 'secret\n');
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

async function newRoot(name: string): Promise<string> {
  const root = join(base, name);
  await mkdir(join(root, 'etc'), { recursive: true });
  return root;
}

test('readFileInRoot: symlinks are followed inside the root; missing, looping and non-regular entries read as nothing', async () => {
  const root = await newRoot('read');
  await mkdir(join(root, 'data'));
  await writeFile(join(root, 'data/pw'), 'inside\n');
  await symlink('/data/pw', join(root, 'etc/abs'));
  await symlink('../../../../../../../data/pw', join(root, 'etc/up'));
  await symlink(join(bait, 'passwd'), join(root, 'etc/host')); // the host path, read inside the root: missing
  await symlink('loop', join(root, 'etc/loop'));
  execFileSync('mkfifo', [join(root, 'etc/fifo')]);
  assert.equal((await readFileInRoot(root, '/etc/abs'))?.toString(), 'inside\n');
  assert.equal((await readFileInRoot(root, '/etc/up'))?.toString(), 'inside\n');
  assert.equal(await readFileInRoot(root, '/etc/host'), undefined);
  assert.equal(await readFileInRoot(root, '/etc/loop'), undefined);
  assert.equal(await readFileInRoot(root, '/nope/x'), undefined);
  assert.equal(await readFileInRoot(root, '/etc'), undefined);
  // A FIFO would block a plain read for ever.
  assert.equal(await readFileInRoot(root, '/etc/fifo'), undefined);
});

test('-u: an /etc/passwd swapped for a symlink to a host file while it is read is never read through it', async () => {
  const root = await newRoot('swap-user');
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(join(root, 'etc/passwd.real'), 'root:x:0:0:root:/root:/bin/sh\n');
  // Another process flips /etc/passwd between a regular file and a symlink to the host's file, as
  // a process in a running container can while `exec -u` reads it.
  const flipper = spawn(
    process.execPath,
    [
      '-e',
      `const fs = require('fs');
       const [etc, target] = process.argv.slice(1);
       for (;;) {
         try { fs.unlinkSync(etc + '/l'); } catch {}
         fs.symlinkSync(target, etc + '/l');
         fs.renameSync(etc + '/l', etc + '/passwd');
         fs.copyFileSync(etc + '/passwd.real', etc + '/f');
         fs.renameSync(etc + '/f', etc + '/passwd');
       }`,
      join(root, 'etc'),
      join(bait, 'passwd'),
    ],
    { stdio: 'ignore' },
  );
  try {
    let rootSeen = 0;
    for (let i = 0; i < 3000; i++) {
      const u = await resolveUser(root, 'hostuser').then(
        (r) => r,
        () => undefined,
      );
      assert.equal(u, undefined, `try ${i}: resolved hostuser from the host's passwd`);
      // The container's own file is read whenever it is a file at the time.
      if (await resolveUser(root, 'root').then(() => true, () => false)) rootSeen++;
    }
    assert.ok(rootSeen > 0);
  } finally {
    flipper.kill('SIGKILL');
  }
});

test('copy-up: a volume path that is a symlink out of the root copies nothing from the host', async () => {
  const root = await newRoot('copyup');
  await mkdir(join(root, 'real'));
  await writeFile(join(root, 'real/inside'), 'x');
  await symlink('/real', join(root, 'inroot'));
  // `missing/..` climbs lexically; as the kernel resolves it inside the root, `missing` is not there.
  await symlink('missing/../../../../../../../../..' + bait, join(root, 'dangling-up'));
  await symlink('../../../../../../../..' + bait, join(root, 'up'));
  const vol = async (name: string) => {
    const p = join(base, 'vol-' + name);
    await mkdir(p);
    return p;
  };
  const v1 = await vol('inroot');
  assert.equal(await copyUp(root, '/inroot', v1), true);
  assert.deepEqual(await readdir(v1), ['inside']);
  const v2 = await vol('dangling-up');
  assert.equal(await copyUp(root, '/dangling-up', v2), false);
  assert.deepEqual(await readdir(v2), []);
  // `..` stops at the root: this is the root's own path of that name (missing), never the host's.
  const v3 = await vol('up');
  assert.equal(await copyUp(root, '/up', v3), false);
  assert.deepEqual(await readdir(v3), []);
});

test('working directory: made inside the root through symlinks, never on the host', async () => {
  const root = await newRoot('workdir');
  await symlink('../../../../../../../..' + bait, join(root, 'w'));
  await symlink(join(bait), join(root, 'abs'));
  await mkdirAllInRoot(root, '/w/made');
  await mkdirAllInRoot(root, '/abs/made2/deeper');
  assert.ok(!existsSync(join(bait, 'made')));
  assert.ok(!existsSync(join(bait, 'made2')));
  assert.ok(existsSync(join(root, bait, 'made')));
  assert.ok(existsSync(join(root, bait, 'made2/deeper')));
  await writeFile(join(root, 'file'), '');
  await assert.rejects(mkdirAllInRoot(root, '/file/x'), { code: 'ENOTDIR' });
});
