/**
 * GET /containers/{name}/attach/ws: attach over a WebSocket, as Docker serves it with
 * golang.org/x/net/websocket on the hijacked request: stdout and stderr unframed (no stdcopy
 * header, whatever the TTY), each write of the container one message, binary from API 1.28 and
 * text before; every message the client sends is stdin. A missing container is the usual JSON
 * error; a request that is no WebSocket handshake is refused with 400.
 */
import { Readable, Writable } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { invalidParameter } from '../../lib/errors.js';
import type { AttachOptions } from '../backend.js';
import { errorMessage } from '../errors.js';
import { boolValue } from '../request.js';
import type { RequestContext } from '../router.js';
import { versionAtLeast } from '../version.js';

/** x/net/websocket's default limit on one incoming message. */
const MAX_MESSAGE = 32 << 20;

/** Loaded at the first WebSocket attach: the daemon's start-up does without `ws`. */
let wss: Promise<WebSocketServer> | undefined;
const server = () => (wss ??= import('ws').then(({ WebSocketServer }) => new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE, perMessageDeflate: false })));

/** The attach query (stream, logs, stdin, stdout, stderr, detachKeys), shared with the hijacked attach. */
export function attachOptions(query: URLSearchParams): AttachOptions {
  const opts: AttachOptions = {
    stream: boolValue(query, 'stream'),
    logs: boolValue(query, 'logs'),
    stdin: boolValue(query, 'stdin'),
    stdout: boolValue(query, 'stdout'),
    stderr: boolValue(query, 'stderr'),
  };
  const detachKeys = query.get('detachKeys');
  if (detachKeys) opts.detachKeys = detachKeys;
  return opts;
}

export async function attachWebSocket(ctx: RequestContext): Promise<void> {
  const opts = attachOptions(ctx.query);
  const session = await ctx.backend.containers.attach(ctx.params.name!, opts);
  const upgrade = ctx.upgrade;
  if (!upgrade || ctx.req.headers.upgrade?.toLowerCase() !== 'websocket') throw invalidParameter('not a WebSocket handshake');
  const handshakes = await server();
  ctx.res.detachSocket(upgrade.socket as never);
  ctx.trackHijacked(upgrade.socket);
  upgrade.socket.on('error', () => {});
  // A handshake `ws` refuses (no key, another version) is answered 400 and closed by it.
  const ws = await new Promise<WebSocket | null>((resolve) => {
    upgrade.socket.once('close', () => resolve(null));
    handshakes.handleUpgrade(ctx.req, upgrade.socket, upgrade.head, resolve);
  });
  if (!ws) return;
  ws.on('error', () => ws.terminate());
  const binary = versionAtLeast(ctx.version, '1.28');
  try {
    await session.run({ stdin: opts.stdin ? inputFrom(ws) : null, stdout: outputTo(ws, binary), stderr: outputTo(ws, binary) });
  } catch (err) {
    ctx.log(`attach ${ctx.params.name}: ${errorMessage(err)}`);
  } finally {
    if (ws.readyState === ws.OPEN) ws.close(1000);
  }
}

/** The container's output as messages; each write waits until the socket took it. */
function outputTo(ws: WebSocket, binary: boolean): Writable {
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (ws.readyState !== ws.OPEN) return cb();
      ws.send(chunk, { binary }, () => cb());
    },
  });
  w.on('error', () => {});
  // The session learns that the client went away through 'close' on its writers.
  ws.once('close', () => w.destroy());
  return w;
}

/** The client's messages as stdin, read no faster than the container takes them. */
function inputFrom(ws: WebSocket): Readable {
  const r = new Readable({ read: () => ws.resume() });
  // binaryType 'nodebuffer' (ws's default): every message, text or binary, is one Buffer.
  ws.on('message', (data: Buffer) => {
    if (!r.push(data)) ws.pause();
  });
  ws.once('close', () => r.push(null));
  r.on('error', () => {});
  return r;
}
