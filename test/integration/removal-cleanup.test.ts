/**
 * A removed container's private dirs (its overlay layer, init layer and container dir) are
 * deleted in the background after its paths are freed (lib/trash.ts): nothing a client does
 * next sees them, shutdown waits for them, and a start clears what a crash left.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cliOk, countLeaks, loadBusybox, socketJson, socketRequest, startDaemon, waitFor, type Daemon } from './harness.js';

const run = promisify(execFile);
let d: Daemon;

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
});
after(async () => {
  await d?.cleanup();
});

const ok = async (args: string[]): Promise<string> => (await cliOk(d, 'docker', args)).trim();

const ls = (dir: string) => readdir(dir).catch(() => [] as string[]);
/** The overlay2 dirs of layers and containers (the `l` link dir left out). */
const driverDirs = async () => (await ls(join(d.dataRoot, 'overlay2'))).filter((n) => n !== 'l').sort();

test('run --rm: the name, the anonymous volume and the dirs are free at once; shutdown leaves nothing', async () => {
  const imageDirs = await driverDirs();
  await ok(['run', '--rm', '--name', 'again', '-v', '/data', 'busybox', 'sh', '-c', 'echo x > /data/f; echo y > /f']);
  // Created at once under the same name, after the removal was answered.
  const id = await ok(['create', '--name', 'again', 'busybox', 'true']);
  assert.deepEqual(await ok(['volume', 'ls', '-q']), '', 'the --rm container took its anonymous volume with it');
  await ok(['rm', id]);
  assert.deepEqual(await ls(join(d.dataRoot, 'containers')), []);
  // Stopped right after a removal: shutdown waits for the background deletes.
  await ok(['run', '--rm', 'busybox', 'true']);
  await d.stop();
  assert.deepEqual(await driverDirs(), imageDirs);
  assert.deepEqual(await ls(join(d.dataRoot, 'containers')), []);
  assert.deepEqual(await ls(join(d.dataRoot, 'trash')), []);
  // What a crash left in the trash is deleted at the next start.
  await mkdir(join(d.dataRoot, 'trash', `${'e'.repeat(64)}.1.1`, 'diff'), { recursive: true });
  await writeFile(join(d.dataRoot, 'trash', `${'e'.repeat(64)}.1.1`, 'diff', 'f'), 'x');
  await d.restart();
  await ok(['run', '--rm', 'busybox', 'true']);
  await d.stop();
  assert.deepEqual(await ls(join(d.dataRoot, 'trash')), []);
  await d.restart();
  assert.deepEqual(await countLeaks(d).then((l) => l.details), { mounts: [], conmon: [], cgroups: [], runc: [] });
});

test('rm -f of running containers then rmi of their image at once: no layer dir is left', async () => {
  const ids = await Promise.all([1, 2, 3].map(() => ok(['run', '-d', 'busybox', 'sleep', '600'])));
  await ok(['rm', '-f', ...ids]);
  await ok(['run', '--rm', 'busybox', 'true']);
  await ok(['rmi', 'busybox']);
  await d.stop();
  assert.deepEqual(await driverDirs(), []);
  assert.deepEqual(await ls(join(d.dataRoot, 'overlay2', 'l')), []);
  assert.deepEqual(await ls(join(d.dataRoot, 'containers')), []);
  assert.deepEqual(await ls(join(d.dataRoot, 'trash')), []);
  await d.restart();
  assert.deepEqual(await countLeaks(d).then((l) => l.details), { mounts: [], conmon: [], cgroups: [], runc: [] });
});

test('a rootfs unmounted behind the daemon: stop and rm succeed, and nothing is left', async () => {
  await d.restart();
  // The test before removed the image.
  await loadBusybox(d);
  const id = await ok(['run', '-d', 'busybox', 'sleep', '600']);
  const merged = await ok(['inspect', '-f', '{{.GraphDriver.Data.MergedDir}}', id]);
  // The container keeps its own mount of it; only the host's goes.
  await run('umount', [merged]);
  await ok(['stop', '-t', '0', id]);
  await ok(['start', id]);
  await ok(['rm', '-f', id]);
  assert.deepEqual(await ls(join(d.dataRoot, 'containers')), []);
  assert.deepEqual(await countLeaks(d).then((l) => l.details), { mounts: [], conmon: [], cgroups: [], runc: [] });
});

test('a terminal container or exec that runc refuses leaves no console socket in /tmp or the exec root', async () => {
  const sockets = async () => new Set((await ls('/tmp')).filter((n) => n.startsWith('conmon-term.')));
  const before = await sockets();
  for (let i = 0; i < 3; i++) {
    const created = await socketJson<{ Id: string }>(d.socket, 'POST', '/containers/create', {
      body: { Image: 'busybox', Cmd: ['true'], Tty: true, HostConfig: { Ulimits: [{ Name: 'bogus', Soft: 1, Hard: 1 }] } },
    });
    assert.equal(created.status, 201);
    const started = await socketRequest(d.socket, 'POST', `/containers/${created.json.Id}/start`);
    // runc refuses the spec before it connects to conmon's console socket.
    assert.equal(started.status, 500);
    assert.match(started.body, /RLIMIT_BOGUS/);
    await ok(['rm', created.json.Id]);
  }
  // An exec session's terminal too: runc refuses a relative cwd before it connects.
  const long = await ok(['run', '-d', 'busybox', 'sleep', '60']);
  for (let i = 0; i < 3; i++) {
    const exec = await socketJson<{ Id: string }>(d.socket, 'POST', `/containers/${long}/exec`, { body: { Cmd: ['true'], Tty: true, WorkingDir: 'rel' } });
    assert.equal(exec.status, 201);
    const started = await socketRequest(d.socket, 'POST', `/exec/${exec.json.Id}/start`, { body: { Detach: true, Tty: true } });
    assert.match(started.body, /Cwd must be an absolute path/);
  }
  // A terminal that works still gets its console (a CR before each newline is the pty's).
  assert.equal(await ok(['run', '-t', '--rm', 'busybox', 'echo', 'hi']), 'hi');
  assert.equal(await ok(['exec', '-t', long, 'echo', 'hi']), 'hi');
  await ok(['rm', '-f', long]);
  // Other tests' terminal execs make sockets in /tmp for a moment: only one that stays is a leak.
  await waitFor(async () => [...(await sockets())].every((n) => before.has(n)), { timeoutMs: 5000, what: 'no new conmon-term socket in /tmp' });
  assert.deepEqual(await ls(join(d.execRoot, 't')), []);
});

test('a terminal container whose console socket dir cannot be made: the start fails and leaves no bundle behind', async () => {
  // A file where the console socket dirs go makes their mkdir fail.
  const consoleDirs = join(d.execRoot, 't');
  await rm(consoleDirs, { recursive: true, force: true });
  await writeFile(consoleDirs, '');
  try {
    const created = await socketJson<{ Id: string }>(d.socket, 'POST', '/containers/create', { body: { Image: 'busybox', Cmd: ['true'], Tty: true } });
    assert.equal(created.status, 201);
    const id = created.json.Id;
    const started = await socketRequest(d.socket, 'POST', `/containers/${id}/start`);
    assert.equal(started.status, 500, started.body);
    assert.deepEqual((await ls(join(d.execRoot, 'bundles'))).filter((n) => n === id), []);
    assert.deepEqual((await ls(join(d.execRoot, 'conmon'))).filter((n) => n.startsWith(id)), []);
    await ok(['rm', id]);
  } finally {
    await rm(consoleDirs, { force: true });
  }
  // Once the dir can be made again, a terminal container runs.
  assert.equal(await ok(['run', '-t', '--rm', 'busybox', 'echo', 'hi']), 'hi');
});
