import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetworkBackend } from '../../../src/api/backend.js';
import { startApiServer } from '../../../src/api/server.js';
import { forbidden, notFound } from '../../../src/lib/errors.js';
import { request, stubBackend, type Call } from '../api/helpers.js';

describe('network routes', () => {
  let dir: string;
  let sock: string;
  let server: { close(): Promise<void> };
  const calls: Array<{ m: string; args: unknown[] }> = [];
  const rec = (m: string) => (...args: unknown[]) => void calls.push({ m, args });
  const networks: NetworkBackend = {
    list: async (f, o) => (rec('list')(f, o), [{ Name: 'bridge' } as never]),
    inspect: async (ref) => {
      if (ref === 'missing') throw notFound('network missing not found');
      return { Name: ref } as never;
    },
    create: async (b) => (rec('create')(b), { Id: 'n'.repeat(64), Warning: '' }),
    remove: async (ref) => {
      if (ref === 'busy') throw forbidden('error while removing network: network busy id x has active endpoints');
    },
    connect: async (...a) => rec('connect')(...a),
    disconnect: async (...a) => rec('disconnect')(...a),
    prune: async () => ({ NetworksDeleted: ['old'] }),
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-netapi-'));
    sock = join(dir, 'api.sock');
    server = await startApiServer({ ...stubBackend([] as Call[]), networks }, { hosts: [`unix://${sock}`] });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });
  const json = { 'Content-Type': 'application/json' };

  it('lists with filters, inspects, 404s with Docker text', async () => {
    const r = await request(sock, 'GET', '/v1.45/networks?filters=' + encodeURIComponent('{"type":["custom"]}'));
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), [{ Name: 'bridge' }]);
    assert.deepEqual(calls.at(-1), { m: 'list', args: [{ type: ['custom'] }, { detailed: false }] });
    // Below 1.28 moby lists each network with its containers (its "detailed" list).
    assert.equal((await request(sock, 'GET', '/v1.27/networks')).status, 200);
    assert.deepEqual(calls.at(-1), { m: 'list', args: [{}, { detailed: true }] });
    await request(sock, 'GET', '/v1.28/networks/');
    assert.deepEqual(calls.at(-1), { m: 'list', args: [{}, { detailed: false }] });
    assert.deepEqual((await request(sock, 'GET', '/networks/web')).json(), { Name: 'web' });
    const missing = await request(sock, 'GET', '/networks/missing');
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.json(), { message: 'network missing not found' });
  });

  it('creates (201), deletes (204 / 403), connects and disconnects (200), prunes', async () => {
    const c = await request(sock, 'POST', '/v1.45/networks/create', { body: JSON.stringify({ Name: 'app', Internal: true }), headers: json });
    assert.equal(c.status, 201);
    assert.deepEqual(c.json(), { Id: 'n'.repeat(64), Warning: '' });
    assert.equal((await request(sock, 'DELETE', '/networks/app')).status, 204);
    const busy = await request(sock, 'DELETE', '/networks/busy');
    assert.equal(busy.status, 403);
    const con = await request(sock, 'POST', '/networks/app/connect', { body: JSON.stringify({ Container: 'web', EndpointConfig: { Aliases: ['a'] } }), headers: json });
    assert.equal(con.status, 200);
    assert.deepEqual(calls.at(-1), { m: 'connect', args: ['app', 'web', { Aliases: ['a'] }] });
    await request(sock, 'POST', '/networks/app/disconnect', { body: JSON.stringify({ Container: 'web', Force: true }), headers: json });
    assert.deepEqual(calls.at(-1), { m: 'disconnect', args: ['app', 'web', true] });
    const noC = await request(sock, 'POST', '/networks/app/connect', { body: '{}', headers: json });
    assert.equal(noC.status, 400);
    assert.deepEqual((await request(sock, 'POST', '/networks/prune')).json(), { NetworksDeleted: ['old'] });
  });
});
