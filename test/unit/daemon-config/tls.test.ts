import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDaemonConfig } from '../../../src/daemon/config.js';
import { insecureTcpWarnings } from '../../../src/daemon/tcp-policy.js';

let dir: string;
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-tls-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(flags: string[], file: unknown = {}) {
  const path = join(dir, `daemon-${n++}.json`);
  await writeFile(path, JSON.stringify(file));
  return loadDaemonConfig(['--config-file', path, ...flags]);
}

describe('TLS flags and daemon.json keys (dockerd rules)', () => {
  test('off by default; cert paths default under $DOCKER_CERT_PATH', async () => {
    const saved = process.env.DOCKER_CERT_PATH;
    process.env.DOCKER_CERT_PATH = dir;
    try {
      await writeFile(join(dir, 'cert.pem'), '');
      const cfg = await load([]);
      assert.equal(cfg.tls, undefined);
      assert.equal(cfg.tlsVerify, undefined);
      assert.equal(cfg.tlsCaCert, join(dir, 'ca.pem'));
      assert.equal(cfg.tlsCert, join(dir, 'cert.pem'));
      // A default key file that does not exist is dropped (dockerd resets it to "").
      assert.equal(cfg.tlsKey, '');
      assert.deepEqual(cfg.hosts, ['unix:///run/wharf.sock']);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_CERT_PATH;
      else process.env.DOCKER_CERT_PATH = saved;
    }
  });

  test('--tlsverify implies tls; --tls alone verifies; --tlsverify=false keeps tls without verification', async () => {
    assert.deepEqual(pickTls(await load(['--tlsverify'])), { tls: true, tlsVerify: true });
    assert.deepEqual(pickTls(await load(['--tls'])), { tls: true, tlsVerify: true });
    assert.deepEqual(pickTls(await load(['--tls', '--tlsverify=false'])), { tls: true, tlsVerify: false });
    assert.deepEqual(pickTls(await load(['--tlsverify=false'])), { tls: true, tlsVerify: false });
    assert.deepEqual(pickTls(await load(['--tls=false'])), { tls: false, tlsVerify: false });
    await assert.rejects(load(['--tls=maybe']), /invalid argument "maybe" for "--tls" flag/);
  });

  test('TLS without -H listens on tcp://localhost:2376, as dockerd', async () => {
    assert.deepEqual((await load(['--tlsverify'])).hosts, ['tcp://localhost:2376']);
    assert.deepEqual((await load(['--tlsverify', '-H', 'tcp://0.0.0.0:2376'])).hosts, ['tcp://0.0.0.0:2376']);
  });

  test('daemon.json keys; a key set both ways is a conflict', async () => {
    const cfg = await load([], { tlsverify: true, tlscacert: '/c/ca.pem', tlscert: '/c/cert.pem', tlskey: '/c/key.pem', hosts: ['tcp://127.0.0.1:2376'] });
    assert.deepEqual(pickTls(cfg), { tls: true, tlsVerify: true });
    assert.equal(cfg.tlsCaCert, '/c/ca.pem');
    assert.equal(cfg.tlsCert, '/c/cert.pem');
    assert.equal(cfg.tlsKey, '/c/key.pem');
    assert.deepEqual(pickTls(await load([], { tls: false })), { tls: false, tlsVerify: false });
    await assert.rejects(load(['--tlsverify'], { tlsverify: true }), /specified both as a flag and in the configuration file: tlsverify: \(from flag: true, from file: true\)/);
    await assert.rejects(load(['--tlscert', '/a'], { tlscert: '/b' }), /tlscert: \(from flag: \/a, from file: \/b\)/);
    await assert.rejects(load([], { tls: 'yes' }), /invalid value for "tls"/);
  });
});

function pickTls(cfg: { tls?: boolean; tlsVerify?: boolean }) {
  return { tls: cfg.tls, tlsVerify: cfg.tlsVerify };
}

describe('plain TCP listeners: dockerd 27/28 warnings and start-up pause', () => {
  const base = { tlsCaCert: '', tlsCert: '', tlsKey: '' };
  test('no TLS intent on a public address: seven warnings and 16 s', async () => {
    const [w, ...rest] = await insecureTcpWarnings({ ...base, hosts: ['unix:///run/wharf.sock', 'tcp://0.0.0.0:2375'] });
    assert.equal(rest.length, 0);
    assert.equal(w!.host, 'tcp://0.0.0.0:2375');
    assert.equal(w!.lines.length, 7);
    assert.equal(w!.delayMs, 16_000);
    assert.equal(w!.lines[0], 'Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network.');
    assert.equal(w!.lines[5], "You can override this by explicitly specifying '--tls=false' or '--tlsverify=false'");
  });

  test('loopback, localhost, or an explicit --tls=false / --tlsverify=false: three warnings and 1 s', async () => {
    for (const host of ['tcp://127.0.0.1:2375', 'tcp://localhost:2375', 'tcp://[::1]:2375', 'tcp://:2375']) {
      const [w] = await insecureTcpWarnings({ ...base, hosts: [host] });
      assert.deepEqual([w!.lines.length, w!.delayMs], [3, 1000], host);
    }
    for (const intent of [{ tls: false, tlsVerify: false }, { tls: true, tlsVerify: false }]) {
      const [w] = await insecureTcpWarnings({ ...base, ...intent, hosts: ['tcp://0.0.0.0:2375'] });
      assert.deepEqual([w!.lines.length, w!.delayMs], [3, 1000]);
    }
  });

  test('verified clients or unix sockets only: nothing', async () => {
    assert.deepEqual(await insecureTcpWarnings({ ...base, tls: true, tlsVerify: true, hosts: ['tcp://0.0.0.0:2376'] }), []);
    assert.deepEqual(await insecureTcpWarnings({ ...base, hosts: ['unix:///run/wharf.sock'] }), []);
  });
});
