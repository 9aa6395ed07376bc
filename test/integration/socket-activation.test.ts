/**
 * systemd socket activation (issue 11): wharfd started by `systemd-socket-activate` (systemd's own
 * tool: it listens, then on the first connection execs wharfd with LISTEN_FDS/LISTEN_PID and the
 * sockets from fd 3) serves `-H fd://` (all of them) as dockerd does, the Docker CLI works through
 * them, and `fd://N` / no activation give dockerd's errors.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DAEMON_MAIN, DOCKER_CLI, loadBusybox, ping, runCommand, startDaemon, waitFor } from './harness.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function tmp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-sa-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('socket activation', () => {
  test('-H fd:// serves every socket systemd passed; the Docker CLI works through them', async () => {
    const dir = await tmp();
    const s1 = join(dir, 'a.sock');
    const s2 = join(dir, 'b.sock');
    const starting = startDaemon({ prefix: ['systemd-socket-activate', '-l', s1, '-l', s2, '--'], args: ['-H', 'fd://'] });
    starting.then((x) => cleanups.push(() => x.cleanup()), () => {});
    // systemd-socket-activate launches wharfd on the first connection.
    await waitFor(() => existsSync(s1) && existsSync(s2), { what: 'the activation sockets' });
    await waitFor(() => ping(s2, 2000), { timeoutMs: 30_000, what: 'wharfd on the activated socket' });
    const d = await starting;
    assert.ok(await ping(s1, 2000), 'the first activated socket is not served');
    assert.match(d.log(), /API listen on fd:\/\/3/);
    assert.match(d.log(), /API listen on fd:\/\/4/);
    await loadBusybox(d);
    const r = await runCommand(DOCKER_CLI, ['-H', `unix://${s2}`, 'run', '--rm', 'busybox', 'echo', 'activated'], { env: { DOCKER_HOST: '', DOCKER_CONTEXT: '' } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'activated\n');
  });

  test('fd:// without activation, fd://N beyond the passed ones, fd://x: dockerd\'s errors', async () => {
    const dir = await tmp();
    await writeFile(join(dir, 'daemon.json'), '{}');
    const base = ['--config-file', join(dir, 'daemon.json'), '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'pid')];
    const env = { LISTEN_PID: '', LISTEN_FDS: '' };
    let r = await runCommand(process.execPath, [DAEMON_MAIN, ...base, '-H', 'fd://'], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /failed to load listeners: no sockets found via socket activation: make sure the service was started by systemd/);
    // Activation variables for this very process (sh execs node, so LISTEN_PID is its pid); fd 3 is a pipe here.
    const activated = (host: string) =>
      runCommand('sh', ['-c', 'export LISTEN_PID=$$ LISTEN_FDS=1; exec "$@" 3</dev/null', 'sh', process.execPath, DAEMON_MAIN, ...base, '-H', host]);
    r = await activated('fd://5');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /failed to load listeners: too few socket activated files passed in by systemd/);
    r = await activated('fd://x');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /failed to load listeners: failed to parse systemd fd address: should be a number: x/);
    assert.ok(!existsSync(join(dir, 'pid')), 'a daemon that cannot listen took the pid file');
  });
});
