/**
 * `--mount type=volume,…,volume-subpath=…` (API 1.45 VolumeOptions.Subpath) through the Docker
 * CLI (issue 11): the subdirectory is what the container sees, a symlink inside the volume is
 * followed while one that leads out of it is refused with Docker's error, a missing subpath and
 * bad specs get Docker's messages and exit codes, API 1.44 refuses the field, and no mount is
 * left behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { loadBusybox, startDaemon, type Daemon } from './harness.js';

let d: Daemon;

async function docker(args: string[], env?: Record<string, string>): Promise<string> {
  const r = await d.docker(args, { env });
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}
const sub = (s: string) => `type=volume,src=sv,dst=/d,volume-subpath=${s}`;

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
  await docker(['volume', 'create', 'sv']);
  await docker(['run', '--rm', '-v', 'sv:/v', 'busybox', 'sh', '-c', 'mkdir -p /v/sub && echo hi > /v/sub/f && ln -s /etc /v/abs && ln -s sub /v/rel && ln -s ../../../.. /v/up']);
});
after(async () => {
  await d?.cleanup();
});

describe('volume subpath', () => {
  test('the subdirectory is mounted; writes land in it; a symlink inside the volume is followed', async () => {
    assert.equal(await docker(['run', '--rm', '--mount', sub('sub'), 'busybox', 'sh', '-c', 'cat /d/f && touch /d/new && ls /d']), 'hi\nf\nnew\n');
    assert.equal(await docker(['run', '--rm', '-v', 'sv:/v', 'busybox', 'ls', '/v/sub']), 'f\nnew\n');
    assert.equal(await docker(['run', '--rm', '--mount', sub('rel'), 'busybox', 'cat', '/d/f']), 'hi\n');
    const dataPath = (await docker(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'sv'])).trim();
    const id = (await docker(['run', '-d', '--mount', sub('sub'), 'busybox', 'sleep', '300'])).trim();
    const mounts = JSON.parse(await docker(['inspect', '-f', '{{json .Mounts}}', id])) as Array<{ Source: string; Destination: string }>;
    assert.equal(mounts[0]?.Source, dataPath);
    await docker(['rm', '-f', id]);
    assert.ok(!(await readFile('/proc/self/mountinfo', 'utf8')).includes('volume-subpaths'), 'a subpath mount was left behind');
  });

  test('a symlink leading out of the volume, a missing subpath and bad specs: Docker errors', async () => {
    const dataPath = (await docker(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'sv'])).trim();
    for (const s of ['abs', 'up']) {
      const r = await d.docker(['run', '--rm', '--mount', sub(s), 'busybox', 'ls', '/d']);
      assert.equal(r.code, 125, r.stderr);
      assert.match(r.stderr, new RegExp(`Error response from daemon: path concatenation escapes the base directory, base: ${dataPath}, subpath: ${s}`));
    }
    let r = await d.docker(['run', '--rm', '--mount', sub('missing/x'), 'busybox', 'true']);
    // The Docker CLI turns a start error with "no such file or directory" into 127.
    assert.equal(r.code, 127, r.stderr);
    assert.ok(r.stderr.includes(`Error response from daemon: cannot access path ${dataPath}/missing/x: lstat ${dataPath}/missing: no such file or directory`), r.stderr);
    r = await d.docker(['run', '--rm', '--mount', sub('../x'), 'busybox', 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /invalid mount config for type "volume": subpath must be a relative path within the volume/);
    r = await d.docker(['run', '--rm', '--mount', 'type=volume,dst=/d,volume-subpath=sub', 'busybox', 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /invalid mount config for type "volume": must not set Subpath when using anonymous volumes/);
    r = await d.docker(['run', '--rm', '--mount', sub('sub'), 'busybox', 'true'], { env: { DOCKER_API_VERSION: '1.44' } });
    assert.equal(r.code, 125);
    assert.match(r.stderr, /VolumeOptions.Subpath needs API v1.45 or newer/);
    assert.ok(!(await readFile('/proc/self/mountinfo', 'utf8')).includes('volume-subpaths'), 'a subpath mount was left behind');
  });
});
