/**
 * Container lifecycle through `wharf` against a real wharfd: detached runs, logs, ps, inspect,
 * stop/kill/restart/rm/rename/top/wait, restart policies, and live restore across a daemon
 * kill -9 and a SIGTERM shutdown.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { CLI_MAIN, cliOk, countLeaks, jsonBody, loadBusybox, socketRequest, startDaemon, waitFor, type Daemon } from './harness.js';

let d: Daemon;

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
});
after(async () => {
  await d?.cleanup();
});

const ok = (args: string[]): Promise<string> => cliOk(d, 'wharf', args);

const inspect = async (ref: string, fmt: string) => (await ok(['inspect', '-f', fmt, ref])).trim();
const alive = (pid: number) => existsSync(`/proc/${pid}`);

describe('lifecycle', () => {
  test('run -d, logs, ps, inspect, stop, rm', async () => {
    const id = (await ok(['run', '-d', '--name', 'web', '-l', 'role=test', 'busybox', 'sh', '-c', 'trap "echo bye; exit 0" TERM; echo started; echo oops >&2; while true; do sleep 0.1; done'])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    await waitFor(async () => (await d.wharf(['logs', 'web'])).stdout === 'started\n', { what: 'log line' });
    const logs = await d.wharf(['logs', 'web']);
    assert.equal(logs.stderr, 'oops\n');
    // The last line is the stderr one; -t prefixes Docker's RFC3339Nano time.
    const ts = await d.wharf(['logs', '-t', '--tail', '1', 'web']);
    assert.equal(ts.stdout, '');
    assert.match(ts.stderr, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z oops\n$/);
    const ps = await ok(['ps', '--format', '{{.Names}} {{.Status}} {{.Label "role"}}']);
    assert.match(ps, /^web Up (Less than a second|\d+ seconds?) test$/m);
    assert.equal(await inspect('web', '{{.State.Status}} {{.Config.Labels.role}} {{.Name}}'), 'running test /web');
    assert.equal(await inspect(id.slice(0, 8), '{{.Id}}'), id, 'lookup by unique ID prefix');
    const pid = Number(await inspect('web', '{{.State.Pid}}'));
    assert.ok(alive(pid));
    await ok(['stop', 'web']);
    assert.equal(await inspect('web', '{{.State.Status}} {{.State.ExitCode}}'), 'exited 0');
    assert.equal((await d.wharf(['logs', 'web'])).stdout, 'started\nbye\n', 'SIGTERM reached the process');
    assert.ok(!alive(pid));
    assert.equal(await ok(['ps', '-q']), '');
    assert.match(await ok(['ps', '-a', '--filter', 'status=exited', '--format', '{{.Names}}']), /^web$/m);
    await ok(['rm', 'web']);
    const gone = await d.wharf(['inspect', 'web']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /No such object: web|No such container: web/);
  });

  test("stop uses the image's StopSignal / --stop-signal, then SIGKILL after the timeout", async () => {
    await ok(['run', '-d', '--name', 'trap', 'busybox', 'sh', '-c', 'trap "exit 42" USR1; while true; do sleep 0.1; done']);
    await ok(['stop', '--signal', 'USR1', 'trap']);
    assert.equal(await inspect('trap', '{{.State.ExitCode}}'), '42');
    await ok(['run', '-d', '--name', 'stubborn', '--stop-signal', 'USR2', 'busybox', 'sh', '-c', 'trap "" USR2 TERM; while true; do sleep 0.1; done']);
    const started = Date.now();
    await ok(['stop', '-t', '1', 'stubborn']);
    assert.equal(await inspect('stubborn', '{{.State.ExitCode}}'), '137');
    assert.ok(Date.now() - started >= 900, 'waited for the timeout before SIGKILL');
    await ok(['rm', 'trap', 'stubborn']);
  });

  test('kill sends any signal; killing a stopped container is a conflict', async () => {
    await ok(['run', '-d', '--name', 'killme', 'busybox', 'sh', '-c', 'trap "exit 7" HUP; while true; do sleep 0.1; done']);
    await ok(['kill', '-s', 'HUP', 'killme']);
    assert.equal((await ok(['wait', 'killme'])).trim(), '7');
    const r = await d.wharf(['kill', 'killme']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is not running/);
    await ok(['rm', 'killme']);
  });

  test('restart, rename, top, rm -f', async () => {
    await ok(['run', '-d', '--name', 'r1', 'busybox', 'sleep', '100']);
    const pid1 = await inspect('r1', '{{.State.Pid}}');
    await ok(['restart', '-t', '0', 'r1']);
    const pid2 = await inspect('r1', '{{.State.Pid}}');
    assert.notEqual(pid1, pid2);
    assert.equal(await inspect('r1', '{{.State.Running}}'), 'true');
    await ok(['rename', 'r1', 'r2']);
    assert.equal(await inspect('r2', '{{.Name}}'), '/r2');
    const top = await ok(['top', 'r2']);
    assert.match(top, /PID/);
    assert.match(top, /sleep 100/);
    const badTop = await d.docker(['top', 'r2', '-o', 'pid,bogusfield']);
    assert.deepEqual([badTop.code, badTop.stderr], [1, 'Error response from daemon: ps: error: unknown user-defined format specifier "bogusfield"\n']);
    const rm = await d.wharf(['rm', 'r2']);
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, /container is running: stop the container before removing or force remove/);
    await ok(['rm', '-f', 'r2']);
    assert.ok(!alive(Number(pid2)));
    // --rm: the stop a restart does removes nothing (Docker's HasBeenManuallyRestarted); a later stop does.
    await ok(['run', '-d', '--rm', '--name', 'rmr', 'busybox', 'sleep', '100']);
    await ok(['restart', '-t', '0', 'rmr']);
    assert.equal(await inspect('rmr', '{{.State.Running}}'), 'true');
    await ok(['stop', '-t', '0', 'rmr']);
    await waitFor(async () => (await d.docker(['inspect', 'rmr'])).code !== 0, { what: 'the --rm container to go after its stop' });
  });

  test('restart policy on-failure:2 retries twice with back-off, then stays exited', async () => {
    await ok(['run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'exit 5']);
    await waitFor(async () => (await inspect('flaky', '{{.RestartCount}} {{.State.Status}}')) === '2 exited', { what: 'two restarts', timeoutMs: 15_000 });
    assert.equal(await inspect('flaky', '{{.State.ExitCode}}'), '5');
    await ok(['rm', 'flaky']);
  });

  test('restart policy always restarts after the process dies; stop ends it', async () => {
    await ok(['run', '-d', '--name', 'always', '--restart', 'always', 'busybox', 'sleep', '100']);
    const pid = Number(await inspect('always', '{{.State.Pid}}'));
    process.kill(pid, 'SIGKILL');
    await waitFor(async () => {
      const [count, running, p] = (await inspect('always', '{{.RestartCount}} {{.State.Running}} {{.State.Pid}}')).split(' ');
      return count === '1' && running === 'true' && Number(p) !== pid;
    }, { what: 'restart after kill', timeoutMs: 10_000 });
    await ok(['stop', '-t', '0', 'always']);
    assert.equal(await inspect('always', '{{.State.Status}}'), 'exited');
    await ok(['rm', 'always']);
  });

  test('a bridged container started again the moment its exit is reported gets its network every time; rm leaves no mount', async () => {
    // An exit's namespace file is unmounted after the exit is reported; the next start binds the
    // same path and must wait for that, or the old unmount takes the new namespace's mount. An
    // API client's start follows the wait's answer closer than any CLI can.
    await ok(['create', '--name', 'again', 'busybox', 'sh', '-c', 'ip -4 -o addr show eth0 | grep -q "inet 10\\." && exit 0; exit 9']);
    const id = await inspect('again', '{{.Id}}');
    for (let i = 0; i < 10; i++) {
      const exited = socketRequest(d.socket, 'POST', `/containers/${id}/wait?condition=next-exit`);
      const started = await socketRequest(d.socket, 'POST', `/containers/${id}/start`);
      assert.equal(started.status, 204, `start ${i}: ${started.body}`);
      const w = await exited;
      assert.equal(w.status, 200);
      assert.deepEqual(jsonBody(w), { StatusCode: 0 }, `run ${i}`);
    }
    await ok(['rm', 'again']);
    const leaks = await countLeaks(d);
    assert.deepEqual(leaks.details.mounts.filter((m) => m.includes(id)), []);
  });

  test('live restore: kill -9 the daemon, containers keep running and their exits are seen', async () => {
    await ok(['run', '-d', '--name', 'survivor', 'busybox', 'sh', '-c', 'echo up; exec sleep 100']);
    await ok(['run', '-d', '--name', 'dies', 'busybox', 'sh', '-c', 'while [ ! -e /tmp/go ]; do sleep 0.05; done; exit 7']);
    const survivorPid = Number(await inspect('survivor', '{{.State.Pid}}'));
    const diesPid = Number(await inspect('dies', '{{.State.Pid}}'));
    const merged = await inspect('dies', '{{.GraphDriver.Data.MergedDir}}');
    await d.kill9();
    await writeFile(join(merged, 'tmp/go'), '');
    await waitFor(async () => !alive(diesPid), { what: 'container exit while the daemon is down' });
    assert.ok(alive(survivorPid), 'container survives the daemon');
    await d.restart();
    assert.equal(await inspect('survivor', '{{.State.Status}} {{.State.Pid}}'), `running ${survivorPid}`);
    assert.equal(await inspect('dies', '{{.State.Status}} {{.State.ExitCode}}'), 'exited 7');
    assert.match(await ok(['logs', 'survivor']), /^up\n$/);
    await ok(['kill', 'survivor']);
    assert.equal((await ok(['wait', 'survivor'])).trim(), '137');
    await ok(['rm', 'survivor', 'dies']);
  });

  test('at daemon start, always restarts a container that died while the daemon was down; no does not', async () => {
    await ok(['run', '-d', '--name', 'phoenix', '--restart', 'always', 'busybox', 'sleep', '100']);
    await ok(['run', '-d', '--name', 'mortal', 'busybox', 'sleep', '100']);
    const pids = [Number(await inspect('phoenix', '{{.State.Pid}}')), Number(await inspect('mortal', '{{.State.Pid}}'))];
    await d.kill9();
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await waitFor(() => pids.every((p) => !alive(p)), { what: 'both containers dead' });
    await d.restart();
    const [running, pid] = (await inspect('phoenix', '{{.State.Running}} {{.State.Pid}}')).split(' ');
    assert.equal(running, 'true');
    assert.notEqual(Number(pid), pids[0]);
    assert.equal(await inspect('mortal', '{{.State.Status}} {{.State.ExitCode}}'), 'exited 137');
    await ok(['rm', '-f', 'phoenix', 'mortal']);
  });

  test('Ctrl-C on an attached run is forwarded to the container (sig-proxy)', async () => {
    const child = spawn(process.execPath, [CLI_MAIN, 'run', '--rm', '--name', 'proxied', 'busybox', 'sh', '-c', 'trap "echo got INT; exit 5" INT; echo ready; while true; do sleep 0.1; done'], {
      env: { ...process.env, WHARF_HOST: d.host },
    });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    await waitFor(() => out.includes('ready'), { what: 'container ready' });
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    assert.equal(code, 5);
    assert.match(out, /got INT/);
  });

  test('start -a attaches and returns the exit code', async () => {
    await ok(['create', '--name', 'later', 'busybox', 'sh', '-c', 'echo attached; exit 6']);
    const r = await d.wharf(['start', '-a', 'later']);
    assert.equal(r.stdout, 'attached\n');
    assert.equal(r.code, 6);
    await ok(['rm', 'later']);
  });

  test('SIGTERM shuts the daemon down and leaves containers running', async () => {
    await ok(['run', '-d', '--name', 'keep', 'busybox', 'sleep', '100']);
    const pid = Number(await inspect('keep', '{{.State.Pid}}'));
    await d.stop();
    assert.ok(alive(pid));
    await d.restart();
    assert.equal(await inspect('keep', '{{.State.Running}}'), 'true');
    await ok(['rm', '-f', 'keep']);
  });

  test('after everything, nothing leaks', async () => {
    await ok(['container', 'prune', '-f']);
    const leaks = await countLeaks(d);
    assert.deepEqual({ mounts: leaks.mounts, conmon: leaks.conmon, runc: leaks.runc, cgroups: leaks.cgroups }, { mounts: 0, conmon: 0, runc: 0, cgroups: 0 }, JSON.stringify(leaks.details));
  });
});
