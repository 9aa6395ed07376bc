/**
 * A container's attach socket and ctl fifo are found whatever the exec root's length. conmon
 * binds them through a `<socket-dir>/<id>` link unless told --full-attach, and cuts that link's
 * name one character short when its path is 107 bytes (sun_path's 108 less the NUL): with an
 * exec root of 34 characters wharfd looked for the full name, found nothing, and `docker run`
 * printed nothing and exited 0. A long exec root needs the /proc/self/fd route to the socket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { loadBusybox, socketRequest, startDaemon, waitFor } from './harness.js';

for (const length of [34, 100]) {
  test(`exec root of ${length} characters: run prints its output, a tty is resized, exec attaches`, async (t) => {
    const base = await mkdtemp('/tmp/wx-');
    const execRoot = join(base, 'e'.repeat(length - base.length - 1));
    assert.equal(execRoot.length, length);
    const d = await startDaemon({ execRoot });
    t.after(async () => {
      await d.cleanup();
      await rm(base, { recursive: true, force: true });
    });
    await loadBusybox(d);
    const run = await d.docker(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2']);
    assert.deepEqual([run.code, run.stdout, run.stderr], [0, 'out\n', 'err\n']);

    const started = await d.docker(['run', '-d', '-t', 'busybox', 'sleep', '60']);
    assert.equal(started.code, 0, started.stderr);
    const id = started.stdout.trim();
    const resized = await socketRequest(d.socket, 'POST', `/containers/${id}/resize?h=33&w=101`);
    assert.equal(resized.status, 200, resized.body.toString());
    await waitFor(async () => (await d.docker(['exec', id, 'stty', '-F', '/proc/1/fd/0', 'size'])).stdout === '33 101\n', { what: 'the tty resized' });
    const exec = await d.docker(['exec', id, 'echo', 'exec-out']);
    assert.deepEqual([exec.code, exec.stdout], [0, 'exec-out\n']);
    assert.equal((await d.docker(['rm', '-f', id])).code, 0);
  });
}
