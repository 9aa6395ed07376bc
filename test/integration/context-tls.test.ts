/**
 * Contexts with TLS (issue 11): `wharf context create --docker host=tcp://…,ca=…,cert=…,key=…`
 * stores the material where the Docker CLI keeps it, so either CLI uses a context the other made,
 * against a wharfd that verifies client certificates; the daemon's certificate is verified
 * against the context's CA; Docker's errors for missing files; skip-tls-verify.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTlsFiles, type TlsFiles } from '../fixtures/tls-certs.js';
import { freePort } from '../fixtures/registry.js';
import { CLI_MAIN, DOCKER_CLI, loadBusybox, runCommand, startDaemon, type Daemon } from './harness.js';

let d: Daemon;
let dir: string;
let c: TlsFiles;
let tcp: string;

const env = () => ({ DOCKER_HOST: '', WHARF_HOST: '', DOCKER_TLS_VERIFY: '', DOCKER_CERT_PATH: '', DOCKER_CONTEXT: '', DOCKER_CONFIG: join(dir, 'config') });
const docker = (args: string[]) => runCommand(DOCKER_CLI, args, { env: env() });
const wharf = (args: string[]) => runCommand(process.execPath, [CLI_MAIN, ...args], { env: env() });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-ctx-tls-'));
  c = makeTlsFiles(dir);
  tcp = `tcp://127.0.0.1:${await freePort()}`;
  d = await startDaemon({ args: ['-H', tcp, '--tlsverify', '--tlscacert', c.caCert, '--tlscert', c.serverCert, '--tlskey', c.serverKey] });
  await loadBusybox(d);
});
after(async () => {
  await d?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('contexts with TLS', () => {
  test('a context wharf creates works for wharf and the Docker CLI; inspect lists the material', async () => {
    const r = await wharf(['context', 'create', 'sec', '--docker', `host=${tcp},ca=${c.caCert},cert=${c.clientCert},key=${c.clientKey}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await wharf(['context', 'inspect', 'sec', '--format', '{{json .TLSMaterial}}'])).stdout.trim(), '{"docker":["ca.pem","cert.pem","key.pem"]}');
    assert.equal((await docker(['context', 'inspect', 'sec', '--format', '{{json .TLSMaterial}}'])).stdout.trim(), '{"docker":["ca.pem","cert.pem","key.pem"]}');
    const w = await wharf(['--context', 'sec', 'run', '--rm', 'busybox', 'echo', 'wharf over tls']);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(w.stdout, 'wharf over tls\n');
    const dk = await docker(['--context', 'sec', 'version', '--format', '{{.Server.Version}}']);
    assert.equal(dk.code, 0, dk.stderr);
  });

  test('a context the Docker CLI creates works for wharf; a context trusting another CA is refused', async () => {
    let r = await docker(['context', 'create', 'dsec', '--docker', `host=${tcp},ca=${c.caCert},cert=${c.clientCert},key=${c.clientKey}`]);
    assert.equal(r.code, 0, r.stderr);
    r = await wharf(['-c', 'dsec', 'ps', '-a', '--format', '{{.ID}}']);
    assert.equal(r.code, 0, r.stderr);

    r = await wharf(['context', 'create', 'other', '--docker', `host=${tcp},ca=${c.otherCaCert},cert=${c.clientCert},key=${c.clientKey}`]);
    assert.equal(r.code, 0, r.stderr);
    const refused = await wharf(['-c', 'other', 'ps']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /certificate/);
    // skip-tls-verify: the daemon's certificate is not checked, the client certificate still sent.
    r = await wharf(['context', 'create', 'skip', '--docker', `host=${tcp},ca=${c.otherCaCert},cert=${c.clientCert},key=${c.clientKey},skip-tls-verify=true`]);
    assert.equal(r.code, 0, r.stderr);
    r = await wharf(['-c', 'skip', 'ps']);
    assert.equal(r.code, 0, r.stderr);
    // Without a client certificate the daemon refuses.
    r = await wharf(['context', 'create', 'nocert', '--docker', `host=${tcp},ca=${c.caCert}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.notEqual((await wharf(['-c', 'nocert', 'ps'])).code, 0);
  });

  test('NODE_EXTRA_CA_CERTS: kept out of node\'s start by bin/wharf.cjs, still trusted for a context without a CA', async () => {
    // bin/wharf.cjs run as a program, as an npm-linked or installed `wharf` runs.
    const asProgram = (args: string[], extra: Record<string, string>) => runCommand(CLI_MAIN, args, { env: { ...env(), ...extra } });
    let r = await wharf(['context', 'create', 'noca', '--docker', `host=${tcp},cert=${c.clientCert},key=${c.clientKey}`]);
    assert.equal(r.code, 0, r.stderr);
    r = await asProgram(['-c', 'noca', 'ps', '-q'], { NODE_EXTRA_CA_CERTS: '' });
    assert.equal(r.code, 1, 'the daemon\'s CA is no default root');
    assert.match(r.stderr, /certificate/);
    r = await asProgram(['-c', 'noca', 'ps', '-q'], { NODE_EXTRA_CA_CERTS: c.caCert });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    // Node warns at its start when it reads the variable and cannot load the file: not here.
    r = await asProgram(['--version'], { NODE_EXTRA_CA_CERTS: join(dir, 'missing.pem') });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /extra certs/i);
    r = await runCommand(process.execPath, [CLI_MAIN, '--version'], { env: { ...env(), NODE_EXTRA_CA_CERTS: join(dir, 'missing.pem') } });
    assert.match(r.stderr, /Ignoring extra certs/, 'node itself does read it when started on the file');
  });

  test('missing files and bad values: the Docker CLI\'s errors', async () => {
    for (const spec of [`host=${tcp},ca=/nonexistent/ca.pem`, `host=${tcp},skip-tls-verify=maybe`]) {
      const w = await wharf(['context', 'create', 'x', '--docker', spec]);
      const dk = await docker(['context', 'create', 'x', '--docker', spec]);
      assert.equal(w.code, 1);
      assert.equal(dk.code, 1);
      assert.equal(w.stderr.trim(), dk.stderr.trim());
    }
  });
});
