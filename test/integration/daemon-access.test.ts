/**
 * Who may talk to the daemon: TLS on TCP with client certificates (the real Docker CLI and
 * wharf), the unix socket's group (-G), what a user outside it is told, and held connections
 * that must not take the daemon's file descriptors from everyone else.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTlsFiles, type TlsFiles } from '../fixtures/tls-certs.js';
import { freePort } from '../fixtures/registry.js';
import { CLI_MAIN, DAEMON_MAIN, DOCKER_CLI, loadBusybox, ping, runCommand, startDaemon, waitFor, type Daemon } from './harness.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function certs(): Promise<TlsFiles> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-tls-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return makeTlsFiles(dir);
}

async function daemon(opts: Parameters<typeof startDaemon>[0] = {}): Promise<Daemon> {
  const d = await startDaemon(opts);
  cleanups.push(() => d.cleanup());
  return d;
}

/** A CLI run with only the given environment (no DOCKER_HOST pointing at the unix socket). */
const run = (cmd: string, args: string[], env: Record<string, string> = {}) =>
  runCommand(cmd, args, { env: { DOCKER_HOST: '', WHARF_HOST: '', DOCKER_TLS_VERIFY: '', DOCKER_CERT_PATH: '', DOCKER_CONFIG: '/nonexistent', ...env } });
const docker = (args: string[], env?: Record<string, string>) => run(DOCKER_CLI, args, env);
const wharf = (args: string[], env?: Record<string, string>) => run(process.execPath, [CLI_MAIN, ...args], env);

describe('TLS on the TCP listener (--tlsverify)', () => {
  test('the right client certificate works; none, another CA\'s and plain HTTP are refused', async () => {
    const c = await certs();
    const port = await freePort();
    const tcp = `tcp://127.0.0.1:${port}`;
    const d = await daemon({
      args: ['-H', tcp, '--tlsverify', '--tlscacert', c.caCert, '--tlscert', c.serverCert, '--tlskey', c.serverKey],
    });
    await loadBusybox(d);
    assert.doesNotMatch(d.log(), /without --tlsverify/);
    const good = ['--tlsverify', '--tlscacert', c.caCert, '--tlscert', c.clientCert, '--tlskey', c.clientKey, '-H', tcp];

    const version = await docker([...good, 'version', '--format', '{{.Server.Version}}']);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^\d+\.\d+/);
    const ps = await docker([...good, 'ps', '-a']);
    assert.equal(ps.code, 0, ps.stderr);
    const echo = await docker([...good, 'run', '--rm', 'busybox', 'echo', 'over tls']);
    assert.equal(echo.code, 0, echo.stderr);
    assert.equal(echo.stdout, 'over tls\n');

    // DOCKER_CERT_PATH + DOCKER_TLS_VERIFY, the Docker CLI's environment.
    const envGood = { DOCKER_HOST: tcp, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: c.clientDir };
    const viaEnv = await docker(['ps'], envGood);
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const wharfEnv = await wharf(['run', '--rm', 'busybox', 'echo', 'wharf over tls'], envGood);
    assert.equal(wharfEnv.code, 0, wharfEnv.stderr);
    assert.equal(wharfEnv.stdout, 'wharf over tls\n');
    const wharfFlags = await wharf([...good, 'version', '--format', '{{.Server.Version}}']);
    assert.equal(wharfFlags.code, 0, wharfFlags.stderr);

    // Refused: no client certificate, a certificate from another CA, plain HTTP.
    const noCert = await docker(['--tlsverify', '--tlscacert', c.caCert, '-H', tcp, 'ps']);
    assert.notEqual(noCert.code, 0);
    assert.match(noCert.stderr, /certificate|tls/i);
    const intruder = await docker(['ps'], { DOCKER_HOST: tcp, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: c.otherClientDir });
    assert.notEqual(intruder.code, 0);
    assert.doesNotMatch(intruder.stdout, /CONTAINER ID/);
    const wharfIntruder = await wharf(['ps'], { DOCKER_HOST: tcp, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: c.otherClientDir });
    assert.equal(wharfIntruder.code, 1);
    assert.match(wharfIntruder.stderr, /^error during connect: /);
    const plain = await docker(['-H', tcp, 'ps']);
    assert.notEqual(plain.code, 0);
    assert.match(plain.stderr, /Client sent an HTTP request to an HTTPS server/);
    const wharfPlain = await wharf(['-H', tcp, 'ps']);
    assert.notEqual(wharfPlain.code, 0);
    // The server's certificate is checked too: a client trusting another CA refuses the daemon.
    const wrongCa = await docker(['--tlsverify', '--tlscacert', c.otherCaCert, '--tlscert', c.clientCert, '--tlskey', c.clientKey, '-H', tcp, 'ps']);
    assert.notEqual(wrongCa.code, 0);
    assert.match(wrongCa.stderr, /certificate/);

    // The unix socket is never TLS (as dockerd), and the daemon served all of this.
    assert.ok(await ping(d.socket));
  });

  test('daemon start fails with dockerd\'s message when the key pair is missing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-tls-missing-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'daemon.json'), '{}');
    const r = await runCommand(process.execPath, [
      DAEMON_MAIN,
      '--config-file', join(dir, 'daemon.json'),
      '--tlsverify', '--tlscert', join(dir, 'cert.pem'), '--tlskey', join(dir, 'key.pem'),
      '-H', 'tcp://127.0.0.1:1',
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /invalid TLS configuration: could not load X509 key pair \(cert: ".*cert\.pem", key: ".*key\.pem"\): open .*: no such file or directory/);
  });
});

describe('plain TCP (no --tlsverify)', () => {
  test('a loopback listener is served after dockerd\'s warnings, without the long pause', async () => {
    const port = await freePort();
    const d = await daemon({ args: ['-H', `tcp://127.0.0.1:${port}`] });
    const log = d.log();
    assert.match(log, /Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network\." host="tcp:\/\/127\.0\.0\.1:\d+"/);
    assert.match(log, /\[DEPRECATION NOTICE\] In future versions this will be a hard failure/);
    assert.doesNotMatch(log, /Startup is intentionally being slowed down/);
    const r = await docker(['-H', `tcp://127.0.0.1:${port}`, 'version', '--format', '{{.Server.Os}}']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'linux\n');
  });
});

describe('the unix socket\'s group and who may use it', () => {
  test('-G sets the socket\'s group; a user outside it gets Docker\'s permission-denied message; a missing group is refused', async () => {
    const group = `wt${process.pid % 100000}g`;
    execFileSync('groupadd', [group]);
    cleanups.push(async () => {
      execFileSync('groupdel', [group]);
    });
    const gid = Number(execFileSync('getent', ['group', group]).toString().split(':')[2]);
    const d = await daemon({ args: ['-G', group] });
    // The temp root is the test's own; let other users reach the socket inside it.
    await chmod(d.root, 0o711);
    const st = await stat(d.socket);
    assert.equal(st.gid, gid);
    assert.equal(st.mode & 0o777, 0o660);

    const asNobody = (groups: string[], cmd: string, args: string[]) =>
      runCommand('setpriv', ['--reuid=nobody', '--regid=nogroup', ...(groups.length ? [`--groups=${groups.join(',')}`] : ['--clear-groups']), cmd, ...args], {
        env: { DOCKER_HOST: d.host, WHARF_HOST: d.host, DOCKER_CONFIG: '/nonexistent', HOME: '/nonexistent' },
      });
    const expected = `permission denied while trying to connect to the Docker daemon socket at ${d.host}: `;
    const dockerPs = await asNobody([], DOCKER_CLI, ['ps']);
    assert.equal(dockerPs.code, 1);
    assert.ok(dockerPs.stderr.includes(expected), dockerPs.stderr);
    const wharfPs = await asNobody([], process.execPath, [CLI_MAIN, 'ps']);
    assert.equal(wharfPs.code, dockerPs.code);
    assert.ok(wharfPs.stderr.startsWith(expected), wharfPs.stderr);
    assert.match(wharfPs.stderr, /dial unix .*: connect: permission denied\n$/);
    const dockerRun = await asNobody([], DOCKER_CLI, ['run', '--rm', 'busybox', 'true']);
    const wharfRun = await asNobody([], process.execPath, [CLI_MAIN, 'run', '--rm', 'busybox', 'true']);
    assert.equal(dockerRun.code, 126);
    assert.equal(wharfRun.code, dockerRun.code);
    assert.ok(wharfRun.stderr.startsWith(`wharf: ${expected}`), wharfRun.stderr);

    // In the group: allowed.
    const member = await asNobody([String(gid)], process.execPath, [CLI_MAIN, 'version', '--format', '{{.Server.Os}}']);
    assert.equal(member.code, 0, member.stderr);

    // A group that does not exist is an error (only the default group falls back with a warning).
    const r = await runCommand(process.execPath, [
      DAEMON_MAIN,
      '--config-file', join(d.root, 'daemon.json'),
      '--data-root', join(d.root, 'data2'),
      '--exec-root', join(d.root, 'exec2'),
      '--pidfile', join(d.root, 'p2.pid'),
      '-H', `unix://${join(d.root, 'g2.sock')}`,
      '-G', `${group}-missing`,
    ], { env: { PATH: process.env.PATH } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`group ${group}-missing not found`));
  });

  test('with nothing listening: "Cannot connect…", exit 1, and 125 for run (as the Docker CLI)', async () => {
    const host = 'unix:///nonexistent/wharf.sock';
    const ps = await wharf(['-H', host, 'ps']);
    assert.equal(ps.code, 1);
    assert.equal(ps.stderr, `Cannot connect to the Docker daemon at ${host}. Is the docker daemon running?\n`);
    const dockerRun = await docker(['-H', host, 'run', '--rm', 'busybox', 'true']);
    const wharfRun = await wharf(['-H', host, 'run', '--rm', 'busybox', 'true']);
    assert.equal(dockerRun.code, 125);
    assert.equal(wharfRun.code, 125);
    assert.equal(wharfRun.stderr, `wharf: Cannot connect to the Docker daemon at ${host}. Is the docker daemon running?\n\nRun 'wharf run --help' for more information\n`);
  });
});

/** Opens `n` connections that send nothing and stay open until the test ends. */
async function holdConnections(socket: string, n: number): Promise<{ held: Socket[]; closedByDaemon: () => number }> {
  const held: Socket[] = [];
  let closed = 0;
  cleanups.push(async () => {
    for (const s of held) s.destroy();
  });
  for (let i = 0; i < n; i++) {
    const s = connect(socket);
    s.on('error', () => {});
    s.on('close', () => closed++);
    s.resume();
    held.push(s);
  }
  await waitFor(() => held.every((s) => !s.connecting), { what: 'the held connections to connect', timeoutMs: 20_000 });
  return { held, closedByDaemon: () => closed };
}

const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

describe('held connections', () => {
  test('hundreds of idle connections over the fd limit: /_ping, new clients and commands still work', async () => {
    // A low descriptor limit so that a few hundred connections would exhaust it.
    const d = await daemon({ prefix: ['prlimit', '--nofile=256:256'] });
    await loadBusybox(d);
    const { held, closedByDaemon } = await holdConnections(d.socket, 400);
    // Some partly sent requests, too (a request head that never ends).
    for (const s of held.slice(0, 50)) s.write('GET /_ping HTTP/1.1\r\nHost: x\r\n');
    await waitFor(() => ping(d.socket, 2000), { what: '/_ping while connections are held', timeoutMs: 20_000 });
    const ps = await d.wharf(['ps', '-a']);
    assert.equal(ps.code, 0, ps.stderr);
    const echo = await d.docker(['run', '--rm', 'busybox', 'echo', 'still here']);
    assert.equal(echo.code, 0, echo.stderr);
    assert.equal(echo.stdout, 'still here\n');
    assert.ok(closedByDaemon() > 0, 'the oldest idle connections were closed');
    const open = fdCount(d.pid);
    assert.ok(open < 256, `wharfd holds ${open} descriptors`);
    assert.match(d.log(), /connections open \(the limit\)/);
  });
});

describe('a descriptor limit lowered while running', () => {
  test('idle connections are trimmed to the new limit, so new clients are accepted again', async () => {
    const d = await daemon();
    // Past restore: this case is about a limit lowered at run time, not about a restore that
    // finds the descriptors gone. `ps` waits for restore (/_ping and /version do not).
    assert.equal((await d.wharf(['ps'])).code, 0);
    const { closedByDaemon } = await holdConnections(d.socket, 300);
    const fds = () => fdCount(d.pid);
    await waitFor(() => fds() >= 300, { what: 'wharfd to accept the held connections', timeoutMs: 20_000 });
    // 300 connections are open; with a limit of 256, accept() fails until some are closed.
    execFileSync('prlimit', ['--pid', String(d.pid), '--nofile=256:256']);
    // Generous bounds: on a loaded 2-core machine the trim timer and accept retries lag.
    await waitFor(() => fds() < 256, { what: 'wharfd to close idle connections down to the new limit', timeoutMs: 60_000 });
    await waitFor(() => ping(d.socket, 2000), { what: '/_ping after the limit was lowered', timeoutMs: 60_000 });
    await waitFor(() => closedByDaemon() >= 300 - 64, { what: 'the held connections to see the close' });
    const ps = await d.wharf(['ps']);
    assert.equal(ps.code, 0, ps.stderr);
  });
});
