/** Pure parts of distribution/: auth challenges, X-Registry-Auth, manifests and platforms, progress text, endpoints. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseChallenges } from '../../../src/distribution/challenge.js';
import { credentialsOf, decodeRegistryAuth, encodeRegistryAuth } from '../../../src/distribution/auth-config.js';
import {
  MEDIA_DOCKER_LIST,
  MEDIA_DOCKER_MANIFEST,
  parseManifest,
  parsePlatform,
  selectPlatform,
  type ManifestIndex,
} from '../../../src/distribution/manifest.js';
import { ProgressThrottle, progressBar } from '../../../src/distribution/progress.js';
import { resolverSuffix, transportErrorText } from '../../../src/distribution/http.js';
import { humanSize } from '../../../src/lib/units.js';
import { EndpointResolver } from '../../../src/distribution/endpoints.js';
import { registryErrorOf, translatePullError } from '../../../src/distribution/errors.js';
import { TokenError } from '../../../src/distribution/client.js';
import { secureContextOptions } from '../../../src/distribution/http.js';
import { registryDomainOf } from '../../../src/distribution/login.js';
import { parseNormalizedNamed } from '../../../src/image/reference.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;

test('WWW-Authenticate: bearer with quoted params, basic, several challenges', () => {
  assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' } },
  ]);
  assert.deepEqual(parseChallenges('Basic realm="basic-realm"'), [{ scheme: 'basic', params: { realm: 'basic-realm' } }]);
  assert.deepEqual(parseChallenges(['Basic realm=x', 'Bearer realm="r",error="insufficient_scope",scope="repository:a:pull,push"']), [
    { scheme: 'basic', params: { realm: 'x' } },
    { scheme: 'bearer', params: { realm: 'r', error: 'insufficient_scope', scope: 'repository:a:pull,push' } },
  ]);
  assert.deepEqual(parseChallenges(undefined), []);
});

test('X-Registry-Auth: base64url with or without padding, plain base64, garbage', () => {
  const auth = { username: 'alice', password: 'p>?s~s', serveraddress: 'localhost:5000' };
  const enc = encodeRegistryAuth(auth);
  assert.ok(!enc.includes('+') && !enc.includes('/'));
  assert.deepEqual(decodeRegistryAuth(enc), auth);
  assert.deepEqual(decodeRegistryAuth(enc + '=='.slice(0, (4 - (enc.length % 4)) % 4)), auth);
  assert.deepEqual(decodeRegistryAuth(Buffer.from(JSON.stringify(auth)).toString('base64')), auth);
  assert.equal(decodeRegistryAuth('!!!notbase64'), undefined);
  assert.equal(decodeRegistryAuth(Buffer.from('[1,2]').toString('base64url')), undefined);
  assert.equal(decodeRegistryAuth(undefined), undefined);
  assert.deepEqual(credentialsOf({ auth: Buffer.from('bob:pa:ss').toString('base64') }), { username: 'bob', password: 'pa:ss' });
  assert.deepEqual(credentialsOf({ identitytoken: 'tok' }), { identityToken: 'tok' });
  assert.equal(credentialsOf({}), undefined);
});

test('manifests: schema2, OCI without mediaType, index; schema1 and bad layers refused', () => {
  const cfg = { mediaType: 'application/vnd.docker.container.image.v1+json', size: 10, digest: D('a') };
  const layer = { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 5, digest: D('b') };
  const m = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_DOCKER_MANIFEST, config: cfg, layers: [layer] })), undefined);
  assert.equal(m.kind, 'manifest');
  const oci = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, config: cfg, layers: [{ ...layer, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }] })), 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(oci.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  const idx = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] })), undefined);
  assert.equal(idx.kind, 'index');
  assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x' })), undefined), /Schema 1 is no longer supported/);
  assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_DOCKER_MANIFEST, config: cfg, layers: [{ ...layer, digest: 'md5:x' }] })), undefined), /invalid layer descriptor/);
  assert.throws(() => parseManifest(Buffer.from('{'), undefined), /not JSON/);
});

test('platform selection: host default, arm64 variant implied, variants, no match', () => {
  const host = { os: 'linux', architecture: 'amd64' };
  const entry = (digest: string, architecture: string, variant?: string) => ({
    mediaType: MEDIA_DOCKER_MANIFEST,
    size: 1,
    digest,
    platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) },
  });
  const index: ManifestIndex = {
    kind: 'index',
    mediaType: MEDIA_DOCKER_LIST,
    manifests: [entry(D('1'), 'arm', 'v6'), entry(D('2'), 'arm', 'v7'), entry(D('3'), 'amd64'), entry(D('4'), 'arm64', 'v8'), { ...entry(D('5'), 'amd64'), platform: { os: 'windows', architecture: 'amd64' } }],
  };
  assert.equal(selectPlatform(index, parsePlatform(undefined, host)).digest, D('3'));
  assert.equal(selectPlatform(index, parsePlatform('linux/arm64', host)).digest, D('4'));
  assert.equal(selectPlatform(index, parsePlatform('linux/aarch64', host)).digest, D('4'));
  assert.equal(selectPlatform(index, parsePlatform('linux/arm/v6', host)).digest, D('1'));
  assert.equal(selectPlatform(index, parsePlatform('linux/arm', host)).digest, D('2'));
  assert.equal(selectPlatform(index, parsePlatform('linux/x86_64', host)).digest, D('3'));
  assert.throws(() => selectPlatform(index, parsePlatform('linux/s390x', host)), { message: 'no matching manifest for linux/s390x in the manifest list entries' });
  // containerd's platforms.Parse words: an empty component is invalid, an unknown lone one unknown.
  assert.throws(() => parsePlatform('linux//', host), /^InvalidParameterError: "" is an invalid component of "linux\/\/": platform specifier component must match/);
  assert.throws(() => parsePlatform('nintendo64', host), { message: '"nintendo64": unknown operating system or architecture: invalid argument' });
  assert.deepEqual(parsePlatform('arm64', host), { os: 'linux', architecture: 'arm64', variant: 'v8' });
});

test('progress text as dockerd renders it', () => {
  assert.equal(humanSize(500), '500B');
  assert.equal(humanSize(15963), '15.96kB');
  assert.equal(humanSize(1469213), '1.469MB');
  assert.equal(humanSize(32768), '32.77kB');
  assert.equal(humanSize(1000), '1kB');
  assert.equal(progressBar(15963, 1469213), `[>${' '.repeat(50)}]  15.96kB/1.469MB`);
  assert.equal(progressBar(1469213, 1469213), `[${'='.repeat(50)}>]  1.469MB/1.469MB`);
  assert.equal(progressBar(734606, 1469213), `[${'='.repeat(24)}>${' '.repeat(26)}]  734.6kB/1.469MB`);
});

test('endpoints: loopback and listed registries are insecure (https then http); certs.d is read', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-certsd-'));
  try {
    await mkdir(join(dir, 'reg.example:5000'));
    await writeFile(join(dir, 'reg.example:5000', 'ca.crt'), 'CA');
    const r = new EndpointResolver({ certsDir: dir, insecureRegistries: ['10.1.0.0/16', 'my.reg:443'], registryMirrors: ['https://mirror.example/'] });
    assert.equal(r.isInsecure('127.0.0.1:5000'), true);
    assert.equal(r.isInsecure('localhost:5000'), true);
    assert.equal(r.isInsecure('10.1.2.3:5000'), true);
    assert.equal(r.isInsecure('my.reg:443'), true);
    assert.equal(r.isInsecure('reg.example:5000'), false);
    const local = await r.endpoints('127.0.0.1:5000');
    assert.deepEqual(local.map((e) => e.base), ['https://127.0.0.1:5000', 'http://127.0.0.1:5000']);
    assert.equal(local[0]!.tls!.rejectUnauthorized, false);
    const secure = await r.endpoints('reg.example:5000');
    assert.deepEqual(secure.map((e) => e.base), ['https://reg.example:5000']);
    assert.deepEqual(secure[0]!.tls!.ca, [Buffer.from('CA')]);
    const hub = await r.endpoints('docker.io');
    assert.deepEqual(hub.map((e) => [e.base, e.mirror]), [['https://mirror.example', true], ['https://registry-1.docker.io', false]]);
    assert.equal(new EndpointResolver({ insecureLoopback: false }).isInsecure('127.0.0.1:5000'), false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('registry errors and their pull translations', () => {
  const ref = parseNormalizedNamed('nginx:1.0');
  const unknown = registryErrorOf(404, Buffer.from(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] })));
  assert.equal(translatePullError(unknown, ref).message, 'manifest for nginx:1.0 not found: manifest unknown: manifest unknown');
  const denied = registryErrorOf(403, Buffer.alloc(0));
  assert.equal(translatePullError(denied, ref).message, "pull access denied for nginx, repository does not exist or may require 'docker login': denied: requested access to the resource is denied");
  assert.equal(registryErrorOf(502, Buffer.from('<html>')).message, 'received unexpected HTTP status: 502 Bad Gateway');
  assert.equal(registryDomainOf('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(registryDomainOf('http://127.0.0.1:5000/'), '127.0.0.1:5000');
  assert.equal(registryDomainOf(undefined), 'docker.io');
  // Field names match as Go's encoding/json matches them: without case.
  assert.equal(registryErrorOf(401, Buffer.from('{"Errors": [{"Code":"UNAUTHORIZED", "Message": "a message", "detail": null}]}')).message, 'unauthorized: a message');
  assert.equal(registryErrorOf(429, Buffer.from('{"DETAILS": "slow down"}')).message, 'unknown: slow down');
});

test("a refused token is reported as Go's client reports it: in the error of the registry request it was for", () => {
  const refused = new TokenError('unauthorized: incorrect username or password', true);
  const wrapped = refused.during('HEAD', new URL('https://registry.example/v2/library/alpine/manifests/latest'));
  assert.equal(wrapped.message, 'Head "https://registry.example/v2/library/alpine/manifests/latest": unauthorized: incorrect username or password');
  assert.equal(wrapped.unauthorized, true);
  assert.equal(wrapped.tokenError, refused);
});

test('TLS context: a verified registry gets the host roots and its certs.d CAs; an insecure one no roots to parse', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-roots-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const saved = process.env.SSL_CERT_FILE;
  t.after(() => (saved === undefined ? delete process.env.SSL_CERT_FILE : (process.env.SSL_CERT_FILE = saved)));
  const hostRoots = '-----BEGIN CERTIFICATE-----\nhost roots\n-----END CERTIFICATE-----\n';
  await writeFile(join(dir, 'bundle.pem'), hostRoots);
  process.env.SSL_CERT_FILE = join(dir, 'bundle.pem');
  const certsD = Buffer.from('-----BEGIN CERTIFICATE-----\ncerts.d\n-----END CERTIFICATE-----\n');
  const verified = secureContextOptions({ rejectUnauthorized: true, ca: [certsD] });
  assert.deepEqual([verified.verify, verified.ca], [true, [hostRoots, certsD]]);
  const insecure = secureContextOptions({ rejectUnauthorized: false, ca: [certsD] });
  assert.deepEqual([insecure.verify, insecure.ca], [false, []]);
  assert.notEqual(insecure.cacheKey, verified.cacheKey);
  // A client certificate is still presented to an insecure registry (certs.d's *.cert / *.key).
  const withCert = secureContextOptions({ rejectUnauthorized: false, cert: Buffer.from('c'), key: Buffer.from('k') });
  assert.deepEqual([withCert.cert, withCert.key, withCert.ca], [Buffer.from('c'), Buffer.from('k'), []]);
  assert.notEqual(withCert.cacheKey, insecure.cacheKey);
});

test('progress is paced as dockerd paces it: past min(512 KiB, 1%) and 100 ms since the last sent, always at the total', () => {
  let clock = 0;
  const sent: number[] = [];
  const total = 100 << 20;
  const fast = new ProgressThrottle((n) => sent.push(n), total, () => clock);
  // 64 KiB every millisecond: 1.6 s for 100 MiB.
  for (let n = 64 << 10; n <= total; n += 64 << 10, clock++) fast.update(n);
  assert.equal(sent[0], 576 << 10, 'the first step past 512 KiB is sent at once');
  assert.equal(sent.at(-1), total);
  assert.ok(sent.length >= 16 && sent.length <= 18, `about ten a second, not one per 512 KiB: ${sent.length}`);
  assert.ok(sent.slice(1, -1).every((n, i) => n - sent[i]! >= 100 * (64 << 10)), 'at least 100 ms apart');

  // A small blob: 1% of it is the step, and a slow transfer reports at each step.
  sent.length = 0;
  const slow = new ProgressThrottle((n) => sent.push(n), 10_000, () => (clock += 200));
  for (const n of [50, 101, 150, 202, 10_000]) slow.update(n);
  assert.deepEqual(sent, [101, 202, 10_000]);
  // The end is always sent, whatever the pace (a push's last update).
  sent.length = 0;
  const end = new ProgressThrottle((n) => sent.push(n), 0, () => clock);
  end.update(10, true);
  assert.deepEqual(sent, [10]);
  // A download that starts over reports again from its new position, not only once it passes
  // where the first attempt had got to.
  sent.length = 0;
  const again = new ProgressThrottle((n) => sent.push(n), 10_000, () => (clock += 200));
  for (const n of [5_000, 6_000, 0, 150, 300, 10_000]) again.update(n);
  assert.deepEqual(sent, [5_000, 6_000, 0, 150, 300, 10_000]);
});

test("a failed lookup names the resolver as Go's does", () => {
  assert.equal(resolverSuffix('# x\nsearch a.test\nnameserver 10.0.0.2\nnameserver 10.0.0.3\n'), ' on 10.0.0.2:53');
  assert.equal(resolverSuffix('nameserver fd00::1\n'), ' on [fd00::1]:53');
  assert.equal(resolverSuffix('search only.test\n'), '');
  const err = Object.assign(new Error('getaddrinfo ENOTFOUND no-such-host.invalid'), { code: 'ENOTFOUND' });
  assert.match(transportErrorText(err, new URL('https://no-such-host.invalid/v2/')), /^dial tcp: lookup no-such-host\.invalid( on \S+:53)?: no such host$/);
});
