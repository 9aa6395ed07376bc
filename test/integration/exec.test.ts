/**
 * exec against a real wharfd (conmon exec mode + runc): through the Docker CLI, the wharf CLI
 * and dockerode — stdio, stdin, tty, exit codes, -u/-w/-e/--env-file/--privileged, detach,
 * Docker's errors, inspect, events, and nothing left behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { DOCKER_CLI, countLeaks, loadBusybox, socketJson, startDaemon, waitFor, type Daemon } from './harness.js';

let d: Daemon;
let cid: string;

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
  const r = await d.docker(['run', '-d', '--name', 'ex', '-e', 'FROM_RUN=r', 'busybox', 'sleep', '1000']);
  assert.equal(r.code, 0, r.stderr);
  cid = r.stdout.trim();
});
after(async () => {
  await d?.cleanup();
});

const api = <T>(method: string, path: string, body?: unknown) => socketJson<T>(d.socket, method, path, { body });

describe('docker exec', () => {
  test('stdout and stderr apart, the command exit code becomes the CLI exit code', async () => {
    const r = await d.docker(['exec', 'ex', 'sh', '-c', 'echo out; echo err >&2; echo $FROM_RUN; exit 3']);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, 'out\nr\n');
    assert.equal(r.stderr, 'err\n');
    assert.equal((await d.docker(['exec', 'ex', 'true'])).code, 0);
  });

  test('-i relays piped stdin and closes it at EOF', async () => {
    const r = await d.docker(['exec', '-i', 'ex', 'sh', '-c', 'cat; echo done'], { input: 'line one\nline two\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'line one\nline two\ndone\n');
    // Without -i the process gets no input (EOF at once).
    const n = await d.docker(['exec', 'ex', 'sh', '-c', 'cat; echo closed'], { input: 'ignored\n' });
    assert.equal(n.stdout, 'closed\n');
  });

  test('-t under a pty: a terminal of the client size, TERM set', async () => {
    const out = execFileSync('script', ['-qec', `stty cols 93 rows 29; ${DOCKER_CLI} exec -t ex sh -c 'tty; stty size; echo $TERM; exit 5'; echo "rc=$?"`, '/dev/null'], {
      env: { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.root, 'docker-config') },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.match(out, /\/dev\/pts\/\d+/);
    assert.match(out, /29 93/);
    assert.match(out, /xterm/);
    assert.match(out, /rc=5/);
  });

  test('-it under a pty whose input stays open, as a terminal keeps it', async () => {
    // script's stdin is a pipe held open until the command is done: with stdin at EOF, script
    // hangs up the terminal and the CLI can no longer write the output (Docker's too).
    for (let i = 0; i < 5; i++) {
      const child = spawn('script', ['-qec', `${DOCKER_CLI} exec -it ex sh -c 'echo hi-$((40 + 2)); exit 4'; echo "rc=$?"`, '/dev/null'], {
        env: { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.root, 'docker-config') },
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      child.stdin.end();
      assert.equal(code, 0);
      assert.match(out, /hi-42\r?\n/);
      assert.match(out, /rc=4/);
    }
  });

  test('-u, -w, -e', async () => {
    const r = await d.docker(['exec', '-u', 'nobody', '-w', '/tmp', '-e', 'X=1', '-e', 'FROM_RUN=over', 'ex', 'sh', '-c', 'id -u; id -g; pwd; echo $X $FROM_RUN']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '65534\n65534\n/tmp\n1 over\n');
    const u = await d.docker(['exec', '-u', '1234:5678', 'ex', 'sh', '-c', 'id -u; id -g']);
    assert.equal(u.stdout, '1234\n5678\n');
    const bad = await d.docker(['exec', '-u', 'nosuchuser', 'ex', 'true']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /unable to find user nosuchuser: no matching entries in passwd file/);
  });

  test('--privileged gives every capability, otherwise the container set', async () => {
    const capEff = async (priv: boolean) =>
      (await d.docker(['exec', ...(priv ? ['--privileged'] : []), 'ex', 'sh', '-c', 'grep CapEff /proc/self/status'])).stdout.trim().split(/\s+/)[1];
    const plain = await capEff(false);
    const priv = await capEff(true);
    assert.equal(plain, '00000000a80425fb');
    assert.notEqual(priv, plain);
    assert.ok(BigInt(`0x${priv}`) > BigInt(`0x${plain}`));
  });

  test('command not found: 127 with the OCI runtime message; not executable: 126', async () => {
    const nf = await d.docker(['exec', 'ex', 'nosuchcmd']);
    assert.equal(nf.code, 127);
    assert.equal(
      nf.stdout,
      'OCI runtime exec failed: exec failed: unable to start container process: exec: "nosuchcmd": executable file not found in $PATH: unknown\r\n',
    );
    const dir = await d.docker(['exec', 'ex', '/etc']);
    assert.equal(dir.code, 126);
  });

  test('-d runs in the background; the exec shows in ExecIDs while it runs', async () => {
    const r = await d.docker(['exec', '-d', 'ex', 'sh', '-c', 'echo bg > /tmp/bg; sleep 2']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    const ids = await waitFor(async () => {
      const out = (await d.docker(['inspect', '-f', '{{json .ExecIDs}}', 'ex'])).stdout.trim();
      const list = JSON.parse(out) as string[] | null;
      return list && list.length === 1 ? list : undefined;
    }, { what: 'ExecIDs to list the background exec' });
    const st = await api<{ Running: boolean; Pid: number; ExitCode: number | null; ContainerID: string }>('GET', `/exec/${ids[0]}/json`);
    assert.equal(st.json.ContainerID, cid);
    assert.equal((await d.docker(['exec', 'ex', 'cat', '/tmp/bg'])).stdout, 'bg\n');
    const done = await waitFor(async () => {
      const s = await api<{ Running: boolean; ExitCode: number | null }>('GET', `/exec/${ids[0]}/json`);
      return s.json.ExitCode === 0 && !s.json.Running ? s.json : undefined;
    }, { what: 'the background exec to finish' });
    assert.equal(done.ExitCode, 0);
    assert.equal((await d.docker(['inspect', '-f', '{{json .ExecIDs}}', 'ex'])).stdout.trim(), 'null');
  });

  test('exec into a stopped container, a paused-less missing one and an unknown exec: Docker errors', async () => {
    const r = await d.docker(['run', '-d', '--name', 'gone', 'busybox', 'true']);
    const id = r.stdout.trim();
    await waitFor(async () => (await d.docker(['inspect', '-f', '{{.State.Running}}', 'gone'])).stdout.trim() === 'false');
    const ex = await d.docker(['exec', 'gone', 'true']);
    assert.equal(ex.code, 1);
    assert.equal(ex.stderr, `Error response from daemon: container ${id} is not running\n`);
    const c = await api<{ message: string }>('POST', '/containers/gone/exec', { Cmd: ['true'] });
    assert.equal(c.status, 409);
    assert.equal(c.json.message, `container ${id} is not running`);
    const missing = await d.docker(['exec', 'nosuchctr', 'true']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such container: nosuchctr/);
    const noExec = await api<{ message: string }>('GET', '/exec/deadbeef/json');
    assert.equal(noExec.status, 404);
    assert.equal(noExec.json.message, 'No such exec instance: deadbeef');
    const noCmd = await api<{ message: string }>('POST', '/containers/ex/exec', { Cmd: [] });
    assert.equal(noCmd.status, 400);
    assert.equal(noCmd.json.message, 'No exec command specified');
  });

  test("exec into a paused container: Docker's 409 text; fine again after unpause", async () => {
    assert.equal((await d.docker(['pause', 'ex'])).code, 0);
    const r = await d.docker(['exec', 'ex', 'true']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'Error response from daemon: Container ex is paused, unpause the container before exec\n');
    assert.equal((await d.docker(['unpause', 'ex'])).code, 0);
    assert.equal((await d.docker(['exec', 'ex', 'echo', 'back'])).stdout, 'back\n');
  });

  test('events: exec_create, exec_start, exec_die with execID and exitCode', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    assert.equal((await d.docker(['exec', 'ex', 'sh', '-c', 'exit 4'])).code, 4);
    const until = Math.ceil(Date.now() / 1000) + 1;
    const r = await d.docker(['events', '--since', String(since), '--until', String(until), '--filter', `container=${cid}`, '--format', '{{.Action}}|{{index .Actor.Attributes "execID"}}|{{index .Actor.Attributes "exitCode"}}']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').filter((l) => l.includes('exit 4') || l.startsWith('exec_die|'));
    const create = lines.find((l) => l.startsWith('exec_create: sh -c exit 4|'));
    const start = lines.find((l) => l.startsWith('exec_start: sh -c exit 4|'));
    assert.ok(create && start, r.stdout);
    const execId = create.split('|')[1];
    assert.match(execId!, /^[0-9a-f]{64}$/);
    assert.ok(lines.includes(`exec_die|${execId}|4`), r.stdout);
  });
});

describe('wharf exec', () => {
  test('output, exit code, -i stdin, -u -w -e --env-file', async () => {
    const r = await d.wharf(['exec', 'ex', 'sh', '-c', 'echo o; echo e >&2; exit 7']);
    assert.equal(r.code, 7);
    assert.equal(r.stdout, 'o\n');
    assert.equal(r.stderr, 'e\n');
    const i = await d.wharf(['exec', '-i', 'ex', 'tr', 'a-z', 'A-Z'], { input: 'shout\n' });
    assert.equal(i.stdout, 'SHOUT\n');
    const envFile = join(d.root, 'exec.env');
    await writeFile(envFile, '# comment\nFILE_VAR=from-file\nBOTH=file\n');
    const o = await d.wharf(['exec', '-u', 'nobody', '-w', '/var', '--env-file', envFile, '-e', 'BOTH=flag', 'ex', 'sh', '-c', 'id -u; pwd; echo $FILE_VAR $BOTH']);
    assert.equal(o.code, 0, o.stderr);
    assert.equal(o.stdout, '65534\n/var\nfrom-file flag\n');
    const nf = await d.wharf(['exec', 'ex', 'nosuchcmd']);
    assert.equal(nf.code, 127);
    assert.match(nf.stdout, /executable file not found in \$PATH: unknown/);
  });

  test('-d and the container group alias', async () => {
    const r = await d.wharf(['container', 'exec', '-d', 'ex', 'sh', '-c', 'echo w > /tmp/wd']);
    assert.equal(r.code, 0, r.stderr);
    await waitFor(async () => (await d.wharf(['exec', 'ex', 'cat', '/tmp/wd'])).stdout === 'w\n', { what: '/tmp/wd' });
  });

  test('-t without a terminal on stdin works without -i; -it needs one', async () => {
    const t = await d.wharf(['exec', '-t', 'ex', 'tty']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /\/dev\/pts\/\d+/);
    const it = await d.wharf(['exec', '-it', 'ex', 'true'], { input: '' });
    assert.equal(it.code, 1);
    assert.match(it.stderr, /the input device is not a TTY/);
  });
});

describe('dockerode exec', () => {
  test('create, start hijacked with stdin, inspect, resize', async () => {
    const docker = new Docker({ socketPath: d.socket });
    const container = docker.getContainer('ex');
    const exec = await container.exec({ Cmd: ['sh', '-c', 'read line; echo "got $line"; echo warn >&2; exit 2'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: true });
    const out = new PassThrough();
    const err = new PassThrough();
    let stdout = '';
    let stderr = '';
    out.on('data', (c: Buffer) => (stdout += c.toString()));
    err.on('data', (c: Buffer) => (stderr += c.toString()));
    docker.modem.demuxStream(stream, out, err);
    const ended = new Promise((r) => stream.on('end', r));
    stream.write('hello\n');
    await ended;
    assert.equal(stdout, 'got hello\n');
    assert.equal(stderr, 'warn\n');
    const info = await exec.inspect();
    assert.equal(info.ExitCode, 2);
    assert.equal(info.Running, false);
    assert.ok(info.Pid > 0);
    assert.equal(info.ContainerID, cid);
    assert.deepEqual(info.ProcessConfig, { tty: false, entrypoint: 'sh', arguments: ['-c', 'read line; echo "got $line"; echo warn >&2; exit 2'], privileged: false });

    // A tty exec, resized while it runs.
    const tty = await container.exec({ Cmd: ['sh', '-c', 'read x; stty size'], AttachStdin: true, AttachStdout: true, Tty: true });
    const ts = await tty.start({ hijack: true, stdin: true, Tty: true });
    let ttyOut = '';
    ts.on('data', (c: Buffer) => (ttyOut += c.toString()));
    const ttyEnded = new Promise((r) => ts.on('end', r));
    await waitFor(async () => (await tty.inspect()).Running, { what: 'tty exec to run' });
    await tty.resize({ h: 33, w: 101 });
    ts.write('\n');
    await ttyEnded;
    assert.match(ttyOut, /33 101/);
  });

  test('starting an exec twice is a conflict', async () => {
    const docker = new Docker({ socketPath: d.socket });
    const exec = await docker.getContainer('ex').exec({ Cmd: ['true'] });
    await exec.start({ Detach: true });
    await waitFor(async () => (await exec.inspect()).ExitCode === 0, { what: 'exec to finish' });
    await assert.rejects(exec.start({ Detach: true }), (e: { statusCode?: number; message: string }) => e.statusCode === 409 && /has already run/.test(e.message));
  });
});

describe('exec instances and their container run', () => {
  test('an exec made before its container exited is gone (404), also once it runs again; rm takes all its execs', async () => {
    assert.equal((await d.docker(['run', '-d', '--name', 'runs', 'busybox', 'top'])).code, 0);
    const made = await api<{ Id: string }>('POST', '/containers/runs/exec', { Cmd: ['true'] });
    assert.equal(made.status, 201);
    const start = (id: string) => api<{ message?: string }>('POST', `/exec/${id}/start`, { Detach: true });
    assert.equal((await d.docker(['kill', 'runs'])).code, 0);
    const stopped = await start(made.json.Id);
    assert.deepEqual([stopped.status, stopped.json.message], [404, `No such exec instance: ${made.json.Id}`]);
    assert.equal((await d.docker(['start', 'runs'])).code, 0);
    assert.equal((await start(made.json.Id)).status, 404);
    const fresh = await api<{ Id: string }>('POST', '/containers/runs/exec', { Cmd: ['true'] });
    assert.equal((await start(fresh.json.Id)).status, 200);
    assert.equal((await api('GET', `/exec/${fresh.json.Id}/json`)).status, 200);
    assert.equal((await d.docker(['rm', '-f', 'runs'])).code, 0);
    // Removing the container removes its execs: inspect is 404, not a stale record.
    const gone = await api<{ message?: string }>('GET', `/exec/${fresh.json.Id}/json`);
    assert.deepEqual([gone.status, gone.json.message], [404, `No such exec instance: ${fresh.json.Id}`]);
  });
});

describe('after exec', () => {
  test('no conmon, process or exec dir left once the container is removed', async () => {
    const r = await d.docker(['rm', '-f', 'ex', 'gone']);
    assert.equal(r.code, 0, r.stderr);
    await waitFor(async () => (await countLeaks(d)).conmon === 0, { what: 'conmon processes to exit' });
    const leaks = await countLeaks(d);
    assert.deepEqual({ mounts: leaks.mounts, conmon: leaks.conmon, runc: leaks.runc }, { mounts: 0, conmon: 0, runc: 0 }, JSON.stringify(leaks.details));
    const left = await readdir(join(d.execRoot, 'exec')).catch(() => [] as string[]);
    assert.deepEqual(left, []);
  });
});
