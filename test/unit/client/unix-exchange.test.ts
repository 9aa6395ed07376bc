import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, ConnectionError } from '../../../src/client/api-error.js';
import { EngineClient } from '../../../src/client/engine-client.js';
import { MalformedResponse, parseResponse, unixExchange, unixHijack } from '../../../src/client/unix-exchange.js';

let dir: string;
let socket: string;
let server: Server;
const seen: { method: string; url: string; headers: Record<string, unknown>; body: string; aborted: boolean; conn: number }[] = [];
/** The connections the server accepted, numbered in order (`conn` of each request). */
let connections = 0;
/** Ends the pending wait's answer (its head went out at once, as the daemon's does). */
let releaseWait: (() => void) | undefined;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-unix-exchange-'));
  socket = join(dir, 's.sock');
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: '', aborted: false, conn: (req.socket as { n?: number }).n ?? 0 };
    seen.push(entry);
    req.on('aborted', () => (entry.aborted = true));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      entry.body = Buffer.concat(chunks).toString();
      if (req.url === '/_ping') {
        res.setHeader('Api-Version', '1.47');
        res.setHeader('OSType', 'linux');
        res.end('OK');
      } else if (req.url === '/v1.47/chunked') {
        // two writes without a length: node sends them as chunks
        res.write('{"a":');
        setImmediate(() => res.end('[1,2]}'));
      } else if (req.url === '/v1.47/echo') {
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ got: JSON.parse(entry.body) }));
      } else if (req.url === '/v1.47/containers/w/wait?condition=removed') {
        res.setHeader('Content-Type', 'application/json');
        res.flushHeaders();
        releaseWait = () => res.end('{"StatusCode":3}\n');
      } else if (req.url === '/v1.47/empty') {
        res.statusCode = 404;
        res.end();
      } else {
        res.statusCode = 409;
        res.end(JSON.stringify({ message: 'conflict here' }));
      }
    });
  });
  server.on('connection', (c: { n?: number }) => (c.n = ++connections));
  // Attach: 101 with the first output in the same write as the head, then an echo; or a 404.
  server.on('upgrade', (req, sock) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: '', aborted: false, conn: 0 });
    if (req.url?.startsWith('/v1.47/containers/missing/')) {
      sock.end('HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"message":"No such container: missing"}');
      return;
    }
    sock.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nfirst;');
    sock.on('data', (d: Buffer) => sock.write(d));
    sock.on('end', () => sock.end());
  });
  await new Promise<void>((r) => server.listen(socket, r));
});
after(async () => {
  await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
});

test('parseResponse cuts the body by Content-Length, decodes chunks and skips 100 Continue', () => {
  const cl = parseResponse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\nx-a: 2\r\n\r\nhi'), 'GET');
  assert.equal(cl.status, 200);
  assert.equal(cl.reason, 'OK');
  assert.equal(cl.body.toString(), 'hi');
  assert.equal(cl.headers['x-a'], '1, 2');
  const chunked = parseResponse(Buffer.from('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n'), 'POST');
  assert.equal(chunked.status, 201);
  assert.equal(chunked.body.toString(), 'abcde');
  assert.equal(parseResponse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n'), 'HEAD').body.length, 0);
  assert.throws(() => parseResponse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc'), 'GET'), MalformedResponse);
  assert.throws(() => parseResponse(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab'), 'GET'), MalformedResponse);
  assert.throws(() => parseResponse(Buffer.from('SSH-2.0-x\r\n\r\n'), 'GET'), MalformedResponse);
  // Where each answer ends (what a kept connection needs): none for a body that runs to the close.
  assert.equal(cl.end, Buffer.byteLength('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\nx-a: 2\r\n\r\nhi'));
  assert.equal(chunked.end, Buffer.byteLength('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n'));
  const trailers = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n\r\n';
  assert.equal(parseResponse(Buffer.from(`${trailers}HTTP/1.1 200 OK`), 'GET').end, trailers.length);
  assert.equal(parseResponse(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n'), 'GET').end, undefined);
  assert.equal(parseResponse(Buffer.from('HTTP/1.1 200 OK\r\n\r\nuntil close'), 'GET').end, undefined);
});

test('unixExchange sends the request whole and reads the answer once the server closes', async () => {
  const before = seen.length;
  const res = await unixExchange(socket, 'POST', 'POST /v1.47/echo HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: 7', Buffer.from('{"x":1}'));
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(res.body.toString()), { got: { x: 1 } });
  const req = seen[before]!;
  assert.equal(req.headers.connection, 'close');
  assert.equal(req.aborted, false, 'the server must not take the request for abandoned');
  await assert.rejects(unixExchange(join(dir, 'none.sock'), 'GET', 'GET /_ping HTTP/1.1\r\nHost: docker'), { code: 'ENOENT' });
});

test('a keepAlive exchange hands back its connection, the next request goes on it, or on a new one if it closed', async () => {
  const ping = await unixExchange(socket, 'GET', 'GET /_ping HTTP/1.1\r\nHost: docker', undefined, { keepAlive: true });
  assert.equal(ping.body.toString(), 'OK');
  assert.ok(ping.idle, 'the server keeps the connection: it comes back idle');
  const first = seen.at(-1)!;
  assert.notEqual(first.headers.connection, 'close');
  const res = await unixExchange(socket, 'POST', 'POST /v1.47/echo HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: 7', Buffer.from('{"x":2}'), { via: ping.idle });
  assert.deepEqual(JSON.parse(res.body.toString()), { got: { x: 2 } });
  assert.equal(seen.at(-1)!.conn, first.conn, 'one connection for both');
  assert.equal(ping.idle.destroyed, true, 'closed after the Connection: close answer');

  // The daemon closes the idle connection (its keep-alive timeout) before the request: a new one.
  const again = await unixExchange(socket, 'GET', 'GET /_ping HTTP/1.1\r\nHost: docker', undefined, { keepAlive: true });
  const pingConn = seen.at(-1)!.conn;
  server.closeIdleConnections();
  if (!again.idle!.destroyed) await once(again.idle!, 'close');
  const retried = await unixExchange(socket, 'GET', 'GET /v1.47/chunked HTTP/1.1\r\nHost: docker', undefined, { via: again.idle });
  assert.equal(retried.body.toString(), '{"a":[1,2]}');
  assert.notEqual(seen.at(-1)!.conn, pingConn);
});

test('a kept connection the daemon closes as the request goes out: the request goes on a new one', async () => {
  // A daemon that answers the ping keeping the connection, then drops it at the next request
  // unanswered (its keep-alive timeout struck), and answers on the connections after it.
  const path = join(dir, 'drop.sock');
  let accepted = 0;
  const dropping = createNetServer((c) => {
    const n = ++accepted;
    let requests = 0;
    c.on('data', (d) => {
      if (!d.includes('\r\n\r\n')) return;
      requests++;
      if (n === 1 && requests === 1) c.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK');
      else if (n === 1) c.destroy();
      else c.end(`HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nconn${n}`);
    });
  });
  await new Promise<void>((r) => dropping.listen(path, r));
  try {
    const ping = await unixExchange(path, 'GET', 'GET /_ping HTTP/1.1\r\nHost: docker', undefined, { keepAlive: true });
    assert.ok(ping.idle);
    const res = await unixExchange(path, 'POST', 'POST /v1.47/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Length: 2', Buffer.from('{}'), { via: ping.idle });
    assert.equal(res.body.toString(), 'conn2');
    assert.equal(accepted, 2);
  } finally {
    await new Promise((r) => dropping.close(r));
  }
});

test('EngineClient: JSON requests and the ping over the unix socket, errors as before', async () => {
  const client = new EngineClient({ host: `unix://${socket}` });
  assert.equal(await client.negotiatedVersion(), '1.47');
  const pinged = seen.at(-1)!;
  assert.deepEqual(await client.json('GET', '/chunked'), { a: [1, 2] });
  assert.equal(seen.at(-1)!.conn, pinged.conn, 'the ping and the first request share a connection');
  assert.deepEqual(await client.json('POST', '/echo', { body: { y: 'é' } }), { got: { y: 'é' } });
  await assert.rejects(client.json('GET', '/empty'), (e: unknown) => e instanceof ApiError && e.statusCode === 404 && e.message === '404 Not Found');
  await assert.rejects(client.json('DELETE', '/other'), (e: unknown) => e instanceof ApiError && e.statusCode === 409 && e.message === 'conflict here');
  // A header node:http would refuse is not sent raw: it fails there, as it did before.
  await assert.rejects(client.json('GET', '/echo', { headers: { 'X-Bad': 'a\r\nInjected: 1' } }), /Invalid character in header content/);
  assert.ok(!seen.some((r) => 'injected' in r.headers));
  const gone = new EngineClient({ host: `unix://${join(dir, 'none.sock')}` });
  await assert.rejects(gone.json('GET', '/containers/json'), ConnectionError);
  client.close();
});

test('unixHijack hands over the connection after a 101 with the bytes that came with the head; error answers are read whole', async () => {
  const head = 'POST /v1.47/containers/c/attach?stream=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0';
  const up = await unixHijack(socket, head);
  assert.equal(up.status, 101);
  const sock = up.socket!;
  const got: Buffer[] = [];
  sock.on('data', (d: Buffer) => got.push(d)); // starts the stream: it was handed over neither paused nor flowing
  sock.end('echoed');
  await once(sock, 'end');
  assert.equal(Buffer.concat(got).toString(), 'first;echoed');
  sock.destroy();

  const missing = await unixHijack(socket, head.replace('/c/', '/missing/'));
  assert.equal(missing.socket, undefined);
  assert.equal(missing.status, 404);
  assert.equal(missing.body?.toString(), '{"message":"No such container: missing"}');
  await assert.rejects(unixHijack(join(dir, 'none.sock'), head), { code: 'ENOENT' });

  // Through the client: the same headers as node:http's hijack, and Docker's error text.
  const client = new EngineClient({ host: `unix://${socket}`, apiVersion: '1.47' });
  const conn = await client.containerAttach('c', { stdout: true });
  assert.equal(conn.upgraded, true);
  const req = seen.at(-1)!;
  assert.equal(req.url, '/v1.47/containers/c/attach?stream=1&stdout=1');
  assert.equal(req.headers.upgrade, 'tcp');
  assert.equal(req.headers['user-agent'], 'wharf-cli');
  const out: Buffer[] = [];
  conn.socket.on('data', (d: Buffer) => out.push(d));
  conn.closeWrite();
  await once(conn.socket, 'end');
  assert.equal(Buffer.concat(out).toString(), 'first;');
  conn.close();
  await assert.rejects(client.containerAttach('missing', { stdout: true }), (e: unknown) => e instanceof ApiError && e.statusCode === 404 && e.message === 'No such container: missing');
});

test('containerWait over the unix socket is pending once the head is in, and settles with the body', async () => {
  const client = new EngineClient({ host: `unix://${socket}`, apiVersion: '1.47' });
  releaseWait = undefined;
  const wait = await client.containerWait('w', 'removed');
  const release = releaseWait as (() => void) | undefined;
  assert.ok(release, 'containerWait returned once the daemon had the request, before its answer ended');
  let settled = false;
  void wait.result.then(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false);
  release();
  assert.deepEqual(await wait.result, { StatusCode: 3 });
  assert.equal(seen.at(-1)!.headers.connection, 'close');
  await assert.rejects(client.containerWait('x/y'), (e: unknown) => e instanceof ApiError && e.statusCode === 409);
});
