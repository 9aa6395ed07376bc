import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, ConnectionError } from '../../../src/client/api-error.js';
import { EngineClient } from '../../../src/client/engine-client.js';
import { MalformedResponse, parseResponse, unixExchange } from '../../../src/client/unix-exchange.js';

let dir: string;
let socket: string;
let server: Server;
const seen: { method: string; url: string; headers: Record<string, unknown>; body: string; aborted: boolean }[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-unix-exchange-'));
  socket = join(dir, 's.sock');
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: '', aborted: false };
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
      } else if (req.url === '/v1.47/empty') {
        res.statusCode = 404;
        res.end();
      } else {
        res.statusCode = 409;
        res.end(JSON.stringify({ message: 'conflict here' }));
      }
    });
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

test('EngineClient: JSON requests and the ping over the unix socket, errors as before', async () => {
  const client = new EngineClient({ host: `unix://${socket}` });
  assert.equal(await client.negotiatedVersion(), '1.47');
  assert.deepEqual(await client.json('GET', '/chunked'), { a: [1, 2] });
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
