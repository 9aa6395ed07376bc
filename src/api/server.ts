/**
 * The API server: listens on unix sockets and TCP addresses (`-H`), hands every request,
 * upgraded or not, to the router.
 */
import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import { chmod, chown, lstat, mkdir, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Backend } from './backend.js';
import { Router, type RequestContext } from './router.js';
import { containerRoutes } from './routes/containers.js';
import { imageRoutes } from './routes/images.js';
import { networkRoutes } from './routes/networks.js';
import { volumeRoutes } from './routes/volumes.js';
import { systemRoutes } from './routes/system.js';
import { eventRoutes } from './routes/events.js';
import { statsRoutes } from './routes/stats.js';
import { execRoutes } from './routes/exec.js';
import { containerFileRoutes } from './routes/container-files.js';
import { buildRoutes } from './routes/build.js';

export const DEFAULT_UNIX_SOCKET = '/run/wharf.sock';
export const DEFAULT_HOST = `unix://${DEFAULT_UNIX_SOCKET}`;
export const DEFAULT_TCP_PORT = 2375;
export const SOCKET_GROUP = 'wharf';

export type ListenAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** Parses a `-H` value: `unix:///path`, `unix://` (default socket), `tcp://host:port`, `tcp://:port`. */
export function parseHost(spec: string): ListenAddress {
  if (spec.startsWith('unix://')) {
    const path = spec.slice('unix://'.length) || DEFAULT_UNIX_SOCKET;
    return { kind: 'unix', path };
  }
  if (spec.startsWith('/')) return { kind: 'unix', path: spec };
  if (spec.startsWith('tcp://')) {
    const rest = spec.slice('tcp://'.length).replace(/\/+$/, '');
    const m = /^(?:\[([^\]]*)\]|([^:]*))(?::(\d+))?$/.exec(rest);
    if (!m) throw new Error(`invalid bind address format: ${spec}`);
    const host = m[1] ?? m[2] ?? '';
    const port = m[3] ? Number(m[3]) : DEFAULT_TCP_PORT;
    if (port > 65535) throw new Error(`invalid bind address format: ${spec}`);
    return { kind: 'tcp', host: host || '127.0.0.1', port };
  }
  throw new Error(`invalid bind address format: ${spec}`);
}

/** The gid of `name` from /etc/group, or undefined when there is no such group. */
export async function lookupGroup(name: string, groupFile = '/etc/group'): Promise<number | undefined> {
  const text = await readFile(groupFile, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [gname, , gid] = line.split(':');
    if (gname === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return undefined;
}

export function buildRouter(): Router {
  const router = new Router();
  systemRoutes(router);
  containerRoutes(router);
  imageRoutes(router);
  networkRoutes(router);
  volumeRoutes(router);
  eventRoutes(router);
  statsRoutes(router);
  execRoutes(router);
  containerFileRoutes(router);
  buildRoutes(router);
  return router;
}

async function removeStaleSocket(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  if (!st.isSocket()) throw new Error(`cannot listen on ${path}: it exists and is not a socket`);
  await unlink(path);
}

function listen(server: Server, addr: ListenAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if (addr.kind === 'unix') server.listen(addr.path, done);
    else server.listen(addr.port, addr.host, done);
  });
}

export async function startApiServer(
  backend: Backend,
  opts: { hosts: string[]; debug?: boolean; log?: (msg: string) => void },
): Promise<{ close(): Promise<void> }> {
  const log = opts.log ?? (() => {});
  const router = buildRouter();
  const hijacked = new Set<Duplex>();
  const trackHijacked = (socket: Duplex) => {
    hijacked.add(socket);
    socket.once('close', () => hijacked.delete(socket));
  };
  const trace = opts.debug ? (req: IncomingMessage) => log(`Calling ${req.method} ${req.url}`) : undefined;

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    trace?.(req);
    void router.dispatch({ req, res, backend, upgrade: null, trackHijacked, log });
  };
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    trace?.(req);
    // A response bound to the raw socket, so that routes answer errors and ordinary requests
    // the usual way; hijacking routes detach it and take the socket.
    const res = new ServerResponse(req);
    res.assignSocket(socket as never);
    res.shouldKeepAlive = false;
    res.once('finish', () => socket.end());
    socket.on('error', () => socket.destroy());
    void router.dispatch({ req, res, backend, upgrade: { socket, head }, trackHijacked, log });
  };

  const addrs = (opts.hosts.length ? opts.hosts : [DEFAULT_HOST]).map(parseHost);
  const servers: Array<{ server: Server; addr: ListenAddress }> = [];
  const gid = addrs.some((a) => a.kind === 'unix') ? await lookupGroup(SOCKET_GROUP) : undefined;
  try {
    for (const addr of addrs) {
      const server = createServer({ requestTimeout: 0, headersTimeout: 60_000, requireHostHeader: false, noDelay: true }, onRequest);
      // Longer than clients' idle timeout (Go's transport: 90 s) so the client closes first.
      server.keepAliveTimeout = 120_000;
      server.timeout = 0;
      server.on('upgrade', onUpgrade);
      server.on('clientError', (_err, socket) => {
        if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
        else socket.destroy();
      });
      if (addr.kind === 'unix') {
        await mkdir(dirname(addr.path), { recursive: true });
        await removeStaleSocket(addr.path);
        await listen(server, addr);
        await chmod(addr.path, 0o660);
        if (gid !== undefined) await chown(addr.path, 0, gid);
      } else {
        await listen(server, addr);
        if (addr.host !== '127.0.0.1' && addr.host !== 'localhost' && addr.host !== '::1') {
          log(`API listening on ${addr.host}:${addr.port} without TLS: anyone who can reach it controls the host`);
        }
      }
      servers.push({ server, addr });
    }
  } catch (err) {
    await Promise.all(servers.map(({ server }) => new Promise<void>((r) => server.close(() => r()))));
    throw err;
  }

  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        const closed = servers.map(({ server }) => new Promise<void>((r) => server.close(() => r())));
        const endings = [...hijacked].map(
          (socket) =>
            new Promise<void>((resolve) => {
              if (socket.destroyed) return resolve();
              socket.once('close', () => resolve());
              socket.end();
              setTimeout(() => socket.destroy(), 1000).unref();
            }),
        );
        for (const { server } of servers) server.closeIdleConnections();
        await Promise.all(endings);
        // Requests still in flight (wait, logs --follow, …) are cut.
        for (const { server } of servers) server.closeAllConnections();
        await Promise.all(closed);
      })();
      return closing;
    },
  };
}
