/**
 * The CRI streaming server: the Exec, Attach and PortForward RPCs store their request under a
 * single-use token and answer `http://<address>/{exec,attach,portforward}/<token>`; the client
 * then connects there and upgrades to SPDY/3.1 (`X-Stream-Protocol-Version` negotiation) or to a
 * WebSocket (`Sec-WebSocket-Protocol`), and the session runs through the StreamingRuntime.
 *
 * It listens on 127.0.0.1 with an ephemeral port unless told otherwise. A hostile client meets
 * bounds everywhere: header and request timeouts before the upgrade, a cap on connections, frame
 * and header limits and a stream cap inside SPDY, a message cap on WebSockets, a time limit on
 * opening a session's streams, and an idle timeout after.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { invalidParameter } from '../../lib/errors.js';
import type { AttachRequest__Output } from '../gen/runtime/v1/AttachRequest.js';
import type { ExecRequest__Output } from '../gen/runtime/v1/ExecRequest.js';
import type { PortForwardRequest__Output } from '../gen/runtime/v1/PortForwardRequest.js';
import { SPDY_COMMAND_PROTOCOLS, spdyCommandChannels, type CommandChannels, type CommandOptions } from './channels.js';
import { PORT_FORWARD_PROTOCOL, servePortForward } from './portforward.js';
import { runCommand, type CommandRequest } from './remotecommand.js';
import { DEFAULT_SESSION_LIMITS, SpdySession, type SessionLimits } from './spdy-session.js';
import { TokenCache } from './tokens.js';
import type { StreamingRuntime, StreamingServer } from './types.js';
import { pickWsProtocol, wsCommandChannels } from './ws-channels.js';
import { WS_PORT_FORWARD_PROTOCOLS, serveWsPortForward, wsPortForwardPorts } from './ws-portforward.js';

export interface StreamingServerOptions {
  runtime: StreamingRuntime;
  /** `host:port` to listen on; default 127.0.0.1 with an ephemeral port. */
  address?: string;
  log: (msg: string) => void;
  limits?: Partial<StreamingLimits>;
}

export interface StreamingLimits extends SessionLimits {
  /** Connections at once (upgraded sessions and requests before their upgrade). */
  maxConnections: number;
  /** Largest WebSocket message. */
  maxWsMessage: number;
  /** Time to open a session's streams. */
  streamCreationTimeoutMs: number;
}

const DEFAULT_LIMITS: StreamingLimits = {
  ...DEFAULT_SESSION_LIMITS,
  maxConnections: 256,
  maxWsMessage: 1 << 20,
  streamCreationTimeoutMs: 30_000,
};

type Pending =
  | { kind: 'exec'; req: ExecRequest__Output }
  | { kind: 'attach'; req: AttachRequest__Output }
  | { kind: 'portforward'; req: PortForwardRequest__Output };

export interface RunningStreamingServer extends StreamingServer {
  /** The base URL the server hands out, e.g. http://127.0.0.1:41234. */
  readonly baseUrl: string;
}

export async function startStreamingServer(opts: StreamingServerOptions): Promise<RunningStreamingServer> {
  const limits: StreamingLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const tokens = new TokenCache<Pending>();
  const sockets = new Set<Socket>();
  const portForwards = new WeakSet<IncomingMessage>();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxWsMessage,
    handleProtocols: (offered, req) => (portForwards.has(req) ? ([...offered].find((p) => WS_PORT_FORWARD_PROTOCOLS.includes(p)) ?? false) : pickWsProtocol(offered)),
  });

  const server: Server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 2_000, maxHeaderSize: 16 << 10 }, (req, res) => plainRequest(req, res));
  server.maxConnections = limits.maxConnections;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    socket.destroy();
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    try {
      upgrade(req, socket, head);
    } catch (err) {
      opts.log(`cri streaming: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      refuse(socket, 500, 'Internal Server Error', 'internal error');
    }
  });

  const { host, port } = parseAddress(opts.address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const baseUrl = `http://${urlHost.includes(':') ? `[${urlHost}]` : urlHost}:${bound.port}`;
  opts.log(`CRI streaming server on ${baseUrl}`);

  /** Finds the request a path's token stands for, taking the token. */
  function take(url: string | undefined): Pending | undefined {
    const m = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]{1,64})$/.exec((url ?? '').split('?')[0]!);
    if (!m) return undefined;
    const pending = tokens.consume(m[2]!);
    return pending && pending.kind === m[1] ? pending : undefined;
  }

  function plainRequest(req: IncomingMessage, res: ServerResponse): void {
    const pending = take(req.url);
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    if (!pending) {
      res.writeHead(404).end('404 page not found\n');
      return;
    }
    res.writeHead(400).end('Upgrade request required\n');
  }

  function upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const pending = take(req.url);
    if (!pending) return refuse(socket, 404, 'Not Found', '404 page not found');
    const upgradeTo = String(req.headers.upgrade ?? '').toLowerCase();
    if (upgradeTo === 'websocket') return websocket(pending, req, socket, head);
    if (upgradeTo !== 'spdy/3.1') return refuse(socket, 400, 'Bad Request', `unsupported upgrade ${JSON.stringify(String(req.headers.upgrade ?? ''))}`);

    const offered = String(req.headersDistinct['x-stream-protocol-version']?.join(',') ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    if (offered.length === 0) return refuse(socket, 400, 'Bad Request', 'unable to upgrade: X-Stream-Protocol-Version is required');
    const supported = pending.kind === 'portforward' ? [PORT_FORWARD_PROTOCOL] : SPDY_COMMAND_PROTOCOLS;
    const protocol = offered.find((p) => supported.includes(p));
    if (!protocol) {
      const accepted = supported.map((p) => `X-Accepted-Stream-Protocol-Versions: ${p}\r\n`).join('');
      return refuse(socket, 403, 'Forbidden', `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server accepts [${supported.join(' ')}]`, accepted);
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\n\r\n`);
    const session = new SpdySession(socket, limits, head);
    session.on('protocol-error', (err: unknown) => opts.log(`cri streaming: SPDY protocol error from a client: ${err instanceof Error ? err.message : String(err)}`));
    if (pending.kind === 'portforward') {
      servePortForward(session, pending.req.pod_sandbox_id, opts.runtime, Math.floor(limits.maxStreams / 2), opts.log);
      return;
    }
    const { request, options } = commandOf(pending);
    spdyCommandChannels(session, protocol, options, limits.streamCreationTimeoutMs).then(
      (ch) => run(request, ch),
      () => session.destroy(),
    );
  }

  function websocket(pending: Pending, req: IncomingMessage, socket: Socket, head: Buffer): void {
    if (pending.kind === 'portforward') {
      const ports = wsPortForwardPorts(new URL(req.url ?? '/', 'http://x').searchParams, pending.req.port ?? []);
      if (typeof ports === 'string') return refuse(socket, 400, 'Bad Request', ports);
      portForwards.add(req);
      const sandboxId = pending.req.pod_sandbox_id;
      wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        ws.on('error', () => ws.terminate());
        serveWsPortForward(ws, sandboxId, ports, opts.runtime, opts.log);
      });
      return;
    }
    const { request, options } = commandOf(pending);
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      ws.on('error', () => ws.terminate());
      void run(request, wsCommandChannels(ws, options));
    });
  }

  async function run(request: CommandRequest, ch: CommandChannels): Promise<void> {
    try {
      await runCommand(opts.runtime, request, ch, opts.log);
    } catch (err) {
      opts.log(`cri streaming ${request.kind}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      ch.finish();
    }
  }

  function insert(p: Pending, path: string): { url: string } {
    return { url: `${baseUrl}/${path}/${tokens.insert(p)}` };
  }

  return {
    baseUrl,
    async getExec(req) {
      validateStdio(req.container_id, req);
      if (!req.cmd?.length) throw invalidParameter('missing required cmd');
      await opts.runtime.checkContainer?.(req.container_id);
      return insert({ kind: 'exec', req }, 'exec');
    },
    async getAttach(req) {
      validateStdio(req.container_id, req);
      await opts.runtime.checkContainer?.(req.container_id);
      return insert({ kind: 'attach', req }, 'attach');
    },
    async getPortForward(req) {
      if (!req.pod_sandbox_id) throw invalidParameter('missing required pod_sandbox_id');
      await opts.runtime.checkSandbox?.(req.pod_sandbox_id);
      return insert({ kind: 'portforward', req }, 'portforward');
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        for (const ws of wss.clients) ws.terminate();
      });
      wss.close();
    },
  };
}

/** kubelet's checks of an exec or attach request. */
function validateStdio(containerId: string, req: { tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }): void {
  if (!containerId) throw invalidParameter('missing required container_id');
  if (req.tty && req.stderr) throw invalidParameter('tty and stderr cannot both be true');
  if (!req.stdin && !req.stdout && !req.stderr) throw invalidParameter('one of stdin, stdout, or stderr must be set');
}

function commandOf(p: Exclude<Pending, { kind: 'portforward' }>): { request: CommandRequest; options: CommandOptions } {
  const r = p.req;
  const options = { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, tty: r.tty };
  const request: CommandRequest =
    p.kind === 'exec' ? { kind: 'exec', containerId: r.container_id, cmd: p.req.cmd, tty: r.tty } : { kind: 'attach', containerId: r.container_id, tty: r.tty };
  return { request, options };
}

function refuse(socket: Socket, code: number, reason: string, body: string, extraHeaders = ''): void {
  const text = `${body}\n`;
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${code} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n${extraHeaders}Connection: close\r\n\r\n${text}`,
    );
  }
  setTimeout(() => socket.destroy(), 2_000).unref();
}

/** `host:port`, `[v6]:port` or `:port`; default 127.0.0.1:0. */
export function parseAddress(address: string | undefined): { host: string; port: number } {
  if (!address) return { host: '127.0.0.1', port: 0 };
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw invalidParameter(`invalid cri-stream-address ${JSON.stringify(address)}: want host:port`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}
