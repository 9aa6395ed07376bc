import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveUser } from '../../../src/runtime/user.js';
import { isEngineError } from '../../../src/lib/errors.js';

let dir: string;
let rootfs: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-user-'));
  rootfs = join(dir, 'rootfs');
  await mkdir(join(rootfs, 'etc'), { recursive: true });
  await writeFile(
    join(rootfs, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\n# comment\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\nbob:x:1001:100::/home/bob:/bin/sh\n',
  );
  await writeFile(join(rootfs, 'etc/group'), 'root:x:0:\nwheel5:x:5:root\nusers:x:100:alice\nalice:x:1000:\ndocker:x:999:alice,bob\nwheel:x:10:\n');
  // A host file the container must never see through a symlink.
  await writeFile(join(dir, 'passwd'), 'evil:x:4242:4242::/:/bin/sh\n');
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('default is root 0:0 with root\'s home and groups', async () => {
  assert.deepEqual(await resolveUser(rootfs, undefined), { uid: 0, gid: 0, additionalGids: [0, 5], home: '/root' });
  assert.deepEqual(await resolveUser(rootfs, ''), { uid: 0, gid: 0, additionalGids: [0, 5], home: '/root' });
});

test('named user: uid, primary gid, then the primary and supplementary groups (as Docker)', async () => {
  assert.deepEqual(await resolveUser(rootfs, 'alice'), { uid: 1000, gid: 1000, additionalGids: [1000, 100, 999], home: '/home/alice' });
  assert.deepEqual(await resolveUser(rootfs, 'bob'), { uid: 1001, gid: 100, additionalGids: [100, 999], home: '/home/bob' });
});

test('numeric user: passwd entry used when present, plain numbers otherwise', async () => {
  assert.deepEqual(await resolveUser(rootfs, '1000'), { uid: 1000, gid: 1000, additionalGids: [1000, 100, 999], home: '/home/alice' });
  assert.deepEqual(await resolveUser(rootfs, '5000'), { uid: 5000, gid: 0, additionalGids: [0], home: '/' });
  assert.deepEqual(await resolveUser(rootfs, '5000:6000'), { uid: 5000, gid: 6000, additionalGids: [6000], home: '/' });
});

test('user:group by name or number; explicit group means no supplementary groups', async () => {
  assert.deepEqual(await resolveUser(rootfs, 'alice:wheel'), { uid: 1000, gid: 10, additionalGids: [10], home: '/home/alice' });
  assert.deepEqual(await resolveUser(rootfs, 'alice:4321'), { uid: 1000, gid: 4321, additionalGids: [4321], home: '/home/alice' });
  assert.deepEqual(await resolveUser(rootfs, '0:docker'), { uid: 0, gid: 999, additionalGids: [999], home: '/root' });
});

test('GroupAdd: names and numbers appended', async () => {
  const u = await resolveUser(rootfs, 'bob', ['wheel', '777', 'docker']);
  assert.deepEqual(u.additionalGids, [100, 999, 10, 777]);
  await assert.rejects(resolveUser(rootfs, undefined, ['nogroup']), /Unable to find group nogroup: no matching entries in group file/);
});

test('Docker\'s errors for unknown names', async () => {
  await assert.rejects(resolveUser(rootfs, 'foo'), (err: unknown) => {
    assert.ok(isEngineError(err, 'InvalidParameter'));
    assert.equal((err as Error).message, 'unable to find user foo: no matching entries in passwd file');
    return true;
  });
  await assert.rejects(resolveUser(rootfs, 'alice:bar'), /^.*unable to find group bar: no matching entries in group file$/);
});

test('no passwd file: numbers work, names fail', async () => {
  const empty = join(dir, 'empty');
  await mkdir(empty, { recursive: true });
  assert.deepEqual(await resolveUser(empty, '123:456'), { uid: 123, gid: 456, additionalGids: [456], home: '/' });
  await assert.rejects(resolveUser(empty, 'alice'), /unable to find user alice/);
});

test('symlinks are resolved inside the rootfs, never out of it', async () => {
  const r2 = join(dir, 'r2');
  await mkdir(join(r2, 'etc'), { recursive: true });
  await symlink('../../../../../passwd', join(r2, 'etc/passwd')); // would escape to dir/passwd
  await assert.rejects(resolveUser(r2, 'evil'), /unable to find user evil/);
  await mkdir(join(r2, 'data'), { recursive: true });
  await writeFile(join(r2, 'data/pw'), 'carol:x:77:77::/c:/bin/sh\n');
  await rm(join(r2, 'etc/passwd'));
  await symlink('/data/pw', join(r2, 'etc/passwd')); // absolute: relative to the rootfs
  assert.equal((await resolveUser(r2, 'carol')).uid, 77);
});
