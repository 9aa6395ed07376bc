/**
 * Bind propagation through the Docker CLI (issue 11): `rshared` needs the source's mount to be
 * shared and `rslave` shared or slave, with Docker's messages and exit code, and an accepted
 * `rshared` bind really propagates a mount made in the container back to the host. The test's
 * own tmpfs mounts (one private, one shared) are the sources; everything is unmounted after.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { loadBusybox, startDaemon, type Daemon } from './harness.js';

let d: Daemon;
let dir: string;
let priv: string;
let shared: string;

const mounted = async (p: string) => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').some((l) => l.split(' ')[4] === p);

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
  dir = await mkdtemp(join(d.root, 'prop-'));
  priv = join(dir, 'private');
  shared = join(dir, 'shared');
  for (const p of [priv, shared]) {
    await mkdir(p);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', p]);
  }
  execFileSync('mount', ['--make-private', priv]);
  execFileSync('mount', ['--make-shared', shared]);
});
after(async () => {
  for (const p of [join(shared, 'sub'), shared, priv]) if (p && (await mounted(p))) execFileSync('umount', ['-l', p]);
  if (dir) await rm(dir, { recursive: true, force: true });
  await d?.cleanup();
});

describe('bind propagation', () => {
  test('shared and slave propagation need a shared (or slave) source mount: Docker errors', async () => {
    let r = await d.docker(['run', '--rm', '-v', `${priv}:/m:rshared`, 'busybox', 'true']);
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, new RegExp(`Error response from daemon: path ${priv} is mounted on ${priv} but it is not a shared mount`));
    r = await d.docker(['run', '--rm', '--mount', `type=bind,src=${priv},dst=/m,bind-propagation=rslave`, 'busybox', 'true']);
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, new RegExp(`path ${priv} is mounted on ${priv} but it is not a shared or slave mount`));
    // The default (rprivate) needs nothing of the source.
    r = await d.docker(['run', '--rm', '-v', `${priv}:/m`, 'busybox', 'true']);
    assert.equal(r.code, 0, r.stderr);
    r = await d.docker(['run', '--rm', '-v', `${shared}:/m:rslave`, 'busybox', 'true']);
    assert.equal(r.code, 0, r.stderr);
  });

  test('an rshared bind propagates a mount made in the container to the host', async () => {
    const r = await d.docker(['run', '--rm', '--privileged', '-v', `${shared}:/m:rshared`, 'busybox', 'sh', '-c', 'mkdir /m/sub && mount -t tmpfs tmpfs /m/sub']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(await mounted(join(shared, 'sub')), 'the container mount did not reach the host');
  });
});
