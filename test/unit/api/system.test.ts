import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { stat, writeFile, mkdtemp, rm, mkdir } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lookupGroup, parseHost, startApiServer } from '../../../src/api/server.js';
import { request, startStubServer, stubBackend, type TestServer } from './helpers.js';

describe('system routes', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startStubServer();
  });
  after(() => srv.close());

  it('GET /_ping answers OK with no-cache headers', async () => {
    const r = await request(srv.sock, 'GET', '/_ping');
    assert.equal(r.status, 200);
    assert.equal(r.text, 'OK');
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(r.headers['cache-control'], 'no-cache, no-store, must-revalidate');
    assert.equal(r.headers['pragma'], 'no-cache');
    assert.equal(r.headers['api-version'], '1.51');
    assert.equal(r.headers['builder-version'], '1');
  });

  it('HEAD /_ping has the headers and no body', async () => {
    const r = await request(srv.sock, 'HEAD', '/v1.30/_ping');
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
    assert.equal(r.headers['content-length'], '0');
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(r.headers['cache-control'], 'no-cache, no-store, must-revalidate');
  });

  it('checkpoints are experimental and off; volume updates need a swarm: moby\'s answers, before any container route', async () => {
    const off = 'This experimental feature is disabled by default. Start the Docker daemon in experimental mode in order to enable it.';
    for (const [method, path] of [['GET', '/v1.41/containers/c1/checkpoints'], ['POST', '/containers/c1/checkpoints'], ['DELETE', '/containers/c1/checkpoints/cp1']] as const) {
      const r = await request(srv.sock, method, path);
      assert.deepEqual([r.status, r.json()], [501, { message: off }], `${method} ${path}`);
    }
    assert.ok(!srv.calls.some((c) => c.method.startsWith('containers.')), JSON.stringify(srv.calls));
    const put = await request(srv.sock, 'PUT', '/v1.50/volumes/v1?version=1');
    assert.deepEqual([put.status, put.json()], [503, { message: 'volume update only valid for cluster volumes, but swarm is unavailable' }]);
  });

  it('GET /version and /info come from the backend', async () => {
    assert.deepEqual((await request(srv.sock, 'GET', '/version')).json(), { Version: '0.1.0' });
    assert.deepEqual((await request(srv.sock, 'GET', '/v1.41/info')).json(), { ID: 'x' });
  });

  it('creates the socket with mode 0660 and its parent directory', async () => {
    const st = await stat(srv.sock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
  });
});

describe('startApiServer', () => {
  it('replaces a stale socket file and removes it on close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-api-'));
    try {
      const sock = join(dir, 'stale.sock');
      // A socket file left behind by a daemon that was killed (a clean close would unlink it).
      const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => console.log('up'))`]);
      await new Promise<void>((r) => child.stdout.once('data', () => r()));
      child.kill('SIGKILL');
      await new Promise<void>((r) => child.once('exit', () => r()));
      assert.ok((await stat(sock)).isSocket());
      const { close } = await startApiServer(stubBackend([]), { hosts: [`unix://${sock}`] });
      assert.equal((await request(sock, 'GET', '/_ping')).text, 'OK');
      await close();
      await assert.rejects(stat(sock), { code: 'ENOENT' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('listens on TCP too', async () => {
    const { close } = await startApiServer(stubBackend([]), { hosts: ['tcp://127.0.0.1:0'] });
    await close();
    assert.deepEqual(parseHost('tcp://127.0.0.1:2375'), { kind: 'tcp', host: '127.0.0.1', port: 2375 });
    assert.deepEqual(parseHost('tcp://:2376'), { kind: 'tcp', host: '127.0.0.1', port: 2376 });
    assert.deepEqual(parseHost('unix:///run/wharf.sock'), { kind: 'unix', path: '/run/wharf.sock' });
    assert.deepEqual(parseHost('unix://'), { kind: 'unix', path: '/run/wharf.sock' });
    assert.throws(() => parseHost('fd://'), /invalid bind address format/);
  });

  it('looks the socket group up in a group file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-api-'));
    try {
      await mkdir(dir, { recursive: true });
      const f = join(dir, 'group');
      await writeFile(f, 'root:x:0:\nwharfish:x:5:\nwharf:x:997:alice\n');
      assert.equal(await lookupGroup('wharf', f), 997);
      assert.equal(await lookupGroup('docker', f), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
