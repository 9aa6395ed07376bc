/**
 * What scripts/setup.sh installs for users: the systemd unit (checked by systemd-analyze, since
 * this machine need not run systemd) and a busybox image without the tests' accounts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DAEMON_MAIN, REPO_ROOT, runCommand } from './harness.js';
import { busyboxRootfsTarStream } from '../fixtures/busybox.js';

test('the wharfd systemd unit passes systemd-analyze verify and keeps containers on stop', async () => {
  const template = await readFile(join(REPO_ROOT, 'contrib/systemd/wharfd.service.in'), 'utf8');
  const dir = await mkdtemp(join(tmpdir(), 'wharf-unit-'));
  try {
    const unit = join(dir, 'wharfd.service');
    const socketUnit = join(dir, 'wharfd.socket');
    await writeFile(unit, template.replaceAll('@NODE@', process.execPath).replaceAll('@ROOT@', REPO_ROOT));
    await writeFile(socketUnit, await readFile(join(REPO_ROOT, 'contrib/systemd/wharfd.socket')));
    const r = await runCommand('systemd-analyze', ['verify', unit, socketUnit]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'no warnings');
    const text = await readFile(unit, 'utf8');
    // The API socket comes from wharfd.socket, as dockerd's from docker.socket.
    assert.match(text, /^ExecStart=\S+ \S+\/dist\/daemon\/main\.js -H fd:\/\/$/m);
    assert.match(text, /^Requires=wharfd\.socket$/m);
    const sock = await readFile(socketUnit, 'utf8');
    assert.match(sock, /^ListenStream=\/run\/wharf\.sock$/m);
    assert.match(sock, /^SocketMode=0660$/m);
    assert.match(sock, /^SocketGroup=wharf$/m);
    assert.match(text, /^KillMode=process$/m, 'stopping the service must not kill the containers (conmon)');
    assert.match(text, /^ExecReload=\/bin\/kill -s HUP \$MAINPID$/m);
    assert.match(text, /^Restart=always$/m);
    assert.match(text, /^Environment=MALLOC_ARENA_MAX=2$/m, 'glibc arenas bounded: the idle daemon\'s RSS');
    // Started by hand (`./dist/daemon/main.js`), the bundle's shebang sets the same.
    assert.match(await readFile(DAEMON_MAIN, 'utf8'), /^#!\/usr\/bin\/env -S MALLOC_ARENA_MAX=2 node\n/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the users' busybox image has no test accounts; the tests' has them", async () => {
  const passwdOf = async (users: 'plain' | 'test') => {
    const chunks: Buffer[] = [];
    for await (const c of await busyboxRootfsTarStream(undefined, users)) chunks.push(c as Buffer);
    const tar = Buffer.concat(chunks);
    for (let off = 0; off + 512 <= tar.length; ) {
      const name = tar.toString('utf8', off, off + 100).replace(/\0.*$/s, '');
      const size = parseInt(tar.toString('ascii', off + 124, off + 135), 8) || 0;
      if (name === 'etc/passwd') return tar.toString('utf8', off + 512, off + 512 + size);
      off += 512 + Math.ceil(size / 512) * 512;
    }
    throw new Error('no etc/passwd');
  };
  const plain = await passwdOf('plain');
  assert.match(plain, /^root:x:0:0:/m);
  assert.match(plain, /^nobody:x:65534:/m);
  assert.doesNotMatch(plain, /wharfuser/);
  assert.match(await passwdOf('test'), /^wharfuser:x:1000:/m);
});
