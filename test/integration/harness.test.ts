/**
 * The harness itself: a real wharfd on temp dirs, kill -9/restart/stop, leak accounting of a
 * running container, and a cleanup that leaves nothing even after the daemon was killed.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, statfs } from 'node:fs/promises';
import { BUSYBOX_IMAGE_CHANGES, buildBusyboxRootfsBuffer } from '../fixtures/busybox.js';
import { countLeaks, loadBusybox, ping, startDaemon, waitFor, type Daemon } from './harness.js';

const started: Daemon[] = [];
after(async () => {
  for (const d of started) await d.cleanup();
});

async function start(): Promise<Daemon> {
  const d = await startDaemon();
  started.push(d);
  return d;
}

const TMPFS_MAGIC = 0x01021994;
const alive = (pid: number) => existsSync(`/proc/${pid}`);

describe('integration harness', () => {
  test('waitFor returns the value or fails naming what it waited for', async () => {
    let n = 0;
    assert.equal(await waitFor(() => (++n >= 3 ? 'done' : ''), { timeoutMs: 2000 }), 'done');
    await assert.rejects(waitFor(() => false, { timeoutMs: 50, what: 'the impossible' }), /timed out after 50 ms waiting for the impossible/);
  });

  test('starts wharfd on fresh dirs, survives kill -9 + restart and stop + restart; cleanup removes all', async () => {
    const d = await start();
    assert.equal(d.host, `unix://${d.socket}`);
    assert.ok(await ping(d.socket));
    assert.notEqual((await statfs(d.dataRoot)).type, TMPFS_MAGIC, 'data root is on a real filesystem');
    assert.equal((await readFile(d.pidfile, 'utf8')).trim(), String(d.pid));
    assert.deepEqual(
      { ...(await countLeaks(d)), details: undefined },
      { mounts: 0, conmon: 0, cgroups: 0, runc: 0, details: undefined },
    );

    const first = d.pid;
    await d.kill9();
    assert.ok(!alive(first));
    assert.equal(await ping(d.socket), false);
    await d.restart();
    assert.notEqual(d.pid, first);
    assert.ok(await ping(d.socket));

    const second = d.pid;
    await d.stop();
    assert.ok(!alive(second));
    await d.restart();
    assert.ok(await ping(d.socket));

    const v = await d.docker(['version', '--format', '{{.Server.Os}}']);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout.trim(), 'linux');

    const last = d.pid;
    await d.cleanup();
    assert.ok(!alive(last));
    assert.ok(!existsSync(d.root), 'temp dir removed');
  });

  test('counts a running container and cleans it up after the daemon was killed', async () => {
    const d = await start();
    const imp = await d.docker(['import', ...BUSYBOX_IMAGE_CHANGES.flatMap((c) => ['--change', c]), '-', 'busybox:latest'], {
      input: await buildBusyboxRootfsBuffer(),
    });
    assert.equal(imp.code, 0, imp.stderr);
    const run = await d.docker(['run', '-d', 'busybox', 'sleep', '1000']);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    const pid = Number((await d.docker(['inspect', '-f', '{{.State.Pid}}', id])).stdout.trim());
    assert.ok(pid > 0 && alive(pid));

    const leaks = await countLeaks(d);
    // Its overlay and, on the default bridge, its network namespace bound to a file.
    const mounts = leaks.details.mounts.map((m) => m.slice(d.root.length));
    assert.equal(mounts.length, 2, `${mounts}`);
    assert.ok(mounts.some((m) => /^\/data\/overlay2\/[0-9a-f]{64}\/merged$/.test(m)), `the overlay: ${mounts}`);
    assert.ok(mounts.includes(`/exec/netns/${id}`), `the namespace file: ${mounts}`);
    assert.equal(leaks.conmon, 1);
    assert.deepEqual(leaks.details.runc, [id]);
    assert.ok(leaks.cgroups >= 1, 'cgroup dirs named after the container');
    assert.ok(d.containerIds().has(id));

    await d.kill9();
    assert.ok(alive(pid), 'the container outlives the daemon');
    await d.cleanup();

    await waitFor(() => !alive(pid), { what: 'the container process to be gone', timeoutMs: 5000 });
    const after = await countLeaks(d);
    assert.deepEqual(
      { mounts: after.mounts, conmon: after.conmon, cgroups: after.cgroups, runc: after.runc },
      { mounts: 0, conmon: 0, cgroups: 0, runc: 0 },
      JSON.stringify(after.details),
    );
    const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
    assert.ok(!mountinfo.includes(d.root), 'no mount left under the temp dir');
    assert.ok(!existsSync(d.root));
  });

  test('loadBusybox imports busybox:latest through the wharf CLI', async () => {
    const d = await start();
    await loadBusybox(d);
    const r = await d.docker(['image', 'inspect', '-f', '{{json .Config.Cmd}}', 'busybox:latest']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '["sh"]');
    const echo = await d.wharf(['run', '--rm', 'busybox', 'echo', 'hello']);
    assert.equal(echo.stdout, 'hello\n', echo.stderr);
  });
});
