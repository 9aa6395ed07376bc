/**
 * GET /containers/{id}/attach/ws against a real wharfd: a WebSocket client (the `ws` package, as
 * docker-py's websocket-client would connect) sends stdin and reads the output unframed, in binary
 * messages from API 1.28 and text before; a missing container and a plain GET are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import WebSocket from 'ws';
import { jsonBody, sharedDaemon, socketRequest } from './harness.js';

const daemon = sharedDaemon();

async function create(cmd: string[], tty = false): Promise<string> {
  const r = await socketRequest(daemon().socket, 'POST', '/containers/create', {
    body: { Image: 'busybox', Cmd: cmd, OpenStdin: true, StdinOnce: true, Tty: tty, HostConfig: { NetworkMode: 'none' } },
  });
  assert.equal(r.status, 201, r.body);
  return jsonBody<{ Id: string }>(r)!.Id;
}

/** Connects, runs `whileOpen`, and collects every message until the daemon closes. */
function session(path: string, whileOpen: (ws: WebSocket) => void): Promise<{ messages: Array<{ data: string; binary: boolean }>; code: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws+unix://${daemon().socket}:${path}`);
    const messages: Array<{ data: string; binary: boolean }> = [];
    ws.on('open', () => whileOpen(ws));
    ws.on('message', (data: Buffer, binary: boolean) => messages.push({ data: data.toString(), binary }));
    ws.on('close', (code: number) => resolve({ messages, code }));
    ws.on('error', reject);
  });
}

test('attach/ws: stdin in, stdout and stderr out unframed in binary messages, closed at the exit', async () => {
  const id = await create(['sh', '-c', 'read line; echo "got:$line"; echo oops >&2']);
  const done = session(`/v1.50/containers/${id}/attach/ws?stream=1&stdin=1&stdout=1&stderr=1`, (ws) => {
    void socketRequest(daemon().socket, 'POST', `/containers/${id}/start`).then(() => ws.send('hello\n'));
  });
  const { messages, code } = await done;
  assert.equal(code, 1000);
  assert.deepEqual(messages.map((m) => m.binary), messages.map(() => true));
  const text = messages.map((m) => m.data).join('');
  // stdout and stderr arrive in either order; neither carries a stdcopy header.
  assert.deepEqual(text.split('\n').filter(Boolean).sort(), ['got:hello', 'oops']);
  const wait = await socketRequest(daemon().socket, 'POST', `/containers/${id}/wait`);
  assert.equal(jsonBody<{ StatusCode: number }>(wait)!.StatusCode, 0);
  await socketRequest(daemon().socket, 'DELETE', `/containers/${id}?force=1`);
});

test('attach/ws before API 1.28 sends text messages; logs=1 replays what was written', async () => {
  const id = await create(['echo', 'from the log']);
  assert.equal((await socketRequest(daemon().socket, 'POST', `/containers/${id}/start`)).status, 204);
  await socketRequest(daemon().socket, 'POST', `/containers/${id}/wait`);
  const { messages } = await session(`/v1.27/containers/${id}/attach/ws?logs=1&stdout=1`, () => {});
  assert.deepEqual(messages, [{ data: 'from the log\n', binary: false }]);
  await socketRequest(daemon().socket, 'DELETE', `/containers/${id}?force=1`);
});

test('attach/ws: a missing container is a 404, a request that is no handshake a 400', async () => {
  const missing = await new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(`ws+unix://${daemon().socket}:/containers/nosuch/attach/ws?stream=1`);
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => reject(new Error('opened')));
    ws.on('error', () => {});
  });
  assert.equal(missing, 404);
  const id = await create(['true']);
  const plain = await socketRequest(daemon().socket, 'GET', `/containers/${id}/attach/ws?stream=1`);
  assert.equal(plain.status, 400);
  assert.match(plain.body, /not a WebSocket handshake/);
  // An upgrade without the handshake's key: refused by the WebSocket server, the connection closed.
  const keyless = await new Promise<string>((resolve, reject) => {
    const sock = connect(daemon().socket, () => sock.write(`GET /containers/${id}/attach/ws?stream=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`));
    let got = '';
    sock.on('data', (b: Buffer) => (got += b.toString()));
    sock.on('close', () => resolve(got));
    sock.on('error', reject);
  });
  assert.match(keyless, /^HTTP\/1\.1 400 /);
  await socketRequest(daemon().socket, 'DELETE', `/containers/${id}?force=1`);
});
