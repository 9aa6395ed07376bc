/**
 * Bad input against a real wharfd over its socket: Docker's status codes and texts, and a failed
 * create leaves nothing behind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { countLeaks, jsonBody, loadBusybox, socketRequest, startDaemon, type Daemon } from './harness.js';

let d: Daemon;
before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
});
after(async () => {
  await d?.cleanup();
});

async function call(method: string, path: string, body?: string): Promise<{ status: number; json: { message?: string } & Record<string, unknown> }> {
  const r = await socketRequest(d.socket, method, path, { body });
  return { status: r.status, json: jsonBody(r) ?? {} };
}

test('malformed JSON and wrong types are 400 with a message', async () => {
  const bad = await call('POST', '/v1.50/containers/create', '{"Image": "busybox",');
  assert.equal(bad.status, 400);
  assert.match(bad.json.message ?? '', /invalid JSON|unexpected end/i);
  const wrongType = await call('POST', '/v1.50/containers/create', JSON.stringify({ Image: 'busybox', Env: 'FOO=1' }));
  assert.equal(wrongType.status, 400);
  assert.match(wrongType.json.message ?? '', /Env/);
  const cpus = await call('POST', '/v1.50/containers/create', JSON.stringify({ Image: 'busybox', Cmd: ['true'], HostConfig: { Memory: 'lots' } }));
  assert.equal(cpus.status, 400);
});

test("unknown containers and images are 404 with Docker's text", async () => {
  const c = await call('GET', '/v1.50/containers/nosuch/json');
  assert.equal(c.status, 404);
  assert.equal(c.json.message, 'No such container: nosuch');
  const i = await call('POST', '/v1.50/containers/create', JSON.stringify({ Image: 'nosuch:1', Cmd: ['true'] }));
  assert.equal(i.status, 404);
  assert.equal(i.json.message, 'No such image: nosuch:1');
  const s = await call('POST', '/v1.50/containers/nosuch/start');
  assert.equal(s.status, 404);
  // moby's kill checks its signal before it looks for the container, and a network connect or
  // disconnect looks for the container before the network.
  const k = await call('POST', '/v1.50/containers/nosuch/kill?signal=BOGUS');
  assert.deepEqual([k.status, k.json.message], [400, 'cannot kill container: nosuch: invalid signal: BOGUS']);
  // moby's kill route wraps every error of the kill, the missing container's too.
  const k404 = await call('POST', '/v1.50/containers/nosuch/kill');
  assert.deepEqual([k404.status, k404.json.message], [404, 'cannot kill container: nosuch: No such container: nosuch']);
  for (const op of ['connect', 'disconnect']) {
    const n = await call('POST', `/v1.50/networks/nosuchnet/${op}`, JSON.stringify({ Container: 'nosuch' }));
    assert.deepEqual([n.status, n.json.message], [404, 'No such container: nosuch'], op);
  }
  // An empty config, as the Go client sends container.Config{}: moby finds no command to run.
  const empty = await call('POST', '/v1.50/containers/create', JSON.stringify({ Hostname: '', Image: '', Cmd: null, HostConfig: {} }));
  assert.deepEqual([empty.status, empty.json.message], [400, 'no command specified']);
  const ipc = await call('POST', '/v1.50/containers/create', JSON.stringify({ Image: 'busybox', HostConfig: { IpcMode: 'bogus' } }));
  assert.deepEqual([ipc.status, ipc.json.message], [400, 'invalid IPC mode: bogus']);
});

test("attach to a missing container answers moby's raw text, upgraded or not", async () => {
  const raw = (head: string) =>
    new Promise<string>((resolve, reject) => {
      const sock = connect(d.socket, () => sock.write(head));
      let got = '';
      sock.on('data', (b: Buffer) => (got += b.toString()));
      sock.on('end', () => resolve(got));
      sock.on('error', reject);
    });
  const want = 'HTTP/1.1 404 Not Found\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\nNo such container: nosuch\r\n';
  assert.equal(await raw('POST /v1.50/containers/nosuch/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: x\r\n\r\n'), want);
  assert.equal(await raw('POST /v1.50/containers/nosuch/attach?stream=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n'), want);
});

test('a name in use is 409; invalid HostConfig is 400; neither leaves anything behind', async () => {
  const before = await readdir(join(d.dataRoot, 'containers'));
  const ok = await call('POST', '/v1.50/containers/create?name=taken', JSON.stringify({ Image: 'busybox', Cmd: ['true'] }));
  assert.equal(ok.status, 201);
  const dup = await call('POST', '/v1.50/containers/create?name=taken', JSON.stringify({ Image: 'busybox', Cmd: ['true'] }));
  assert.equal(dup.status, 409);
  assert.match(dup.json.message ?? '', /^Conflict\. The container name "\/taken" is already in use by container "[0-9a-f]{64}"/);
  const badName = await call('POST', '/v1.50/containers/create?name=-x', JSON.stringify({ Image: 'busybox', Cmd: ['true'] }));
  assert.equal(badName.status, 400);
  assert.match(badName.json.message ?? '', /Invalid container name \(-x\)/);
  // A rename reserves the new name with its slash, and moby's message shows it so.
  const badRename = await call('POST', `/v1.50/containers/taken/rename?name=${encodeURIComponent('bad name')}`);
  assert.deepEqual([badRename.status, badRename.json.message], [400, 'Error when allocating new name: Invalid container name (/bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed']);
  const mem = await call('POST', '/v1.50/containers/create', JSON.stringify({ Image: 'busybox', Cmd: ['true'], HostConfig: { Memory: 1024 } }));
  assert.equal(mem.status, 400);
  assert.match(mem.json.message ?? '', /Minimum memory limit allowed is 6MB/);
  const noCmd = await call('POST', '/v1.50/containers/create', JSON.stringify({ Image: 'busybox', Entrypoint: [''] }));
  assert.equal(noCmd.status, 400);
  assert.match(noCmd.json.message ?? '', /No command specified/);
  const after = await readdir(join(d.dataRoot, 'containers'));
  assert.equal(after.length, before.length + 1, 'only the one good container exists');
  assert.equal((await call('DELETE', `/v1.50/containers/${ok.json.Id as string}`)).status, 204);
  const leaks = await countLeaks(d);
  assert.equal(leaks.mounts, 0);
});

test('starting a running container is 304; an unknown API version is 400', async () => {
  const c = await call('POST', '/v1.50/containers/create', JSON.stringify({ Image: 'busybox', Cmd: ['sleep', '100'] }));
  const id = c.json.Id as string;
  assert.equal((await call('POST', `/v1.50/containers/${id}/start`)).status, 204);
  assert.equal((await call('POST', `/v1.50/containers/${id}/start`)).status, 304);
  // An upgraded attach declaring a body it will never send is refused, not buffered.
  const attach = await new Promise<string>((resolve, reject) => {
    const sock = connect(d.socket, () =>
      sock.write(`POST /v1.50/containers/${id}/attach?stream=1&stdin=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 1000000000000\r\n\r\n{`),
    );
    let got = '';
    sock.on('data', (b: Buffer) => (got += b.toString()));
    sock.on('end', () => resolve(got));
    sock.on('error', reject);
  });
  assert.match(attach, /^HTTP\/1\.1 400 [\s\S]*request body too large/);
  assert.equal((await call('DELETE', `/v1.50/containers/${id}?force=1`)).status, 204);
  const v = await call('GET', '/v1.99/version');
  assert.equal(v.status, 400);
  assert.equal(v.json.message, 'client version 1.99 is too new. Maximum supported API version is 1.51');
});

test('an answer given before the body was read, on a connection that closes: the client sends its body after it without a broken pipe', async () => {
  // Go's clients with keep-alive off (moby's own integration suite) send Connection: close and
  // may still be writing the body when the error comes back; Go's server reads on meanwhile.
  const cases: Array<[string, string, number]> = [
    ['/commit', 'text/plain', 400],
    ['/v1.23/containers/x/start', 'application/json', 400],
    ['/no/such/route', 'application/json', 404],
  ];
  for (const [path, type, status] of cases) {
    const result = await new Promise<{ answer: string; error?: string }>((resolve) => {
      const sock = connect({ path: d.socket, allowHalfOpen: true }, () =>
        sock.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: ${type}\r\nContent-Length: 2\r\n\r\n`),
      );
      let answer = '';
      sock.on('data', (b: Buffer) => (answer += b.toString()));
      // The answer is whole once the daemon ends its side; only then does the body follow.
      sock.on('end', () => sock.end('{}'));
      sock.on('error', (err) => resolve({ answer, error: err.message }));
      sock.on('close', () => resolve({ answer }));
    });
    assert.equal(result.error, undefined, `${path}: ${result.error}`);
    assert.match(result.answer, new RegExp(`^HTTP/1\\.1 ${status} `), path);
  }
});

test('OPTIONS on any path is an empty 200, as Docker answers CORS preflights', async () => {
  for (const path of ['/', '/v1.50/containers/json', '/containers/nosuch/start', '/no/such/route']) {
    const r = await socketRequest(d.socket, 'OPTIONS', path);
    assert.deepEqual([r.status, r.body], [200, ''], path);
  }
  assert.equal((await socketRequest(d.socket, 'GET', '/no/such/route')).status, 404);
});

test("a path with empty or dot segments is redirected to its clean form, as gorilla/mux does", async () => {
  // Podman's compat suite sends GET images//json; Docker answers 301 to the cleaned path, query kept.
  for (const [path, location] of [
    ['/v1.50/images//json?all=1', '/v1.50/images/json?all=1'],
    ['/v1.50/containers//json', '/v1.50/containers/json'],
    ['//info', '/info'],
    ['/v1.50/containers/x/../json', '/v1.50/containers/json'],
    ['/v1.50/images/a%20b//json', '/v1.50/images/a%20b/json'],
  ] as const) {
    const r = await socketRequest(d.socket, 'GET', path);
    assert.deepEqual([r.status, r.headers.location, r.body], [301, location, ''], path);
    // The redirect comes from the router, before the version middleware sets its headers.
    assert.equal(r.headers['api-version'], undefined, path);
  }
  // A trailing slash stays (and is then an unknown route), as in path.Clean plus gorilla's fix-up.
  const trailing = await socketRequest(d.socket, 'GET', '/v1.50/containers/json/');
  assert.deepEqual([trailing.status, jsonBody(trailing)], [404, { message: 'page not found' }]);
});

test('a route whose {name:.*} is empty reaches its handler, which answers as moby does', async () => {
  // Podman's compat suite sends DELETE images/?noprune=true.
  const img = await call('DELETE', '/v1.50/images/?noprune=true');
  assert.deepEqual([img.status, img.json.message], [400, 'image name cannot be blank']);
  const ctr = await call('DELETE', '/v1.50/containers/');
  assert.deepEqual([ctr.status, ctr.json.message], [400, 'invalid name or ID supplied: ""']);
  const plugin = await call('DELETE', '/v1.50/plugins/');
  assert.deepEqual([plugin.status, plugin.json.message], [404, 'plugin "" not found']);
});

test("a volume name is the rest of the path, as moby's /volumes/{name:.*}", async () => {
  for (const method of ['GET', 'DELETE']) {
    const empty = await call(method, '/v1.50/volumes/');
    assert.deepEqual([empty.status, empty.json.message], [404, 'get: no such volume'], method);
    const slash = await call(method, '/v1.50/volumes/a/b');
    assert.deepEqual([slash.status, slash.json.message], [404, 'get a/b: no such volume'], method);
  }
  // force makes a missing volume no error, whatever its name.
  assert.equal((await call('DELETE', '/v1.50/volumes/a/b?force=1')).status, 204);
  assert.equal((await call('DELETE', '/v1.50/volumes/?force=1')).status, 204);
});
