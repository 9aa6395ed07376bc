/**
 * `run --use-api-socket` (issue 11): `wharf run` and the real Docker CLI 28 mount the daemon's
 * socket at /var/run/docker.sock and inject the user's registry credentials as
 * /run/secrets/docker/config.json (0600) with DOCKER_CONFIG pointing at it. The Docker CLI always
 * mounts the host's /var/run/docker.sock; this host has none (and a test must not make one), so
 * for the Docker CLI the daemon runs in a private mount namespace whose /run has a docker.sock
 * link to the daemon's socket and links to everything else of the real /run (xtables.lock…).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { loadBusybox, startDaemon, type Daemon } from './harness.js';

let d: Daemon;
let tmp: string;
let sock: string;

const AUTH = JSON.stringify({ auths: { 'reg.example:5000': { auth: Buffer.from('alice:s3cret').toString('base64') } } });
const PROBE = 'test -S /var/run/docker.sock && echo socket; echo $DOCKER_CONFIG; stat -c %a /run/secrets/docker/config.json; cat /run/secrets/docker/config.json';

// Runs wharfd with /run replaced, in its own mount namespace only, by links to the real /run plus docker.sock.
const NS_SCRIPT = `set -e
mkdir -p "$T/oldrun"
mount --bind /run "$T/oldrun"
mount -t tmpfs -o size=1m,mode=755 tmpfs /run
for e in "$T"/oldrun/* "$T"/oldrun/.[!.]*; do [ -e "$e" ] || [ -L "$e" ] && ln -s "$e" /run/ || true; done
[ -e /run/xtables.lock ] || ln -s "$T/oldrun/xtables.lock" /run/xtables.lock
ln -s "$SOCK" /run/docker.sock
exec "$@"`;

before(async () => {
  tmp = await mkdtemp('/tmp/fid2-apisock-');
  sock = join(tmp, 'api.sock');
  d = await startDaemon({
    prefix: ['env', `T=${tmp}`, `SOCK=${sock}`, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', NS_SCRIPT, 'sh'],
    args: ['-H', `unix://${sock}`],
  });
  await loadBusybox(d);
});
after(async () => {
  await d?.cleanup();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function checkProbe(out: string) {
  const [isSock, dockerConfig, mode, ...json] = out.trim().split('\n');
  assert.equal(isSock, 'socket');
  assert.equal(dockerConfig, '/run/secrets/docker');
  assert.equal(mode, '600');
  assert.deepEqual(JSON.parse(json.join('\n')), { auths: { 'reg.example:5000': { auth: Buffer.from('alice:s3cret').toString('base64') } } });
}

describe('--use-api-socket', () => {
  test('the Docker CLI 28 flag works against wharfd', async () => {
    const r = await d.docker(['run', '--rm', '--use-api-socket', 'busybox', 'sh', '-c', PROBE], { env: { DOCKER_AUTH_CONFIG: AUTH } });
    assert.equal(r.code, 0, r.stderr);
    checkProbe(r.stdout);
  });

  test('wharf run --use-api-socket does the same with the socket it is connected to', async () => {
    const r = await d.wharf(['run', '--rm', '--use-api-socket', 'busybox', 'sh', '-c', PROBE], { env: { DOCKER_AUTH_CONFIG: AUTH } });
    assert.equal(r.code, 0, r.stderr);
    checkProbe(r.stdout);
    // With DOCKER_CONFIG set by the user nothing is injected; without credentials neither.
    const own = await d.wharf(['run', '--rm', '--use-api-socket', '-e', 'DOCKER_CONFIG=/mine', 'busybox', 'sh', '-c', 'echo $DOCKER_CONFIG; test -e /run/secrets/docker || echo none'], { env: { DOCKER_AUTH_CONFIG: AUTH } });
    assert.equal(own.stdout, '/mine\nnone\n', own.stderr);
  });
});
