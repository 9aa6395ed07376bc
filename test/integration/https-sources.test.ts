/**
 * What the daemon itself fetches over https, `docker import <URL>`, a build's `ADD <URL>` and a
 * remote build context, is verified against the host's CAs as Go's client verifies it
 * (SSL_CERT_FILE here; the distribution's bundle otherwise), as dockerd does: a CA the
 * administrator installed is trusted, a server certificate from anywhere else is refused with
 * Go's x509 message. The servers are on 127.0.0.1.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBusyboxRootfsTar } from '../fixtures/busybox.js';
import { makeTlsFiles, type TlsFiles } from '../fixtures/tls-certs.js';
import { loadBusybox, startDaemon, type Daemon } from './harness.js';

let dir: string;
let certs: TlsFiles;
let d: Daemon;
/** Signed by the CA the daemon's SSL_CERT_FILE names. */
let trusted: Server;
/** Self-signed: no CA the daemon knows. */
let stranger: Server;

const UNKNOWN_AUTHORITY = /tls: failed to verify certificate: x509: certificate signed by unknown authority/;

function urlOf(server: Server, path: string): string {
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
}

async function serve(cert: Buffer, key: Buffer, files: Record<string, Buffer | string>): Promise<Server> {
  const server = createServer({ cert, key }, (req, res) => {
    const body = files[req.url ?? ''];
    if (body === undefined) res.writeHead(404).end('not here\n');
    else res.writeHead(200, { 'Last-Modified': 'Wed, 01 Jan 2020 00:00:00 GMT' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-https-src-'));
  certs = makeTlsFiles(dir);
  const rootfs = join(dir, 'rootfs.tar');
  await buildBusyboxRootfsTar(rootfs);
  const files = {
    '/rootfs.tar': await readFile(rootfs),
    '/data.txt': 'over https\n',
    '/Dockerfile': 'FROM busybox\nCMD ["echo", "remote over https"]\n',
  };
  trusted = await serve(await readFile(certs.serverCert), await readFile(certs.serverKey), files);
  const selfKey = join(dir, 'self.key');
  const selfCert = join(dir, 'self.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', selfKey, '-out', selfCert, '-days', '2', '-subj', '/CN=stranger', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' });
  stranger = await serve(await readFile(selfCert), await readFile(selfKey), files);
  d = await startDaemon({ env: { SSL_CERT_FILE: certs.caCert } });
  await loadBusybox(d);
});

after(async () => {
  trusted?.close();
  stranger?.close();
  await d?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

test('docker import <https URL>: a server the host trusts is imported, another is refused', async () => {
  const ok = await d.docker(['import', '-c', 'CMD ["echo", "imported over https"]', urlOf(trusted, '/rootfs.tar'), 'https-import:1']);
  assert.equal(ok.code, 0, ok.stderr);
  const ran = await d.docker(['run', '--rm', 'https-import:1']);
  assert.equal(ran.stdout, 'imported over https\n', ran.stderr);
  const refused = await d.docker(['import', urlOf(stranger, '/rootfs.tar'), 'https-import:2']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, UNKNOWN_AUTHORITY);
  assert.match(refused.stderr, new RegExp(`Get "${urlOf(stranger, '/rootfs.tar').replace(/\./g, '\\.')}"`));
  assert.equal((await d.docker(['image', 'inspect', 'https-import:2'])).code, 1);
});

test('build: ADD <https URL> and an https remote context verify against the host CAs', async () => {
  const env = { DOCKER_BUILDKIT: '0' };
  const add = await d.docker(['build', '-t', 'https-add:1', '-'], { env, input: `FROM busybox\nADD ${urlOf(trusted, '/data.txt')} /d/\n`, timeoutMs: 120_000 });
  assert.equal(add.code, 0, add.stdout + add.stderr);
  const cat = await d.docker(['run', '--rm', 'https-add:1', 'cat', '/d/data.txt']);
  assert.equal(cat.stdout, 'over https\n', cat.stderr);
  const refused = await d.docker(['build', '-'], { env, input: `FROM busybox\nADD ${urlOf(stranger, '/data.txt')} /d/\n`, timeoutMs: 120_000 });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, UNKNOWN_AUTHORITY);
  const remote = await d.wharf(['build', '-t', 'https-remote:1', urlOf(trusted, '/Dockerfile')], { timeoutMs: 120_000 });
  assert.equal(remote.code, 0, remote.stdout + remote.stderr);
  const ran = await d.docker(['run', '--rm', 'https-remote:1']);
  assert.equal(ran.stdout, 'remote over https\n', ran.stderr);
  const remoteRefused = await d.wharf(['build', urlOf(stranger, '/Dockerfile')], { timeoutMs: 120_000 });
  assert.equal(remoteRefused.code, 1);
  assert.match(remoteRefused.stderr, UNKNOWN_AUTHORITY);
});
