/**
 * The container core under races, against one real wharfd: every state change goes through the
 * state machine, and what a user sees from outside (Docker CLI, raw API) is Docker's whatever
 * the timing: stop during a restart back-off, kill that waits for the exit, a supervisor (conmon)
 * that dies, commit of a container that just exited, a stalled archive client, clients that go
 * away, rm -f racing start.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { rawTar } from '../fixtures/hostile-archives.js';
import { CLI_MAIN, DOCKER_CLI, countLeaks, loadBusybox, runCommand, socketRequest, startDaemon, waitFor, type Daemon } from './harness.js';

let d: Daemon;

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
});
after(async () => {
  await d?.cleanup();
});

interface ApiResult {
  status: number;
  body: string;
}

/** One API call on the daemon's socket, the body read whole. */
const api = (method: string, path: string, body?: unknown): Promise<ApiResult> => socketRequest(d.socket, method, path, { body });

/** A request whose response is left unread (a stalled or abandoned client); abort() drops it. */
function openRequest(method: string, path: string): Promise<{ res: IncomingMessage; abort: () => void }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: d.socket, method, path }, (res) => {
      res.pause();
      resolve({ res, abort: () => req.destroy() });
    });
    req.on('error', (err) => {
      if (!req.destroyed) reject(err);
    });
    req.end();
  });
}

/** POST with a JSON body and an upgrade to a raw stream (attach, exec start); resolves with the socket. */
function hijackRaw(path: string, body: unknown): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = request({
      socketPath: d.socket,
      method: 'POST',
      path,
      headers: { 'Content-Type': 'application/json', 'Content-Length': data.length, Connection: 'Upgrade', Upgrade: 'tcp' },
    });
    req.on('upgrade', (_res, socket: Socket, head: Buffer) => {
      if (head.length) socket.unshift(head);
      resolve(socket);
    });
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('error', reject);
    req.end(data);
  });
}

/**
 * Runs a command under a pty (script), as a user at a terminal: `input` is typed once `ready`
 * shows in the output. Resolves with the output and exit code (rejects past the deadline).
 */
function underPty(
  command: string,
  opts: { steps?: Array<{ ready?: RegExp; input: string }>; nudge?: { input: string; until: RegExp }; stdinEof?: boolean; timeoutMs?: number } = {},
): Promise<{ out: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      env: { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.root, 'docker-config') },
      // stdinEof: /dev/null, at EOF from the start.
      stdio: [opts.stdinEof ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let out = '';
    const steps = [...(opts.steps ?? [])];
    // Each step's input is typed once its `ready` shows in the output that followed the last step.
    let since = 0;
    const type = () => {
      while (steps.length && (!steps[0]!.ready || steps[0]!.ready.test(out.slice(since)))) {
        since = out.length;
        child.stdin!.write(steps.shift()!.input);
      }
    };
    // Typed again and again until `until` shows (input sent before the client reads may be dropped).
    const nudge = opts.nudge;
    const nudger = nudge ? setInterval(() => (nudge.until.test(out) ? clearInterval(nudger) : child.stdin!.write(nudge.input)), 200) : undefined;
    const onOutput = (b: Buffer) => {
      out += b.toString();
      type();
    };
    type();
    child.stdout!.on('data', onOutput);
    child.stderr!.on('data', onOutput);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command}: no exit within ${opts.timeoutMs ?? 15_000} ms; output: ${JSON.stringify(out)}`));
    }, opts.timeoutMs ?? 15_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      clearInterval(nudger);
      child.stdin?.destroy();
      resolve({ out, code });
    });
  });
}

async function docker(args: string[], timeoutMs = 60_000): Promise<string> {
  const r = await d.docker(args, { timeoutMs });
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

interface State {
  Status: string;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  ExitCode: number;
  Pid: number;
}

async function state(ref: string): Promise<State> {
  const r = await api('GET', `/containers/${ref}/json`);
  assert.equal(r.status, 200, r.body);
  return (JSON.parse(r.body) as { State: State }).State;
}

/** The containers runc knows in the daemon's runc root. */
async function runcIds(): Promise<string[]> {
  const r = await runCommand('runc', ['--root', join(d.execRoot, 'runc'), 'list', '-q']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

/** An exited container whose upper dir holds 3000 files: walking it takes a while. */
async function exitedWithManyFiles(): Promise<string> {
  const c = await api('POST', '/containers/create', {
    Image: 'busybox',
    Cmd: ['sh', '-c', 'mkdir /d && for i in $(seq 3000); do echo $i > /d/$i; done'],
    HostConfig: { NetworkMode: 'none' },
  });
  const { Id } = JSON.parse(c.body) as { Id: string };
  assert.equal((await api('POST', `/containers/${Id}/start`)).status, 204);
  assert.equal((await api('POST', `/containers/${Id}/wait`)).status, 200);
  return Id;
}

async function conmonPid(id: string): Promise<number> {
  return Number((await readFile(join(d.execRoot, 'conmon', `${id}.pid`), 'utf8')).trim());
}

describe('core races', () => {
  test('docker kill returns once the container is dead: exited (137) at once, rm works', async () => {
    for (let i = 0; i < 3; i++) {
      const id = await docker(['run', '-d', 'busybox', 'sleep', '1000']);
      await docker(['kill', id]);
      const s = await state(id);
      assert.equal(s.Status, 'exited');
      assert.equal(s.Running, false);
      assert.equal(s.ExitCode, 137);
      await docker(['rm', id]);
    }
  });

  test('a pause that lands while stop waits for the stop signal: the SIGKILL that follows thaws it, as Docker\'s does, and the stop ends', async () => {
    // The process notes the stop signal and runs on, so the stop goes on to SIGKILL after its timeout.
    const since = Math.floor(Date.now() / 1000);
    const id = await docker(['run', '-d', 'busybox', 'sh', '-c', 'trap ": > /tmp/term" TERM; while true; do sleep 0.05; done']);
    const merged = (await docker(['inspect', '-f', '{{.GraphDriver.Data.MergedDir}}', id])).trim();
    const stop = api('POST', `/containers/${id}/stop?t=2`);
    await waitFor(() => existsSync(join(merged, 'tmp/term')), { what: 'the stop signal to reach the process' });
    const paused = await api('POST', `/containers/${id}/pause`);
    assert.equal(paused.status, 204, paused.body);
    const r = await stop;
    assert.equal(r.status, 204, r.body);
    const s = await state(id);
    assert.deepEqual([s.Status, s.ExitCode, s.Paused], ['exited', 137, false]);
    // As Docker's: the thaw is reported (an unpause after the pause), before the process dies.
    const filters = encodeURIComponent(JSON.stringify({ container: [id], event: ['pause', 'unpause', 'die'] }));
    const events = await api('GET', `/events?since=${since}&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${filters}`);
    assert.deepEqual(events.body.trim().split('\n').map((l) => (JSON.parse(l) as { Action: string }).Action), ['pause', 'unpause', 'die']);
    await docker(['rm', id]);
  });

  test('a stop signal that reached the init before its handler was there is sent again once it is: the stop is graceful', async () => {
    // sh, its namespace's init, leaves TERM at the default (the kernel then drops it) until /tmp/go appears.
    const since = Math.floor(Date.now() / 1000);
    const id = await docker(['run', '-d', 'busybox', 'sh', '-c', 'while [ ! -e /tmp/go ]; do sleep 0.02; done; trap "exit 3" TERM; while true; do sleep 0.05; done']);
    const merged = (await docker(['inspect', '-f', '{{.GraphDriver.Data.MergedDir}}', id])).trim();
    const stop = api('POST', `/containers/${id}/stop?t=30`);
    const filters = encodeURIComponent(JSON.stringify({ container: [id], event: ['kill'] }));
    await waitFor(async () => (await api('GET', `/events?since=${since}&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${filters}`)).body.includes('"signal":"15"'), {
      what: 'the stop signal to be sent',
    });
    await writeFile(join(merged, 'tmp/go'), '');
    const r = await stop;
    assert.equal(r.status, 204, r.body);
    const s = await state(id);
    // 137 when the dropped signal is left dropped: the kill at the end of the 30 s.
    assert.deepEqual([s.Status, s.ExitCode], ['exited', 3]);
    await docker(['rm', id]);
  });

  test('kill, stop, top, exec, wait and restart that come during a start wait for it, as the container lock makes them in Docker', async () => {
    // A client seeing a container's first output may signal it before the start has returned
    // (sig-proxy's Ctrl-C): a 409 "not running" there left the container running and the CLI hung.
    const requests = {
      kill: (id: string) => api('POST', `/containers/${id}/kill`),
      stop: (id: string) => api('POST', `/containers/${id}/stop?t=0`),
      top: (id: string) => api('GET', `/containers/${id}/top`),
      exec: (id: string) => api('POST', `/containers/${id}/exec`, { Cmd: ['true'] }),
      wait: (id: string) => api('POST', `/containers/${id}/wait?condition=not-running`),
      restart: (id: string) => api('POST', `/containers/${id}/restart?t=0`),
    };
    const expected = { kill: 204, stop: 204, top: 200, exec: 201, wait: 200, restart: 204 };
    for (const verb of Object.keys(requests) as (keyof typeof requests)[]) {
      for (let i = 0; i < 3; i++) {
        const since = Math.floor(Date.now() / 1000) - 1;
        const c = await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '1000'] });
        assert.equal(c.status, 201, c.body);
        const { Id } = JSON.parse(c.body) as { Id: string };
        const merged = (JSON.parse((await api('GET', `/containers/${Id}/json`)).body) as { GraphDriver: { Data: { MergedDir: string } } }).GraphDriver.Data.MergedDir;
        try {
          const starting = api('POST', `/containers/${Id}/start`);
          // Its rootfs mounted, the start is under way (the runtime has yet to create the container).
          await waitFor(async () => (await readFile('/proc/self/mountinfo', 'utf8')).includes(` ${merged} `), { what: 'rootfs mounted', intervalMs: 1 });
          let answered = false;
          const second = requests[verb](Id).finally(() => (answered = true));
          assert.equal((await starting).status, 204);
          if (verb === 'wait') {
            // Not running when it came, but running once the start it waited for had ended.
            await state(Id);
            assert.equal(answered, false, 'the wait answered while the container ran');
            assert.equal((await api('POST', `/containers/${Id}/kill`)).status, 204);
          }
          const r = await second;
          assert.equal(r.status, expected[verb], `${verb}: ${r.status} ${r.body}`);
          if (verb === 'kill' || verb === 'stop' || verb === 'wait') {
            const s = await state(Id);
            assert.equal(s.Running, false);
            assert.equal(s.ExitCode, 137);
          }
          if (verb === 'wait') assert.equal((JSON.parse(r.body) as { StatusCode: number }).StatusCode, 137);
          if (verb === 'restart') {
            // Stopped and started again: a second start of the container, not the first one left alone.
            assert.equal((await state(Id)).Running, true);
            const filters = encodeURIComponent(JSON.stringify({ container: [Id], event: ['start'] }));
            const events = await api('GET', `/events?since=${since}&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${filters}`);
            assert.equal(events.body.trim().split('\n').length, 2, events.body);
          }
        } finally {
          assert.equal((await api('DELETE', `/containers/${Id}?force=1`)).status, 204);
        }
      }
    }
  });

  test('docker stop during the restart back-off cancels the restart: it stays exited', async () => {
    // Several tries, each stopping at a different point of the back-off / restart.
    for (let i = 0; i < 8; i++) {
      // Exits once, then (restarted) runs on: a restart that slips through shows as running.
      // Published ports make the start (iptables) long enough for the stop to land in it too.
      const ports = Array.from({ length: 8 }, (_, n) => ['-p', `127.0.0.1::${8000 + n}`]).flat();
      const id = await docker(['run', '-d', '--restart', 'always', ...ports, 'busybox', 'sh', '-c', 'test -e /ran && exec sleep 1000; touch /ran; exit 3']);
      const restarting = await waitFor(async () => {
        const s = await state(id);
        return s.Status === 'restarting' ? s : undefined;
      }, { what: 'restarting' });
      // Docker's state machine: restarting is of the running family.
      assert.equal(restarting.Running, true);
      assert.equal(restarting.Restarting, true);
      await docker(['stop', '-t', '1', id]);
      const s = await state(id);
      assert.equal(s.Status, 'exited', `try ${i}: right after stop`);
      assert.equal(s.Running, false);
      // Nothing may start it again: watch for longer than any back-off this early.
      const until = Date.now() + 1000;
      while (Date.now() < until) {
        const now = await state(id);
        assert.equal(now.Status, 'exited', `try ${i}: restarted after stop`);
      }
      await docker(['rm', id]);
    }
  });

  test('conmon killed with -9: the container settles as Exited (137), stop/rm work', async () => {
    const id = await docker(['run', '-d', 'busybox', 'sleep', '1000']);
    const pid = await conmonPid(id);
    process.kill(pid, 'SIGKILL');
    await waitFor(async () => (await state(id)).Status === 'exited', { timeoutMs: 5000, what: 'exited after conmon died' });
    assert.equal((await state(id)).ExitCode, 137);
    await docker(['rm', '-f', id], 20_000);
  });

  test('commit of a container that has just exited goes on', async () => {
    for (let i = 0; i < 8; i++) {
      const id = await docker(['run', '-d', 'busybox', 'sh', '-c', 'echo x > /marker']);
      const r = await api('POST', `/commit?container=${id}&repo=justexited&tag=t${i}`, {});
      assert.equal(r.status, 201, `try ${i}: ${r.body}`);
      await docker(['rm', '-f', id]);
      await docker(['rmi', `justexited:t${i}`]);
    }
  });

  test('a stalled archive or export client holds up no exit, stop or start', async () => {
    const id = await docker(['run', '-d', 'busybox', 'sleep', '1000']);
    await docker(['exec', id, 'dd', 'if=/dev/zero', 'of=/big', 'bs=1M', 'count=16']);
    const stalled = await openRequest('GET', `/containers/${id}/archive?path=/big`);
    assert.equal(stalled.res.statusCode, 200);
    // stop must not wait for the archive client (it did: 30 s, then an error).
    await docker(['stop', '-t', '1', id], 20_000);
    assert.equal((await state(id)).Status, 'exited');
    // The stream is still whole: read it now.
    const parts: Buffer[] = [];
    stalled.res.on('data', (c: Buffer) => parts.push(c));
    stalled.res.resume();
    await new Promise((r) => stalled.res.on('end', r));
    assert.ok(Buffer.concat(parts).length > 16 * 1024 * 1024);

    // Export of the stopped container, stalled: start and stop go on.
    const exp = await openRequest('GET', `/containers/${id}/export`);
    await docker(['start', id], 20_000);
    await docker(['stop', '-t', '1', id], 20_000);
    exp.abort();
    await docker(['rm', id]);
    await waitFor(async () => (await countLeaks(d)).mounts === 0, { what: 'rootfs unmounted after the streams ended' });
  });

  test('rm -f racing start leaves no container record behind', async () => {
    const before = new Set(await readdir(join(d.dataRoot, 'containers')));
    for (let i = 0; i < 30; i++) {
      const c = await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '1000'] });
      assert.equal(c.status, 201, c.body);
      const { Id } = JSON.parse(c.body) as { Id: string };
      await Promise.all([api('POST', `/containers/${Id}/start`), api('DELETE', `/containers/${Id}?force=1`)]);
      const again = await api('DELETE', `/containers/${Id}?force=1`);
      assert.ok(again.status === 404 || again.status === 204, again.body);
    }
    const left = (await readdir(join(d.dataRoot, 'containers'))).filter((n) => !before.has(n));
    assert.deepEqual(left, []);
    const leaks = await countLeaks(d);
    assert.equal(leaks.mounts, 0, JSON.stringify(leaks.details));
  });

  test('container prune racing start leaves the started containers alone', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const c = await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '1000'], HostConfig: { NetworkMode: 'none' } });
      assert.equal(c.status, 201, c.body);
      ids.push((JSON.parse(c.body) as { Id: string }).Id);
    }
    // prune's look at the containers comes before the starts; its removals queue behind them.
    const [prune, ...starts] = await Promise.all([api('POST', '/containers/prune'), ...ids.map((id) => api('POST', `/containers/${id}/start`))]);
    assert.equal(prune.status, 200, prune.body);
    const pruned = new Set((JSON.parse(prune.body) as { ContainersDeleted: string[] | null }).ContainersDeleted ?? []);
    for (const [i, id] of ids.entries()) {
      const inspect = await api('GET', `/containers/${id}/json`);
      if (starts[i]!.status === 204) {
        assert.ok(!pruned.has(id), `${id} was started and reported pruned`);
        assert.equal(inspect.status, 200, `started container ${id}: ${inspect.body}`);
        assert.equal((JSON.parse(inspect.body) as { State: { Running: boolean } }).State.Running, true);
      } else {
        assert.equal(starts[i]!.status, 404, starts[i]!.body);
        assert.ok(pruned.has(id));
      }
      const rm = await api('DELETE', `/containers/${id}?force=1`);
      assert.ok(rm.status === 204 || rm.status === 404, rm.body);
    }
    const leaks = await countLeaks(d);
    assert.equal(leaks.mounts + leaks.conmon, 0, JSON.stringify(leaks.details));
  });

  test('network connect and disconnect racing rm -f: a connect or a 404, never a 500, and no endpoint left', async () => {
    // moby holds the container's lock through a connect or disconnect: the removal is before or after it.
    assert.equal((await api('POST', '/networks/create', { Name: 'rmrace' })).status, 201);
    for (let i = 0; i < 16; i++) {
      const c = await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '1000'] });
      const { Id } = JSON.parse(c.body) as { Id: string };
      assert.equal((await api('POST', `/containers/${Id}/start`)).status, 204);
      const disconnect = i % 2 === 1;
      if (disconnect) assert.equal((await api('POST', '/networks/rmrace/connect', { Container: Id })).status, 200);
      const verb = disconnect ? 'disconnect' : 'connect';
      const [r, rm] = await Promise.all([api('POST', `/networks/rmrace/${verb}`, { Container: Id }), api('DELETE', `/containers/${Id}?force=1`)]);
      assert.equal(rm.status, 204, rm.body);
      assert.ok([200, 404].includes(r.status), `${verb}: ${r.status} ${r.body}`);
    }
    const net = JSON.parse((await api('GET', '/networks/rmrace')).body) as { Containers: Record<string, unknown> };
    assert.deepEqual(net.Containers, {});
    assert.equal((await api('DELETE', '/networks/rmrace')).status, 204);
  });

  test('network rm racing a start or connect on it: one of them wins cleanly, never a 500', async () => {
    let started = 0;
    let removed = 0;
    for (let i = 0; i < 12; i++) {
      const net = `racenet${i}`;
      assert.equal((await api('POST', '/networks/create', { Name: net })).status, 201);
      const onIt = await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '1000'], HostConfig: { NetworkMode: net } });
      assert.equal(onIt.status, 201, onIt.body);
      const other = await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '1000'] });
      const ids = [onIt, other].map((r) => (JSON.parse(r.body) as { Id: string }).Id);
      const [a, b] = ids as [string, string];
      const [start, rmNet] = await Promise.all([api('POST', `/containers/${a}/start`), api('DELETE', `/networks/${net}`)]);
      if (rmNet.status === 204) {
        removed++;
        assert.equal(start.status, 404, `start after its network went: ${start.body}`);
        assert.match(start.body, new RegExp(`network ${net} not found`));
      } else {
        started++;
        assert.equal(start.status, 204, start.body);
        assert.equal(rmNet.status, 403, rmNet.body);
        assert.match(rmNet.body, /has active endpoints/);
        const inspect = JSON.parse((await api('GET', `/containers/${a}/json`)).body) as { NetworkSettings: { Networks: Record<string, { IPAddress: string }> } };
        assert.match(inspect.NetworkSettings.Networks[net]?.IPAddress ?? '', /^\d+\./);
      }
      // A running container connecting to a network being removed.
      assert.equal((await api('POST', '/networks/create', { Name: `${net}b` })).status, 201);
      assert.equal((await api('POST', `/containers/${b}/start`)).status, 204);
      const [connect, rmNet2] = await Promise.all([
        api('POST', `/networks/${net}b/connect`, { Container: b }),
        api('DELETE', `/networks/${net}b`),
      ]);
      assert.ok(connect.status === 200 || connect.status === 404, `connect: ${connect.status} ${connect.body}`);
      assert.ok((connect.status === 200 && rmNet2.status === 403) || (connect.status === 404 && rmNet2.status === 204), `connect ${connect.status} ${connect.body} / rm ${rmNet2.status} ${rmNet2.body}`);
      for (const id of ids) assert.equal((await api('DELETE', `/containers/${id}?force=1`)).status, 204);
      for (const n of [net, `${net}b`]) {
        const r = await api('DELETE', `/networks/${n}`);
        assert.ok(r.status === 204 || r.status === 404, r.body);
      }
    }
    assert.ok(started + removed === 12);
  });

  test('commit racing rm -f: the commit is made or refused as a removal, never a 500', async () => {
    const seen = new Set<number>();
    for (let i = 0; i < 10; i++) {
      const Id = await exitedWithManyFiles();
      const [commit, rm] = await Promise.all([api('POST', `/commit?container=${Id}&repo=commitrace&tag=${i}`), api('DELETE', `/containers/${Id}?force=1`)]);
      assert.equal(rm.status, 204, rm.body);
      seen.add(commit.status);
      if (commit.status === 409) assert.match(commit.body, /You cannot commit container [0-9a-f]{64} which is being removed/);
      else if (commit.status === 404) assert.match(commit.body, /No such container/);
      else assert.equal(commit.status, 201, commit.body);
      await api('DELETE', `/images/commitrace:${i}`);
    }
    assert.ok(seen.size > 0);
  });

  test('diff racing rm -f: the changes or 404, never a 500', async () => {
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) {
      const Id = await exitedWithManyFiles();
      const [changes, rm] = await Promise.all([api('GET', `/containers/${Id}/changes`), api('DELETE', `/containers/${Id}?force=1`)]);
      assert.equal(rm.status, 204, rm.body);
      seen.push(changes.status);
      if (changes.status === 404) assert.match(changes.body, /No such container/);
      else assert.equal(changes.status, 200, changes.body);
    }
    assert.equal(seen.length, 10);
  });

  test('rename racing rm -f: the new name stays free and the removed container stays gone', async () => {
    for (let i = 0; i < 12; i++) {
      const c = await api('POST', `/containers/create?name=renrace${i}`, { Image: 'busybox', Cmd: ['sleep', '1000'], HostConfig: { NetworkMode: 'none' } });
      const { Id } = JSON.parse(c.body) as { Id: string };
      if (i % 2) assert.equal((await api('POST', `/containers/${Id}/start`)).status, 204);
      const [rm, rename] = await Promise.all([api('DELETE', `/containers/${Id}?force=1`), api('POST', `/containers/${Id}/rename?name=renamed${i}`)]);
      assert.equal(rm.status, 204, rm.body);
      assert.ok(rename.status === 204 || rename.status === 404, `rename: ${rename.status} ${rename.body}`);
      assert.ok(!existsSync(join(d.dataRoot, 'containers', Id, 'config.v2.json')), `the removed container's record came back (rename ${rename.status})`);
      for (const name of [`renrace${i}`, `renamed${i}`]) {
        const again = await api('POST', `/containers/create?name=${name}`, { Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
        assert.equal(again.status, 201, `name ${name} after the race (rename ${rename.status}): ${again.body}`);
        assert.equal((await api('DELETE', `/containers/${name}`)).status, 204);
      }
    }
  });

  test('stop or restart racing rm -f: no event follows the destroy', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = await docker(['run', '-d', '--network', 'none', 'busybox', 'sleep', '1000']);
      ids.push(id);
      // PID 1 ignores SIGTERM: the stop (or restart) waits its timeout, the rm -f ends it meanwhile.
      const verb = i % 2 ? 'restart' : 'stop';
      const [stop, rm] = await Promise.all([api('POST', `/containers/${id}/${verb}?t=5`), api('DELETE', `/containers/${id}?force=1`)]);
      assert.equal(rm.status, 204, rm.body);
      assert.ok([204, 304, 404].includes(stop.status), `${verb}: ${stop.status} ${stop.body}`);
    }
    const until = Math.ceil(Date.now() / 1000) + 1;
    const ev = await api('GET', `/events?since=${since}&until=${until}&filters=${encodeURIComponent(JSON.stringify({ type: ['container'] }))}`);
    const events = ev.body.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; Action: string });
    for (const id of ids) {
      const actions = events.filter((e) => e.id === id).map((e) => e.Action);
      assert.equal(actions.at(-1), 'destroy', actions.join(','));
    }
  });

  test('image prune racing commits: the layers of the pruned images do not stay behind', async () => {
    const c = await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'echo layer > /f'], HostConfig: { NetworkMode: 'none' } });
    const { Id } = JSON.parse(c.body) as { Id: string };
    assert.equal((await api('POST', `/containers/${Id}/start`)).status, 204);
    assert.equal((await api('POST', `/containers/${Id}/wait`)).status, 200);
    const layerdb = join(d.dataRoot, 'image', 'overlay2', 'layerdb', 'sha256');
    const before = (await readdir(layerdb)).length;
    for (let i = 0; i < 20; i++) {
      // Untagged: each commit is a dangling image the prune may take as soon as it is registered.
      const [commit, prune] = await Promise.all([api('POST', `/commit?container=${Id}`), api('POST', '/images/prune')]);
      assert.equal(commit.status, 201, commit.body);
      assert.equal(prune.status, 200, prune.body);
    }
    assert.equal((await api('POST', '/images/prune')).status, 200);
    assert.equal((await api('DELETE', `/containers/${Id}`)).status, 204);
    await waitFor(async () => (await readdir(layerdb)).length === before, { timeoutMs: 5000, what: `layers of the pruned commits to go (${before} before)` });
  });

  test('docker save streaming while rmi -f removes the image: the archive is whole, the layers go after', async () => {
    const Id = await exitedWithManyFiles();
    assert.equal((await api('POST', `/commit?container=${Id}&repo=savedwhile&tag=1`)).status, 201);
    assert.equal((await api('DELETE', `/containers/${Id}`)).status, 204);
    const layerdb = join(d.dataRoot, 'image', 'overlay2', 'layerdb', 'sha256');
    const before = (await readdir(layerdb)).length;
    const { res } = await openRequest('GET', '/images/get?names=savedwhile:1');
    assert.equal(res.statusCode, 200);
    const rmi = await api('DELETE', '/images/savedwhile:1?force=1');
    assert.equal(rmi.status, 200, rmi.body);
    const parts: Buffer[] = [];
    res.on('data', (b: Buffer) => parts.push(b));
    res.resume();
    await new Promise<void>((resolve, reject) => {
      res.once('end', resolve);
      res.once('error', reject);
      res.once('aborted', () => reject(new Error('the archive was cut short')));
    });
    const tar = Buffer.concat(parts);
    // The committed layer's 3000 files are in the archive, and the tar ends with its two zero blocks.
    assert.ok(tar.length > 3000 * 512, `archive of ${tar.length} bytes`);
    assert.ok(tar.subarray(-1024).every((b) => b === 0), 'the archive is not complete');
    await waitFor(async () => (await readdir(layerdb)).length === before - 1, { timeoutMs: 5000, what: 'the removed image\'s layer to be collected once the save ended' });
  });

  test('concurrent docker cp of the same files into one container: each one lands, the last writer wins', async () => {
    const c = await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '1000'], HostConfig: { NetworkMode: 'none' } });
    const { Id } = JSON.parse(c.body) as { Id: string };
    for (let round = 0; round < 5; round++) {
      const puts = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          api('PUT', `/containers/${Id}/archive?path=/tmp`, rawTar([
            { name: 'd', type: '5' },
            { name: 'd/f', body: `writer ${i}\n` },
            { name: 'd/s', type: '2', linkname: 'f' },
          ])),
        ),
      );
      for (const p of puts) assert.equal(p.status, 200, p.body);
    }
    const got = await socketRequest(d.socket, 'GET', `/containers/${Id}/archive?path=/tmp/d/f`);
    assert.equal(got.status, 200, got.body);
    assert.match(got.raw.subarray(512).toString('latin1'), /^writer [0-7]\n/);
    assert.equal((await api('DELETE', `/containers/${Id}`)).status, 204);
  });

  test('inspect of a container whose removal failed after its layer went: 200, Dead, no layer data', async () => {
    const c = await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
    const { Id } = JSON.parse(c.body) as { Id: string };
    // An immutable record dir makes the removal fail after the RW layer is gone (layer first).
    const dir = join(d.dataRoot, 'containers', Id);
    const chattr = (flag: string) => runCommand('chattr', [flag, dir]);
    assert.equal((await chattr('+i')).code, 0);
    try {
      const rm = await api('DELETE', `/containers/${Id}`);
      assert.equal(rm.status, 500, rm.body);
      const inspect = await api('GET', `/containers/${Id}/json`);
      assert.equal(inspect.status, 200, inspect.body);
      const got = JSON.parse(inspect.body) as { State: { Dead: boolean; Status: string }; GraphDriver: { Data: unknown } };
      assert.equal(got.State.Status, 'dead');
      assert.equal(got.GraphDriver.Data, null);
    } finally {
      await chattr('-i');
    }
    assert.equal((await api('DELETE', `/containers/${Id}`)).status, 204);
    assert.equal((await api('GET', `/containers/${Id}/json`)).status, 404);
  });

  test('image rm -f racing a create from it leaves the new container its layers', async () => {
    const base = await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'echo from-layer > /f'], HostConfig: { NetworkMode: 'none' } });
    const baseId = (JSON.parse(base.body) as { Id: string }).Id;
    assert.equal((await api('POST', `/containers/${baseId}/start`)).status, 204);
    assert.equal((await api('POST', `/containers/${baseId}/wait`)).status, 200);
    let made = 0;
    for (let i = 0; i < 15; i++) {
      assert.equal((await api('POST', `/commit?container=${baseId}&repo=racing&tag=1`)).status, 201);
      const [create, rmi] = await Promise.all([
        api('POST', '/containers/create', { Image: 'racing:1', Cmd: ['cat', '/f'], HostConfig: { NetworkMode: 'none' } }),
        api('DELETE', '/images/racing:1?force=1'),
      ]);
      assert.equal(rmi.status, 200, rmi.body);
      if (create.status === 404) continue; // the delete came first: No such image
      assert.equal(create.status, 201, create.body);
      made++;
      const { Id } = JSON.parse(create.body) as { Id: string };
      const start = await api('POST', `/containers/${Id}/start`);
      assert.equal(start.status, 204, `start after the image went: ${start.body}`);
      const wait = await api('POST', `/containers/${Id}/wait`);
      assert.equal((JSON.parse(wait.body) as { StatusCode: number }).StatusCode, 0);
      const logs = await api('GET', `/containers/${Id}/logs?stdout=1`);
      assert.match(logs.body, /from-layer/);
      assert.equal((await api('DELETE', `/containers/${Id}`)).status, 204);
    }
    assert.ok(made > 0, 'no create won the race');
    assert.equal((await api('DELETE', `/containers/${baseId}`)).status, 204);
  });

  test('conmon killed while the daemon was away (restored container): settled too', async () => {
    const id = await docker(['run', '-d', 'busybox', 'sleep', '1000']);
    await d.restart();
    process.kill(await conmonPid(id), 'SIGKILL');
    await waitFor(async () => (await state(id)).Status === 'exited', { timeoutMs: 5000, what: 'exited after conmon died' });
    assert.equal((await state(id)).ExitCode, 137);
    await docker(['rm', id]);
  });
  test('a start the daemon died in (runc has it, the record does not) is undone at restore', async () => {
    const id = await docker(['run', '-d', '--network', 'none', 'busybox', 'sleep', '1000']);
    const initPid = (await state(id)).Pid;
    await d.kill9();
    // What a daemon killed between `runc create` and saving the record leaves: a runtime
    // container with a record that says it never ran.
    const file = join(d.dataRoot, 'containers', id, 'config.v2.json');
    const rec = JSON.parse(await readFile(file, 'utf8')) as { State: Record<string, unknown> };
    Object.assign(rec.State, { Running: false, Pid: 0, StartedAt: '0001-01-01T00:00:00Z', Status: 'created' });
    await writeFile(file, JSON.stringify(rec));
    await d.restart();
    assert.equal((await state(id)).Status, 'created');
    assert.ok(!(await runcIds()).includes(id), 'runc still has the unfinished start');
    await waitFor(async () => !existsSync(`/proc/${initPid}`) || (await readFile(`/proc/${initPid}/stat`, 'utf8')).includes(') Z'), {
      timeoutMs: 5000,
      what: 'the unfinished start\'s process to go',
    });
    await docker(['start', id]);
    assert.equal((await state(id)).Status, 'running');
    await docker(['rm', '-f', id]);
    const leaks = await countLeaks(d);
    assert.equal(leaks.mounts + leaks.runc + leaks.conmon, 0, JSON.stringify(leaks.details));
  });

  test('abandoned wait, attach and logs -f requests leave nothing behind', async () => {
    const running = await docker(['run', '-d', 'busybox', 'sleep', '1000']);
    const created = await docker(['create', '-i', 'busybox', 'cat']);
    const abandoned = [];
    for (let i = 0; i < 12; i++) {
      abandoned.push(await openRequest('POST', `/containers/${running}/wait`));
      abandoned.push(await openRequest('POST', `/containers/${running}/wait?condition=removed`));
      abandoned.push(await openRequest('GET', `/containers/${running}/logs?follow=1&stdout=1`));
    }
    for (let i = 0; i < 3; i++) {
      abandoned.push(await openRequest('POST', `/containers/${created}/attach?stream=1&stdout=1`));
    }
    const dump = async () => {
      const before = d.log().length;
      process.kill(d.pid, 'SIGUSR2');
      return waitFor(() => /state dump: (.*)\n/.exec(d.log().slice(before))?.[1], { what: 'state dump' });
    };
    const held = JSON.parse(await dump()) as { containers: Record<string, number> };
    assert.ok(held.containers.exitWaiters! >= 24, JSON.stringify(held));
    assert.equal(held.containers.pendingAttaches, 3);
    for (const a of abandoned) a.abort();
    await waitFor(
      async () => {
        const c = (JSON.parse(await dump()) as { containers: Record<string, number> }).containers;
        return c.exitWaiters === 0 && c.removalWaiters === 0 && c.pendingAttaches === 0;
      },
      { what: 'every waiter released' },
    );
    await docker(['rm', '-f', running, created]);
  });


  test('exec output is framed by the start request\'s Tty, as Docker does', async () => {
    const id = await docker(['run', '-d', 'busybox', 'sleep', '1000']);
    const c = await api('POST', `/containers/${id}/exec`, { Cmd: ['echo', 'framed'], AttachStdout: true, Tty: false });
    const { Id } = JSON.parse(c.body) as { Id: string };
    const sock = await hijackRaw(`/exec/${Id}/start`, { Detach: false, Tty: true });
    const parts: Buffer[] = [];
    sock.on('data', (b: Buffer) => parts.push(b));
    await new Promise((r) => sock.on('close', r));
    // Raw, not a stdcopy frame (which would start with 1 0 0 0).
    assert.equal(Buffer.concat(parts).toString(), 'framed\n');
    await docker(['rm', '-f', id]);
  });

  test('exec detach (ctrl-p ctrl-q) ends the hijacked connection while the process runs on', async () => {
    const id = await docker(['run', '-d', 'busybox', 'sleep', '1000']);
    const c = await api('POST', `/containers/${id}/exec`, { Cmd: ['sh', '-c', 'echo ready; exec sleep 1000'], AttachStdin: true, AttachStdout: true, Tty: true });
    const { Id } = JSON.parse(c.body) as { Id: string };
    const sock = await hijackRaw(`/exec/${Id}/start`, { Detach: false, Tty: true });
    let out = '';
    sock.on('data', (b: Buffer) => (out += b.toString()));
    await waitFor(() => out.includes('ready'), { what: 'exec output' });
    const closed = new Promise((r) => sock.on('close', r));
    sock.write(Buffer.from([0x10, 0x11]));
    await waitFor(() => sock.destroyed || sock.readableEnded, { timeoutMs: 5000, what: 'the connection to end on detach' });
    sock.destroy();
    await closed;
    const ex = JSON.parse((await api('GET', `/exec/${Id}/json`)).body) as { Running: boolean };
    assert.equal(ex.Running, true);
    await docker(['rm', '-f', id]);
  });

  test('docker exec -it keeps the output when input arrives as it ends (pty, stdin at EOF)', async () => {
    const id = await docker(['run', '-d', 'busybox', 'sleep', '1000']);
    for (let i = 0; i < 5; i++) {
      const r = await underPty(`${DOCKER_CLI} exec -it ${id} sh -c 'sleep 0.2; echo out-$((40 + 2))'`, { stdinEof: true });
      assert.match(r.out, /out-42/, `try ${i}: ${JSON.stringify(r.out)}`);
    }
    await docker(['rm', '-f', id]);
  });

  test('wharf run -it / attach / exec -it: ctrl-p ctrl-q detaches at once; the container runs on', async () => {
    const wharf = `node ${CLI_MAIN} -H ${d.host}`;
    // ctrl-q is flow control on a cooked terminal: the keys go once the shell's prompt shows (raw mode is on).
    const detach = { steps: [{ ready: /# /, input: '\x10\x11' }] };
    const run = await underPty(`${wharf} run -it --name detach-run busybox sh; echo "rc=$?"`, detach);
    assert.match(run.out, /rc=0/);
    assert.equal((await state('detach-run')).Running, true);
    // attach: Docker's message and status 1.
    const att = await underPty(`${wharf} attach detach-run; echo "rc=$?"`, { ...detach, nudge: { input: '\r', until: /# / } });
    assert.match(att.out, /read escape sequence\r?\n/);
    assert.match(att.out, /rc=1/);
    const ex = await underPty(`${wharf} exec -it detach-run sh; echo "rc=$?"`, detach);
    assert.match(ex.out, /read escape sequence\r?\n/);
    assert.match(ex.out, /rc=1/);
    assert.equal((await state('detach-run')).Running, true);
    await docker(['rm', '-f', 'detach-run']);
  });

  test('exec output is never dropped by input written as the process ends', async () => {
    const id = await docker(['run', '-d', 'busybox', 'sleep', '1000']);
    for (let i = 0; i < 10; i++) {
      const c = await api('POST', `/containers/${id}/exec`, { Cmd: ['sh', '-c', 'sleep 0.1; echo out-42'], AttachStdin: true, AttachStdout: true });
      const { Id } = JSON.parse(c.body) as { Id: string };
      const sock = await hijackRaw(`/exec/${Id}/start`, { Detach: false, Tty: false });
      const parts: Buffer[] = [];
      sock.on('data', (b: Buffer) => parts.push(b));
      sock.on('error', () => {});
      // Input the process never reads, written until the connection ends.
      const typing = setInterval(() => sock.writable && sock.write('x\n'), 2);
      await new Promise((r) => sock.on('close', r));
      clearInterval(typing);
      assert.match(Buffer.concat(parts).toString('latin1'), /out-42/, `try ${i}`);
    }
    await docker(['rm', '-f', id]);
  });
});
