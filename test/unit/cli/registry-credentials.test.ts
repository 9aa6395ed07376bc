import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findAuth, HUB_KEY, hostnameOf, registryAuthFor, serverKey } from '../../../src/cli/docker-config.js';
import { parseNormalizedNamed } from '../../../src/image/reference.js';

test('serverKey: Docker Hub aliases share the v1 key; others are host[:port]', () => {
  assert.equal(serverKey(undefined), HUB_KEY);
  assert.equal(serverKey('docker.io'), HUB_KEY);
  assert.equal(serverKey('https://index.docker.io/v1/'), HUB_KEY);
  assert.equal(serverKey('registry-1.docker.io'), HUB_KEY);
  assert.equal(serverKey('https://127.0.0.1:5000/v2/'), '127.0.0.1:5000');
  assert.equal(hostnameOf('http://reg.example:443/x/y'), 'reg.example:443');
});

test('findAuth: exact key first, then keys written with a scheme or path', () => {
  const cfg = { auths: { 'https://reg.local:5000/v1/': { auth: 'YTpi' }, 'other:1': { auth: 'eDp5' }, [HUB_KEY]: { auth: 'aDpp' } } };
  assert.deepEqual(findAuth(cfg, 'other:1'), { key: 'other:1', entry: { auth: 'eDp5' } });
  assert.deepEqual(findAuth(cfg, 'reg.local:5000'), { key: 'reg.local:5000', entry: { auth: 'YTpi' } });
  assert.deepEqual(findAuth(cfg, 'docker.io'), { key: HUB_KEY, entry: { auth: 'aDpp' } });
  assert.equal(findAuth(cfg, 'reg.local'), null);
});

test('registryAuthFor: base64url JSON of the stored user and password, {} without credentials', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-creds-'));
  const saved = { WHARF_CONFIG: process.env.WHARF_CONFIG, DOCKER_CONFIG: process.env.DOCKER_CONFIG };
  delete process.env.WHARF_CONFIG;
  process.env.DOCKER_CONFIG = dir;
  try {
    const ref = parseNormalizedNamed('127.0.0.1:5000/private/bb');
    assert.equal(await registryAuthFor(ref), 'e30=');
    await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { '127.0.0.1:5000': { auth: Buffer.from('alice:se:cret').toString('base64') } } }));
    const decoded = JSON.parse(Buffer.from(await registryAuthFor(ref), 'base64url').toString('utf8'));
    assert.deepEqual(decoded, { serveraddress: '127.0.0.1:5000', username: 'alice', password: 'se:cret' });
    assert.equal(await registryAuthFor(parseNormalizedNamed('busybox')), 'e30=');
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await rm(dir, { recursive: true, force: true });
  }
});
