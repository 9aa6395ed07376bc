/**
 * Pull, push and login against Debian's docker-registry on 127.0.0.1 in three setups sharing
 * one storage dir: anonymous (plain http), htpasswd basic auth, and bearer tokens from the
 * harness's token server over TLS with a CA of its own. ImageService is used directly and
 * through the API server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Command } from 'commander';
import type { Backend } from '../../src/api/backend.js';
import { isEngineError } from '../../src/lib/errors.js';
import { defineLogin, defineLogout, definePush } from '../../src/cli/registry-commands.js';
import { EngineClient } from '../../src/client/engine-client.js';
import { startApiServer } from '../../src/api/server.js';
import type { ProgressMessage } from '../../src/api/types.js';
import { ImageService, type RegistryServiceOptions } from '../../src/daemon/images/service.js';
import { encodeRegistryAuth } from '../../src/distribution/auth-config.js';
import { makeCerts, startRegistry, startTokenServer, type Certs, type RegistryProcess, type TokenServer } from '../fixtures/registry.js';
import { buildImage, busyboxTar, extraLayerTar, publishImage, publishIndex, type BuiltImage } from '../fixtures/registry-images.js';

let root: string;
let certs: Certs;
let anon: RegistryProcess;
let basic: RegistryProcess;
let tokenReg: RegistryProcess;
let tokens: TokenServer;
let plain: BuiltImage;
let zstdImg: BuiltImage;
let amd64: BuiltImage;
let arm64: BuiltImage;
let plainDigest: string;
const services: ImageService[] = [];

async function service(registry: RegistryServiceOptions = {}): Promise<ImageService> {
  const svc = new ImageService({ dataRoot: await mkdtemp(join(root, 'data-')), containersUsingImage: () => [], registry: { backoffMs: 10, ...registry } });
  await svc.init();
  services.push(svc);
  return svc;
}

async function collect(it: AsyncIterable<ProgressMessage>): Promise<ProgressMessage[]> {
  const out: ProgressMessage[] = [];
  for await (const m of it) out.push(m);
  return out;
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'wharf-registry-'));
  certs = makeCerts(root);
  const storage = join(root, 'storage');
  await mkdir(storage);
  anon = await startRegistry({ dir: root, storage });
  const base = `http://${anon.host}`;
  const bb = await busyboxTar();
  plain = buildImage([bb, await extraLayerTar('hello', 'hello from gzip\n')]);
  plainDigest = (await publishImage(base, 'busybox', 'latest', plain)).digest;
  await publishImage(base, 'library/busybox', 'latest', plain);
  zstdImg = buildImage([bb, await extraLayerTar('hello', 'hello from zstd\n')], { compression: 'zstd', oci: true });
  await publishImage(base, 'oci/busybox', 'latest', zstdImg, true);
  const raw = buildImage([await extraLayerTar('raw', 'uncompressed\n')], { compression: 'none', oci: true });
  await publishImage(base, 'oci/raw', 'latest', raw, true);
  amd64 = buildImage([bb, await extraLayerTar('arch', 'amd64\n')]);
  arm64 = buildImage([bb, await extraLayerTar('arch', 'arm64\n')], { architecture: 'arm64' });
  await publishIndex(base, 'multi', 'latest', [{ img: amd64 }, { img: arm64 }]);
  await publishIndex(base, 'ocimulti', 'latest', [{ img: amd64 }, { img: arm64 }], true);

  const htpasswd = join(root, 'htpasswd');
  execFileSync('sh', ['-c', `htpasswd -Bbn alice secret > ${htpasswd}`]);
  basic = await startRegistry({ dir: root, storage, htpasswd });

  tokens = await startTokenServer({
    signCert: certs.signCert,
    signKey: certs.signKey,
    users: { bob: 'hunter2' },
    grant: (user, repo, actions) => (repo.startsWith('private/') && !user ? [] : actions.filter((a) => a === 'pull' || user !== undefined)),
  });
  tokenReg = await startRegistry({
    dir: root,
    storage,
    tls: { cert: certs.serverCert, key: certs.serverKey },
    token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCert: certs.signCert },
  });
});

after(async () => {
  await Promise.all([anon, basic, tokenReg].filter(Boolean).map((r) => r.stop()));
  await tokens?.stop();
  await rm(root, { recursive: true, force: true });
});

describe('anonymous registry', () => {
  test('pull of a schema2 image streams dockerd messages and registers the image', async () => {
    const svc = await service();
    const ref = `${anon.host}/busybox`;
    const msgs = await collect(svc.pull(ref, 'latest', {}, undefined));
    const ids = plain.layers.map((l) => l.digest.slice(7, 19));
    assert.deepEqual(msgs[0], { status: 'Pulling from busybox', id: 'latest' });
    for (const id of ids) {
      const statuses = msgs.filter((m) => m.id === id).map((m) => m.status);
      assert.equal(statuses[0], 'Pulling fs layer');
      assert.ok(statuses.includes('Downloading'), statuses.join());
      const order = ['Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete'].map((s) => statuses.indexOf(s));
      assert.ok(order.every((i, k) => i >= 0 && (k === 0 || i > order[k - 1]!)), statuses.join());
      const dl = msgs.find((m) => m.id === id && m.status === 'Downloading')!;
      assert.match(dl.progress!, /^\[=*>\s*\]\s+\S+B\/\S+B$/);
      assert.equal(dl.progressDetail!.total, plain.layers[ids.indexOf(id)]!.blob.length);
    }
    assert.deepEqual(msgs.slice(-2), [{ status: `Digest: ${plainDigest}` }, { status: `Status: Downloaded newer image for ${ref}:latest` }]);
    const inspect = await svc.inspect(`${ref}:latest`);
    assert.equal(inspect.Id, plain.id);
    assert.deepEqual(inspect.RepoDigests, [`${ref}@${plainDigest}`]);
    assert.deepEqual(inspect.RootFS.Layers, plain.layers.map((l) => l.diffId));
    const upper = inspect.GraphDriver.Data!.UpperDir!;
    assert.equal(readFileSync(join(upper, 'etc/hello'), 'utf8'), 'hello from gzip\n');

    // Again: nothing downloaded.
    const again = await collect(svc.pull(ref, 'latest', {}, undefined));
    assert.deepEqual(again, [
      { status: 'Pulling from busybox', id: 'latest' },
      { status: `Digest: ${plainDigest}` },
      { status: `Status: Image is up to date for ${ref}:latest` },
    ]);

    // A second image sharing the busybox layer reuses it by chain ID.
    const z = await collect(svc.pull(`${anon.host}/oci/busybox`, 'latest', {}, undefined));
    assert.equal(z.find((m) => m.id === zstdImg.layers[0]!.digest.slice(7, 19))?.status, 'Already exists');
    assert.equal((await svc.inspect(`${anon.host}/oci/busybox:latest`)).Id, zstdImg.id);
  });

  test('OCI manifest with zstd and uncompressed layers, pull by digest', async () => {
    const svc = await service();
    await collect(svc.pull(`${anon.host}/oci/busybox:latest`, undefined, {}, undefined));
    const inspect = await svc.inspect(`${anon.host}/oci/busybox:latest`);
    assert.equal(inspect.Id, zstdImg.id);
    assert.equal(readFileSync(join(inspect.GraphDriver.Data!.UpperDir!, 'etc/hello'), 'utf8'), 'hello from zstd\n');
    await collect(svc.pull(`${anon.host}/oci/raw`, 'latest', {}, undefined));
    assert.equal(readFileSync(join((await svc.inspect(`${anon.host}/oci/raw`)).GraphDriver.Data!.UpperDir!, 'etc/raw'), 'utf8'), 'uncompressed\n');
    const byDigest = await collect(svc.pull(`${anon.host}/busybox@${plainDigest}`, undefined, {}, undefined));
    assert.equal(byDigest[0]!.id, plainDigest);
    assert.equal(byDigest.at(-1)!.status, `Status: Downloaded newer image for ${anon.host}/busybox@${plainDigest}`);
    assert.equal((await svc.inspect(`${anon.host}/busybox@${plainDigest}`)).Id, plain.id);
  });

  test('manifest list and OCI index: host platform by default, --platform selects', async () => {
    const svc = await service();
    for (const repo of ['multi', 'ocimulti']) {
      await collect(svc.pull(`${anon.host}/${repo}`, 'latest', {}, undefined));
      assert.equal((await svc.inspect(`${anon.host}/${repo}:latest`)).Id, amd64.id);
      await collect(svc.pull(`${anon.host}/${repo}`, 'latest', { platform: 'linux/arm64' }, undefined));
      const insp = await svc.inspect(`${anon.host}/${repo}:latest`);
      assert.equal(insp.Id, arm64.id);
      assert.equal(insp.Architecture, 'arm64');
    }
    await assert.rejects(collect(svc.pull(`${anon.host}/multi`, 'latest', { platform: 'linux/s390x' }, undefined)), {
      message: 'no matching manifest for linux/s390x in the manifest list entries',
    });
  });

  test('unknown repository and tag: Docker texts', async () => {
    const svc = await service();
    await assert.rejects(collect(svc.pull(`${anon.host}/busybox`, 'nosuch', {}, undefined)), {
      message: `manifest for ${anon.host}/busybox:nosuch not found: manifest unknown: manifest unknown`,
    });
    await assert.rejects(collect(svc.pull(`${anon.host}/nosuchrepo`, 'latest', {}, undefined)), (err: Error & { kind?: string }) => {
      assert.equal(err.kind, 'NotFound');
      assert.match(err.message, new RegExp(`${anon.host}/nosuchrepo`));
      return true;
    });
  });

  test('registry-mirrors serve docker.io images', async () => {
    const svc = await service({ registryMirrors: [`http://${anon.host}`] });
    const msgs = await collect(svc.pull('busybox', 'latest', {}, undefined));
    assert.equal(msgs[0]!.status, 'Pulling from library/busybox');
    assert.equal(msgs.at(-1)!.status, 'Status: Downloaded newer image for busybox:latest');
    assert.equal((await svc.inspect('busybox')).Id, plain.id);
  });

  test('push: cross-repository mount, then HEAD reuse, then a fresh upload; pulled back with the same ID', async () => {
    const svc = await service();
    await collect(svc.pull(`${anon.host}/busybox`, 'latest', {}, undefined));
    await svc.tag(`${anon.host}/busybox:latest`, `${anon.host}/pushed/busybox`, 'v1');
    const first = await collect(svc.push(`${anon.host}/pushed/busybox`, 'v1', undefined));
    assert.deepEqual(first[0], { status: `The push refers to repository [${anon.host}/pushed/busybox]` });
    const diffShort = plain.layers.map((l) => l.diffId.slice(7, 19));
    for (const id of diffShort) {
      const s = first.filter((m) => m.id === id).map((m) => m.status);
      assert.equal(s[0], 'Preparing');
      assert.equal(s.at(-1), 'Mounted from busybox');
    }
    const done = first.find((m) => m.status?.startsWith('v1: digest: '))!;
    assert.match(done.status!, /^v1: digest: sha256:[a-f0-9]{64} size: \d+$/);
    assert.ok(first.some((m) => (m.aux as { Tag?: string } | undefined)?.Tag === 'v1'));

    const second = await collect(svc.push(`${anon.host}/pushed/busybox:v1`, undefined, undefined));
    for (const id of diffShort) assert.equal(second.filter((m) => m.id === id).at(-1)!.status, 'Layer already exists');

    // A local image the registry has never seen: uploaded.
    const tar = await extraLayerTar('local', 'made here\n');
    await collect(svc.importImage(Readable.from([tar]), { repo: `${anon.host}/pushed/local`, tag: 'v2', changes: [] }));
    const localId = (await svc.inspect(`${anon.host}/pushed/local:v2`)).Id;
    const third = await collect(svc.push(`${anon.host}/pushed/local`, undefined, undefined));
    assert.ok(third.some((m) => m.status === 'Pushing' && m.progressDetail?.total));
    assert.ok(third.some((m) => m.status === 'Pushed'));

    const other = await service();
    await collect(other.pull(`${anon.host}/pushed/busybox`, 'v1', {}, undefined));
    assert.equal((await other.inspect(`${anon.host}/pushed/busybox:v1`)).Id, plain.id);
    await collect(other.pull(`${anon.host}/pushed/local`, 'v2', {}, undefined));
    assert.equal((await other.inspect(`${anon.host}/pushed/local:v2`)).Id, localId);
    assert.equal(readFileSync(join((await other.inspect(localId)).GraphDriver.Data!.UpperDir!, 'etc/local'), 'utf8'), 'made here\n');

    // Docker's texts: a repository with no local tag at all, then a missing tag of a known one.
    await assert.rejects(collect(svc.push(`${anon.host}/nothing/here`, 'v1', undefined)), {
      message: `An image does not exist locally with the tag: ${anon.host}/nothing/here`,
    });
    await assert.rejects(collect(svc.push(`${anon.host}/pushed/busybox`, 'nope', undefined)), {
      message: `tag does not exist: ${anon.host}/pushed/busybox:nope`,
    });
  });
});

describe('basic auth registry', () => {
  test('pull without credentials fails, with them succeeds; login checks them', async () => {
    const svc = await service();
    await assert.rejects(collect(svc.pull(`${basic.host}/busybox`, 'latest', {}, undefined)), /no basic auth credentials/);
    await assert.rejects(collect(svc.pull(`${basic.host}/busybox`, 'latest', {}, { username: 'alice', password: 'wrong' })), /unauthorized/);
    await collect(svc.pull(`${basic.host}/busybox`, 'latest', {}, { username: 'alice', password: 'secret', serveraddress: basic.host }));
    assert.equal((await svc.inspect(`${basic.host}/busybox:latest`)).Id, plain.id);
    assert.deepEqual(await svc.login({ username: 'alice', password: 'secret', serveraddress: basic.host }), { Status: 'Login Succeeded', IdentityToken: '' });
    await assert.rejects(svc.login({ username: 'alice', password: 'nope', serveraddress: basic.host }), (err: Error) => {
      assert.equal(err.message, `login attempt to http://${basic.host}/v2/ failed with status: 401 Unauthorized`);
      assert.ok(isEngineError(err, 'Unauthorized'));
      return true;
    });
    // push with credentials
    await svc.tag(`${basic.host}/busybox:latest`, `${basic.host}/basicpush/bb`, 'x');
    const pushed = await collect(svc.push(`${basic.host}/basicpush/bb`, 'x', { auth: Buffer.from('alice:secret').toString('base64') }));
    assert.match(pushed.at(-2)!.status!, /^x: digest: sha256:/);
  });
});

describe('token auth registry over TLS', () => {
  test('anonymous token pull; tokens are reused until they expire', async () => {
    const svc = await service();
    const before = tokens.issued;
    await collect(svc.pull(`${tokenReg.host}/busybox`, 'latest', {}, undefined));
    await collect(svc.pull(`${tokenReg.host}/busybox@${plainDigest}`, undefined, {}, undefined));
    assert.equal((await svc.inspect(`${tokenReg.host}/busybox:latest`)).Id, plain.id);
    assert.equal(tokens.issued - before, 1);
  });

  test('denied repository: pull access denied', async () => {
    const svc = await service();
    await assert.rejects(collect(svc.pull(`${tokenReg.host}/private/thing`, 'latest', {}, undefined)), {
      message: `pull access denied for ${tokenReg.host}/private/thing, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`,
    });
  });

  test('credentials: login, push with a token, wrong password refused', async () => {
    const svc = await service();
    assert.equal((await svc.login({ username: 'bob', password: 'hunter2', serveraddress: `https://${tokenReg.host}` })).Status, 'Login Succeeded');
    // A refused token is reported in the error of the registry request it was for, as Go's client reports it.
    await assert.rejects(svc.login({ username: 'bob', password: 'bad', serveraddress: tokenReg.host }), (err: unknown) => {
      assert.ok(isEngineError(err, 'Unauthorized'), String(err));
      assert.equal(err.message, `Get "https://${tokenReg.host}/v2/": unauthorized: incorrect username or password`);
      return true;
    });
    await assert.rejects(collect(svc.pull(`${tokenReg.host}/busybox`, 'latest', {}, { username: 'bob', password: 'bad' })), (err: Error) => {
      assert.match(err.message, new RegExp(`^(Head|Get) "https://${tokenReg.host.replace(/\./g, '\\.')}/v2/busybox/manifests/latest": unauthorized: incorrect username or password$`));
      return true;
    });
    await collect(svc.pull(`${tokenReg.host}/busybox`, 'latest', {}, undefined));
    await svc.tag(`${tokenReg.host}/busybox:latest`, `${tokenReg.host}/bob/bb`, 'v1');
    // A push says the errcode text alone (dockerd's retryOnError unwraps it).
    await assert.rejects(collect(svc.push(`${tokenReg.host}/bob/bb`, 'v1', { username: 'bob', password: 'bad' })), { message: 'unauthorized: incorrect username or password' });
    const out = await collect(svc.push(`${tokenReg.host}/bob/bb`, 'v1', { username: 'bob', password: 'hunter2' }));
    assert.ok(out.some((m) => m.status === 'Mounted from busybox'), JSON.stringify(out));
  });

  test('TLS verification uses the CA in certs.d/<host:port>/ca.crt', async () => {
    const certsDir = join(root, 'certs.d');
    const strict = await service({ insecureLoopback: false, certsDir });
    await assert.rejects(collect(strict.pull(`${tokenReg.host}/busybox`, 'latest', {}, undefined)), /x509: certificate signed by unknown authority/);
    await mkdir(join(certsDir, tokenReg.host), { recursive: true });
    await copyFile(certs.caCert, join(certsDir, tokenReg.host, 'ca.crt'));
    const withCa = await service({ insecureLoopback: false, certsDir });
    await collect(withCa.pull(`${tokenReg.host}/busybox`, 'latest', {}, undefined));
    assert.equal((await withCa.inspect(`${tokenReg.host}/busybox:latest`)).Id, plain.id);
  });

  test("the host's CAs (SSL_CERT_FILE, as Go reads it) are trusted, and certs.d CAs add to them", async (t) => {
    const saved = process.env.SSL_CERT_FILE;
    t.after(() => (saved === undefined ? delete process.env.SSL_CERT_FILE : (process.env.SSL_CERT_FILE = saved)));
    process.env.SSL_CERT_FILE = certs.caCert;
    const noCertsDir = await service({ insecureLoopback: false, certsDir: join(root, 'no-certs.d') });
    await collect(noCertsDir.pull(`${tokenReg.host}/busybox`, 'latest', {}, undefined));
    assert.equal((await noCertsDir.inspect(`${tokenReg.host}/busybox:latest`)).Id, plain.id);
    // A certs.d CA of another issuer does not replace the host's roots.
    const otherDir = join(root, 'other-certs.d');
    await mkdir(join(otherDir, tokenReg.host), { recursive: true });
    await copyFile(certs.signCert, join(otherDir, tokenReg.host, 'ca.crt'));
    const withOther = await service({ insecureLoopback: false, certsDir: otherDir });
    await collect(withOther.pull(`${tokenReg.host}/busybox`, 'latest', {}, undefined));
    process.env.SSL_CERT_FILE = certs.signCert;
    const untrusted = await service({ insecureLoopback: false, certsDir: join(root, 'no-certs.d') });
    await assert.rejects(collect(untrusted.pull(`${tokenReg.host}/busybox`, 'latest', {}, undefined)), /x509: certificate signed by unknown authority/);
  });
});

describe('through the API server', () => {
  test('POST /images/create streams progress, POST /auth answers Login Succeeded or 401', async () => {
    const svc = await service();
    const sock = join(root, 'api.sock');
    const backend = { images: svc, containers: {}, system: {} } as unknown as Backend;
    const server = await startApiServer(backend, { hosts: [`unix://${sock}`] });
    const call = (method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ socketPath: sock, method, path, headers: { ...(body ? { 'Content-Type': 'application/json' } : {}), ...headers } }, (res) => {
          let data = '';
          res.on('data', (c: Buffer) => (data += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
        });
        req.on('error', reject);
        req.end(body);
      });
    try {
      const pull = await call('POST', `/v1.47/images/create?fromImage=${encodeURIComponent(`${basic.host}/busybox`)}&tag=latest`, undefined, {
        'X-Registry-Auth': encodeRegistryAuth({ username: 'alice', password: 'secret', serveraddress: basic.host }),
      });
      assert.equal(pull.status, 200);
      const lines = pull.body.trim().split('\r\n').map((l) => JSON.parse(l) as ProgressMessage);
      assert.equal(lines.at(-1)!.status, `Status: Downloaded newer image for ${basic.host}/busybox:latest`);
      const missing = await call('POST', `/v1.47/images/create?fromImage=${encodeURIComponent(`${anon.host}/busybox`)}&tag=nosuch`);
      assert.equal(missing.status, 404);
      assert.equal(JSON.parse(missing.body).message, `manifest for ${anon.host}/busybox:nosuch not found: manifest unknown: manifest unknown`);
      const ok = await call('POST', '/v1.47/auth', JSON.stringify({ username: 'alice', password: 'secret', serveraddress: basic.host }));
      assert.deepEqual([ok.status, JSON.parse(ok.body)], [200, { Status: 'Login Succeeded', IdentityToken: '' }]);
      const bad = await call('POST', '/v1.47/auth', JSON.stringify({ username: 'alice', password: 'x', serveraddress: basic.host }));
      assert.equal(bad.status, 401);
      await svc.tag(`${basic.host}/busybox:latest`, `${basic.host}/api/bb`, 'v1');
      const push = await call('POST', `/v1.47/images/${encodeURIComponent(`${basic.host}/api/bb`)}/push?tag=v1`, undefined, {
        'X-Registry-Auth': encodeRegistryAuth({ username: 'alice', password: 'secret' }),
      });
      assert.equal(push.status, 200);
      assert.match(push.body, /"status":"v1: digest: sha256:[a-f0-9]{64} size: \d+"/);

      // The CLI's registry commands against the same server.
      process.env.WHARF_CONFIG = join(root, 'cli-config');
      const out: string[] = [];
      const sink = { write: (s: string) => (out.push(s), true), isTTY: false } as unknown as NodeJS.WriteStream;
      const client = new EngineClient({ host: `unix://${sock}` });
      const cli = (...args: string[]) => {
        const program = new Command('wharf').exitOverride();
        const ctx = { client: () => client, out: sink, err: sink };
        for (const define of [defineLogin, defineLogout, definePush]) define(program, ctx);
        return program.parseAsync(['node', 'wharf', ...args]);
      };
      try {
        await assert.rejects(cli('login', '-u', 'alice', '-p', 'bad', basic.host), /401 Unauthorized/);
        await cli('login', '-u', 'alice', '-p', 'secret', basic.host);
        assert.ok(out.includes('Login Succeeded\n'));
        const cfg = JSON.parse(readFileSync(join(root, 'cli-config', 'config.json'), 'utf8'));
        assert.deepEqual(cfg.auths[basic.host], { auth: Buffer.from('alice:secret').toString('base64') });
        await svc.tag(`${basic.host}/busybox:latest`, `${basic.host}/cli/bb`, 'v3');
        await cli('push', '-q', `${basic.host}/cli/bb:v3`);
        assert.equal(out.at(-1), `${basic.host}/cli/bb:v3\n`);
        await cli('logout', basic.host);
        assert.equal(out.at(-1), `Removing login credentials for ${basic.host}\n`);
        await assert.rejects(cli('push', '-q', `${basic.host}/cli/bb:v3`), /no basic auth credentials/);
      } finally {
        client.close();
        delete process.env.WHARF_CONFIG;
      }
    } finally {
      await server.close();
    }
  });
});

