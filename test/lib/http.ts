/**
 * HTTP helpers shared by the tests: requests on a daemon's unix socket, plain GETs to published
 * ports on the loopback, and a free TCP port. No root needed; they start nothing themselves.
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

/** A TCP port that was free a moment ago on `host` (the kernel's pick for port 0). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A UDP port that was free on 0.0.0.0 a moment ago (another process may take it: retry on EADDRINUSE). */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    sock.once('error', reject);
    sock.bind(0, '0.0.0.0', () => {
      const { port } = sock.address();
      sock.close(() => resolve(port));
    });
  });
}

export interface ApiResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as text. */
  body: string;
  raw: Buffer;
  /** From sending the request to the end of the response. */
  ms: number;
}

export interface ApiRequestOptions {
  /** A string or Buffer is sent as is, anything else as JSON; both with Content-Type application/json. */
  body?: unknown;
  headers?: Record<string, string | number>;
  timeoutMs?: number;
}

const quietSockets = new WeakSet<object>();

/** One request on a unix socket (the daemon's API), the response read whole. */
export function socketRequest(socketPath: string, method: string, path: string, opts: ApiRequestOptions = {}): Promise<ApiResponse> {
  const { body } = opts;
  const data =
    body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const headers = { ...(data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {}), ...opts.headers };
    // No timeout unless asked: node 20's global agent would otherwise end a kept-alive socket idle for 5 s.
    const req = request({ socketPath, method, path, headers, timeout: opts.timeoutMs ?? 0 }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(parts);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: raw.toString(), raw, ms: Date.now() - started });
      });
      res.on('error', reject);
      // A connection that closes mid-body (the daemon killed) may end the answer with neither.
      res.on('close', () => {
        if (!res.complete) reject(new Error(`${method} ${path}: the connection closed before the answer ended`));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${opts.timeoutMs} ms`)));
    req.on('error', reject);
    // The daemon may answer (e.g. 400 for a huge body) and close while the body is still being
    // written: the socket's late EPIPE comes after the answer and means nothing here.
    req.on('socket', (socket) => {
      // Node's global agent keeps sockets alive: one listener per socket, not one per request.
      if (quietSockets.has(socket)) return;
      quietSockets.add(socket);
      socket.on('error', () => {});
    });
    req.end(data);
  });
}

/** The body parsed as JSON, or undefined when it is empty or not JSON. */
export function jsonBody<T = unknown>(r: Pick<ApiResponse, 'body'>): T | undefined {
  if (!r.body) return undefined;
  try {
    return JSON.parse(r.body) as T;
  } catch {
    return undefined;
  }
}

/** A request on a unix socket whose answer is JSON: status and the parsed body. */
export async function socketJson<T = unknown>(
  socketPath: string,
  method: string,
  path: string,
  opts: ApiRequestOptions = {},
): Promise<{ status: number; json: T }> {
  const r = await socketRequest(socketPath, method, path, opts);
  return { status: r.status, json: jsonBody<T>(r) as T };
}

/** GET http://<host>:<port><path> (a published port, a test server) with a short timeout. */
export function httpGet(port: number, path = '/', host = '127.0.0.1', timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
