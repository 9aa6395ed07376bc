import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectionError } from '../../../src/client/api-error.js';
import { resolveClientTls, resolveHost } from '../../../src/client/host.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-client-tls-'));
  for (const f of ['ca.pem', 'cert.pem', 'key.pem']) await writeFile(join(dir, f), f);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('TLS is off unless a flag or DOCKER_TLS / DOCKER_TLS_VERIFY turns it on', () => {
  assert.equal(resolveClientTls({}, {}, dir), undefined);
  assert.equal(resolveClientTls({}, { DOCKER_CERT_PATH: dir }, dir), undefined);
});

test('DOCKER_TLS_VERIFY + DOCKER_CERT_PATH read ca.pem, cert.pem and key.pem from that directory', () => {
  const tls = resolveClientTls({}, { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: dir }, '/nonexistent');
  assert.deepEqual(tls, { verify: true, ca: Buffer.from('ca.pem'), cert: Buffer.from('cert.pem'), key: Buffer.from('key.pem') });
});

test('--tls alone does not verify the daemon and needs no CA; missing default cert files are left out', () => {
  assert.deepEqual(resolveClientTls({ tls: true }, {}, '/nonexistent'), { verify: false });
  assert.deepEqual(resolveClientTls({}, { DOCKER_TLS: '1' }, '/nonexistent'), { verify: false });
});

test('--tlsverify with a missing CA file fails with the path', () => {
  assert.throws(() => resolveClientTls({ tlsverify: true }, {}, '/nonexistent'), /could not read CA certificate: open \/nonexistent\/ca\.pem: no such file or directory/);
  assert.throws(() => resolveClientTls({ tlsverify: true, tlscacert: join(dir, 'ca.pem'), tlscert: '/nope.pem' }, {}, dir), /could not load X509 key pair: open \/nope\.pem/);
});

test('with TLS on and no host the default is tcp://localhost:2376', () => {
  assert.equal(resolveHost(undefined, {}, true), 'tcp://localhost:2376');
  assert.equal(resolveHost(undefined, {}, false), 'unix:///run/wharf.sock');
  assert.equal(resolveHost(undefined, { DOCKER_HOST: 'tcp://h:1' }, true), 'tcp://h:1');
});

test("connection errors carry the Docker CLI's wording", () => {
  const err = (code: string, message = code) => Object.assign(new Error(message), { code });
  const where = { request: 'Get "http://%2Frun%2Fwharf.sock/_ping"', socketPath: '/run/wharf.sock' };
  assert.equal(
    new ConnectionError('unix:///run/wharf.sock', err('EACCES'), where).message,
    'permission denied while trying to connect to the Docker daemon socket at unix:///run/wharf.sock: Get "http://%2Frun%2Fwharf.sock/_ping": dial unix /run/wharf.sock: connect: permission denied',
  );
  for (const code of ['ENOENT', 'ECONNREFUSED']) {
    assert.equal(new ConnectionError('unix:///x', err(code), where).message, 'Cannot connect to the Docker daemon at unix:///x. Is the docker daemon running?');
  }
  const tcp = { request: 'Get "https://h:2376/_ping"' };
  assert.equal(
    new ConnectionError('tcp://h:2376', err('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', '80:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:rec_layer_s3.c:1601:SSL alert number 116'), tcp).message,
    'error during connect: Get "https://h:2376/_ping": remote error: tls: certificate required',
  );
  assert.equal(
    new ConnectionError('tcp://h:2376', err('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'), tcp).message,
    'error during connect: Get "https://h:2376/_ping": tls: failed to verify certificate: x509: certificate signed by unknown authority',
  );
  assert.equal(new ConnectionError('tcp://h:2376', err('ECONNRESET', 'socket hang up'), tcp).message, 'error during connect: Get "https://h:2376/_ping": socket hang up');
});
