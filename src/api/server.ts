/**
 * The API server: listens on unix sockets and TCP addresses (`-H`), hands every request,
 * upgraded or not, to the router.
 */
import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { Server as TlsServer, type TLSSocket } from 'node:tls';
import { chmod, chown, lstat, mkdir, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Backend } from './backend.js';
import { Router } from './router.js';
import { containerRoutes } from './routes/containers.js';
import { imageRoutes } from './routes/images.js';
import { networkRoutes } from './routes/networks.js';
import { volumeRoutes } from './routes/volumes.js';
import { systemRoutes } from './routes/system.js';
import { eventRoutes } from './routes/events.js';
import { statsRoutes } from './routes/stats.js';
import { execRoutes } from './routes/exec.js';
import { containerFileRoutes } from './routes/container-files.js';
import { swarmRoutes } from './routes/swarm.js';
import { checkpointRoutes } from './routes/checkpoints.js';
import { pluginRoutes } from './routes/plugins.js';
import { activatedFds, fdsFor } from './socket-activation.js';
import { ConnectionPool, cachedOpenFileLimit, connectionCap } from './connections.js';
import { lingerWhileBodyPending } from './linger-close.js';
import { buildRoutes } from './routes/build.js';
import { buildkitRoutes } from './routes/buildkit.js';

export const DEFAULT_UNIX_SOCKET = '/run/wharf.sock';
export const DEFAULT_HOST = `unix://${DEFAULT_UNIX_SOCKET}`;
export const DEFAULT_TCP_PORT = 2375;
export const SOCKET_GROUP = 'wharf';

export type ListenAddress =
  | { kind: 'unix'; path: string }
  | { kind: 'tcp'; host: string; port: number }
  /** A socket systemd passed (socket activation): `fd://` or `fd://N`. */
  | { kind: 'fd'; fd: number };

/** The listen addresses of the `-H` values; `fd://[N]` expands to the activated sockets it names. */
export function listenAddresses(hosts: string[]): ListenAddress[] {
  return hosts.flatMap((h) => (h.startsWith('fd://') ? fdsFor(h.slice('fd://'.length), activatedFds()).map((fd) => ({ kind: 'fd' as const, fd })) : [parseHost(h)]));
}

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
  checkpointRoutes(router);
  systemRoutes(router);
  containerRoutes(router);
  imageRoutes(router);
  networkRoutes(router);
  volumeRoutes(router);
  eventRoutes(router);
  statsRoutes(router);
  execRoutes(router);
  containerFileRoutes(router);
  swarmRoutes(router);
  pluginRoutes(router);
  buildRoutes(router);
  buildkitRoutes(router);
  return router;
}

async function removeStaleSocket(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  if (!st.isSocket()) throw new Error(`cannot listen on ${path}: it exists and is not a socket`);
  await unlink(path);
}

/** TLS for the TCP listeners (dockerd never puts TLS on its unix sockets). */
export interface ApiTls {
  cert: Buffer;
  key: Buffer;
  /** The only CA client certificates may chain to (required when verifyClients). */
  ca?: Buffer;
  /** --tlsverify: a client without a certificate signed by `ca` is refused in the handshake. */
  verifyClients: boolean;
}

/** dockerd's (go-connections) server suites: ECDHE with AES-GCM, ChaCha20 and AES-CBC-SHA; TLS 1.2 minimum. */
const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-SHA',
  'ECDHE-ECDSA-AES128-SHA',
  'ECDHE-RSA-AES256-SHA',
  'ECDHE-RSA-AES128-SHA',
].join(':');

/** What Go's TLS server answers a plain HTTP request with (the Docker CLI shows it). */
const PLAIN_HTTP_ON_TLS = 'HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n';
const TLS_HANDSHAKE_RECORD = 0x16;

/** Until a complete request head arrives (dockerd: ReadHeaderTimeout 5 min; wharfd is stricter). */
const FIRST_REQUEST_TIMEOUT_MS = 60_000;
/** Longer than clients' idle timeout (Go's transport: 90 s) so the client closes first. */
const KEEP_ALIVE_TIMEOUT_MS = 120_000;

function listen(server: NetServer, addr: ListenAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if (addr.kind === 'unix') server.listen(addr.path, done);
    else if (addr.kind === 'fd') server.listen({ fd: addr.fd }, done);
    else server.listen(addr.port, addr.host, done);
  });
}

function addressName(addr: ListenAddress): string {
  if (addr.kind === 'fd') return `fd://${addr.fd}`;
  return addr.kind === 'unix' ? addr.path : `${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}`;
}

/**
 * The gid for the unix sockets, as dockerd decides it: a group name or a number; when the
 * default group does not exist (or the group is empty) the daemon's own gid, with a warning for
 * the default; any other missing group is an error.
 */
export async function resolveSocketGid(group: string, log: (msg: string) => void, socketPath = DEFAULT_UNIX_SOCKET): Promise<number> {
  const gid = (await lookupGroup(group)) ?? (/^\d+$/.test(group) ? Number(group) : undefined);
  if (gid !== undefined) return gid;
  if (group !== '' && group !== SOCKET_GROUP) throw new Error(`group ${group} not found`);
  if (group !== '') log(`could not change group ${socketPath} to ${SOCKET_GROUP}: group ${group} not found`);
  return process.getgid?.() ?? 0;
}

export async function startApiServer(
  backend: Backend,
  opts: {
    hosts: string[];
    /** Whether to log every request; asked per request, since a reload (SIGHUP) may change it. */
    debug?: () => boolean;
    log?: (msg: string) => void;
    /** Settles once the containers are restored: until then only /_ping and /version answer, the rest wait. */
    ready?: Promise<unknown>;
    /** Group of the unix sockets (resolveSocketGid); the default group's when unset. */
    socketGid?: number;
    tls?: ApiTls;
    fdLimit?: number;
    /** Called whenever a request has been answered or a hijacked connection has closed. */
    onRequestEnd?: () => void;
  },
): Promise<{ close(): Promise<void> }> {
  const log = opts.log ?? (() => {});
  const router = buildRouter();
  const hijacked = new Set<Duplex>();
  const requestEnded = opts.onRequestEnd ?? (() => {});
  const trackHijacked = (socket: Duplex) => {
    hijacked.add(socket);
    socket.once('close', () => {
      hijacked.delete(socket);
      requestEnded();
    });
  };
  const isDebug = opts.debug ?? (() => false);
  const trace = (req: IncomingMessage) => {
    if (isDebug()) log(`Calling ${req.method} ${req.url}`);
  };

  let restoring: Promise<void> | undefined = opts.ready?.then(
    () => void (restoring = undefined),
    () => void (restoring = undefined),
  );
  /** Runs `dispatch` now, or after restore for requests that depend on the containers' state. */
  const whenReady = (req: IncomingMessage, dispatch: () => void) => {
    if (restoring && !/^(?:\/v[\d.]+)?\/(?:_ping|version)(?:\?|$)/.test(req.url ?? '')) void restoring.then(dispatch);
    else dispatch();
  };

  const addrs = listenAddresses(opts.hosts.length ? opts.hosts : [DEFAULT_HOST]);
  const fdLimit = opts.fdLimit !== undefined ? () => opts.fdLimit! : cachedOpenFileLimit();
  const cap = () => connectionCap(fdLimit(), addrs.length);
  const listeners: Array<{ server: NetServer; http: Server; pool: ConnectionPool; addr: ListenAddress }> = [];
  const closeAll = () => Promise.all(listeners.map(({ server }) => new Promise<void>((r) => server.close(() => r()))));
  try {
    for (const addr of addrs) {
      const pool = new ConnectionPool(addressName(addr), { cap, firstRequestTimeoutMs: FIRST_REQUEST_TIMEOUT_MS, idleTimeoutMs: KEEP_ALIVE_TIMEOUT_MS }, log);
      const http = createHttpServer(router, backend, pool, { trackHijacked, trace, log, whenReady, requestEnded });
      // An activated socket is known to be TCP only once listening (dockerd puts TLS on all of them;
      // wharfd, as for -H, on TCP ones only).
      let useTls = addr.kind === 'tcp' && opts.tls !== undefined;
      let acceptTls = useTls ? tlsAcceptor(opts.tls!, pool, http) : undefined;
      // The listener is a plain net server: connections are counted and bounded before HTTP (or
      // TLS) sees them, and the HTTP server gets each one ready to parse.
      // allowHalfOpen as http.Server has it: a hijacked client half-closes (no stdin) and still reads.
      const accept = (raw: Socket) => {
        if (!pool.admit(raw)) return;
        raw.on('error', () => raw.destroy());
        if (acceptTls) acceptTls(raw);
        else http.emit('connection', raw);
      };
      // A unix socket serves no one before it has its mode and group (as dockerd, which serves
      // after both): connections that came meanwhile wait for them.
      let early: Socket[] | null = addr.kind === 'unix' ? [] : null;
      const server = createNetServer({ allowHalfOpen: true, noDelay: true }, (raw) => {
        if (early) early.push(raw);
        else accept(raw);
      });
      if (addr.kind === 'unix') {
        const gid = opts.socketGid ?? (await resolveSocketGid(SOCKET_GROUP, log, addr.path));
        await mkdir(dirname(addr.path), { recursive: true });
        await removeStaleSocket(addr.path);
        await listen(server, addr);
        await chmod(addr.path, 0o660);
        await chown(addr.path, 0, gid);
        const waiting = early ?? [];
        early = null;
        for (const raw of waiting) if (!raw.destroyed) accept(raw);
      } else {
        await listen(server, addr);
        // systemd's socket unit decides an activated unix socket's owner and mode.
        if (addr.kind === 'fd' && opts.tls !== undefined && typeof server.address() === 'object') {
          useTls = true;
          acceptTls = tlsAcceptor(opts.tls, pool, http);
        }
      }
      // An accept error (EMFILE that libuv could not absorb, ...) must not end the process;
      // the listener keeps accepting.
      server.on('error', (err) => log(`API listener ${addressName(addr)}: ${(err as Error).message}`));
      log(`API listen on ${addressName(addr)}${useTls ? ` (TLS${opts.tls!.verifyClients ? ', client certificates verified' : ''})` : ''}`);
      listeners.push({ server, http, pool, addr });
    }
  } catch (err) {
    await closeAll();
    throw err;
  }

  const trimmer = setInterval(() => {
    for (const { pool } of listeners) pool.trim(cap());
  }, 1000);
  trimmer.unref();

  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        clearInterval(trimmer);
        const closed = closeAll();
        const endings = [...hijacked].map(
          (socket) =>
            new Promise<void>((resolve) => {
              if (socket.destroyed) return resolve();
              socket.once('close', () => resolve());
              socket.end();
              setTimeout(() => socket.destroy(), 1000).unref();
            }),
        );
        for (const { http } of listeners) http.closeIdleConnections();
        await Promise.all(endings);
        // Requests still in flight (wait, logs --follow, …) are cut.
        for (const { pool } of listeners) pool.destroyAll();
        await closed;
      })();
      return closing;
    },
  };
}

/** The HTTP side of one listener: requests and upgrades to the router, busy/idle to the pool. */
function createHttpServer(
  router: Router,
  backend: Backend,
  pool: ConnectionPool,
  ctx: {
    trackHijacked: (socket: Duplex) => void;
    trace?: (req: IncomingMessage) => void;
    log: (msg: string) => void;
    /** Runs a dispatch now, or once the daemon is ready for requests that need the containers. */
    whenReady: (req: IncomingMessage, dispatch: () => void) => void;
    requestEnded: () => void;
  },
): Server {
  const { trackHijacked, trace, log, whenReady, requestEnded } = ctx;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    trace?.(req);
    const socket = req.socket;
    pool.requestStarted(socket);
    lingerWhileBodyPending(req);
    res.once('close', () => {
      pool.requestEnded(socket);
      requestEnded();
    });
    whenReady(req, () => void router.dispatch({ req, res, backend, upgrade: null, trackHijacked, log }));
  };
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    trace?.(req);
    pool.hijacked(socket);
    // A response bound to the raw socket, so that routes answer errors and ordinary requests
    // the usual way; hijacking routes detach it and take the socket.
    const res = new ServerResponse(req);
    res.assignSocket(socket as never);
    res.shouldKeepAlive = false;
    res.once('finish', () => socket.end());
    socket.on('error', () => socket.destroy());
    whenReady(req, () => void router.dispatch({ req, res, backend, upgrade: { socket, head }, trackHijacked, log }));
  };
  const server = createServer({ requestTimeout: 0, requireHostHeader: false, noDelay: true }, onRequest);
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.timeout = 0;
  server.on('upgrade', onUpgrade);
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  return server;
}

/**
 * TLS on a TCP listener: a first byte that is not a TLS handshake record gets Go's plain-text
 * answer; otherwise the connection goes to a (not listening) tls.Server, which runs the
 * handshake, requires with verifyClients a certificate that chains to the CA and destroys any
 * other, and hands the established socket to the HTTP server.
 */
function tlsAcceptor(tlsOpts: ApiTls, pool: ConnectionPool, http: Server): (raw: Socket) => void {
  const server = new TlsServer({
    allowHalfOpen: true,
    cert: tlsOpts.cert,
    key: tlsOpts.key,
    ...(tlsOpts.ca ? { ca: tlsOpts.ca } : {}),
    minVersion: 'TLSv1.2',
    ciphers: TLS_CIPHERS,
    requestCert: tlsOpts.verifyClients,
    rejectUnauthorized: tlsOpts.verifyClients,
  });
  // The TLS socket belongs to the raw connection it runs on (same peer address and port).
  const pending = new Map<string, Socket>();
  const peer = (s: Socket) => `${s.remoteAddress}|${s.remotePort}`;
  server.on('secureConnection', (socket: TLSSocket) => {
    const raw = pending.get(peer(socket));
    if (raw) {
      pending.delete(peer(socket));
      pool.alias(raw, socket);
    }
    socket.on('error', () => socket.destroy());
    http.emit('connection', socket);
  });
  server.on('tlsClientError', () => {});
  return (raw) => {
    raw.once('data', (first: Buffer) => {
      raw.pause();
      if (first[0] !== TLS_HANDSHAKE_RECORD) {
        raw.end(PLAIN_HTTP_ON_TLS);
        return;
      }
      raw.unshift(first);
      const key = peer(raw);
      pending.set(key, raw);
      raw.once('close', () => {
        if (pending.get(key) === raw) pending.delete(key);
      });
      server.emit('connection', raw);
    });
  };
}
