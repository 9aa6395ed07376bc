/**
 * Typed Docker Engine API client (the library API behind the `wharf` CLI): unix or tcp transport,
 * API version negotiation as the Docker CLI does it, JSON requests, JSON progress streams and
 * hijacked (attach) connections.
 */
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type { AgentOptions as TlsAgentOptions } from 'node:https';
import { isIP, type Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import { PassThrough, Duplex as DuplexStream } from 'node:stream';
import type {
  ContainerCreateBody,
  ContainerCreateResponse,
  ContainerInspect,
  ContainerSummary,
  ContainerTop,
  EndpointSettings,
  Filters,
  ImageDeleteItem,
  ImageInspect,
  ImageSummary,
  NetworkCreateRequest,
  NetworkResource,
  ProgressMessage,
  PruneReport,
  SystemInfo,
  VersionInfo,
  WaitResponse,
} from '../api/types.js';
import { ApiError, ConnectionError } from './api-error.js';
import { parseHost, resolveHost, type ClientTls, type DaemonAddress } from './host.js';
import { unixExchange, unixHijack, type UnixResponse } from './unix-exchange.js';
import { decodeJsonStream } from './json-stream.js';

/** Highest API version this client speaks. */
export const CLIENT_MAX_API_VERSION = '1.51';
/** Used when the daemon does not announce one. */
export const FALLBACK_API_VERSION = '1.24';

export type Query = Record<string, string | number | boolean | string[] | undefined | null>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** A raw request body (tar archive...), sent as-is. */
  stream?: Readable;
  headers?: Record<string, string>;
  /** Do not prefix the path with /vX.Y. */
  unversioned?: boolean;
  /** Called once the request is written (the daemon is at work: see prepareStreams). */
  sent?: () => void;
  /** Keep the connection for the next request (unix socket exchanges only: the ping). */
  keepAlive?: boolean;
  /** Called once a 2xx answer's head is in, before its body (unix socket exchanges only). */
  onHead?: () => void;
}

export interface PingResult {
  apiVersion: string | undefined;
  osType: string | undefined;
  experimental: boolean;
}

export interface ClientOptions {
  /** -H value; falls back to WHARF_HOST, DOCKER_HOST, unix:///run/wharf.sock. */
  host?: string;
  /** Pin the API version (skips negotiation), like DOCKER_API_VERSION. */
  apiVersion?: string;
  /** TLS for tcp:// hosts (see resolveClientTls). */
  tls?: ClientTls;
}

export interface AttachOptions {
  stream?: boolean;
  logs?: boolean;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  detachKeys?: string;
}

export interface LogsOptions {
  follow?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  since?: string;
  until?: string;
  timestamps?: boolean;
  tail?: string;
  details?: boolean;
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export interface PendingWait {
  /** Settles with the wait result once the condition is met. */
  result: Promise<WaitResponse>;
}

/** Hijacked connection: read the container's output from it, write stdin to it. */
export interface HijackedConnection {
  socket: Duplex;
  /** True when the daemon answered 101 (the connection is a raw socket). */
  upgraded: boolean;
  /** Half-closes the write side (stdin EOF) while output keeps flowing. */
  closeWrite(): void;
  close(): void;
}

export function compareApiVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function encodeQuery(query: Query | undefined): string {
  if (!query) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null) continue;
    const values = Array.isArray(v) ? v : [typeof v === 'boolean' ? (v ? '1' : '0') : String(v)];
    for (const item of values) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(item)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

function filtersParam(filters: Filters | undefined): string | undefined {
  if (!filters || Object.keys(filters).length === 0) return undefined;
  // Docker's wire form: {"key":{"value":true}}
  const wire: Record<string, Record<string, boolean>> = {};
  for (const [k, vs] of Object.entries(filters)) {
    wire[k] = {};
    for (const v of vs) wire[k][v] = true;
  }
  return JSON.stringify(wire);
}

async function readBody(res: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function errorFromBody(status: number, body: Buffer, reason: string | undefined): ApiError {
  const text = body.toString('utf8').trim();
  let message = text;
  try {
    const parsed = JSON.parse(text) as { message?: string };
    if (parsed && typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // not JSON: Docker shows the raw text
  }
  if (!message) message = `${status} ${reason ?? ''}`.trim();
  return new ApiError(status, message);
}

/** Errors that mean the daemon was not reached (or the TLS handshake with it failed). */
function isConnectError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  return (
    ['ENOENT', 'ECONNREFUSED', 'EACCES', 'EPERM', 'ENOTSOCK', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPROTO', 'ECONNRESET'].includes(code) ||
    /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_)/.test(code)
  );
}

/**
 * TLS options for a tcp:// daemon. The certificate is checked against the address's host (the
 * requests' Host header is `docker`), and SNI carries the name only for host names.
 */
function tlsRequestOptions(host: string, tls: ClientTls, nodeTls: typeof import('node:tls')): TlsAgentOptions {
  return {
    ca: tls.ca ?? (tls.verify ? defaultCas(nodeTls.rootCertificates) : undefined),
    cert: tls.cert,
    key: tls.key,
    rejectUnauthorized: tls.verify,
    minVersion: 'TLSv1.2',
    servername: isIP(host) ? '' : host,
    checkServerIdentity: (_name, cert) => nodeTls.checkServerIdentity(host, cert),
  };
}

/**
 * What a daemon is verified against without a CA of its own: node's roots and the certificates
 * of NODE_EXTRA_CA_CERTS. bin/wharf.cjs keeps that variable out of node's start (node parses the
 * file at every start, 30 ms and more) and puts it back in the environment, so it is read here,
 * only for a connection that needs it. Unreadable, it is ignored, as node ignores it.
 */
function defaultCas(roots: readonly string[]): string[] | undefined {
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (!extra) return undefined;
  try {
    return [...roots, readFileSync(extra, 'latin1')];
  } catch {
    return undefined;
  }
}

/** containerWait's mark for an answer's head read before its body. */
const HEAD_IN = Symbol('head in');

/**
 * The request line and headers as unix-exchange.ts sends them; undefined for anything node:http
 * would refuse or escape (control characters, non-ASCII): those take node:http's path.
 */
function rawHead(method: string, fullPath: string, headers: Record<string, string>): string | undefined {
  const entries = Object.entries(headers);
  if (!/^[\x21-\x7e]+$/.test(fullPath) || entries.some(([k, v]) => !/^[!#-'*+.0-9A-Z^-z|~-]+$/.test(k) || !/^[\x20-\x7e]*$/.test(v))) return undefined;
  return [`${method} ${fullPath} HTTP/1.1`, ...entries.map(([k, v]) => `${k}: ${v}`)].join('\r\n');
}

type Send = (options: http.RequestOptions, onResponse?: (res: http.IncomingMessage) => void) => http.ClientRequest;


export class EngineClient {
  readonly host: string;
  private readonly address: DaemonAddress;
  /** The keep-alive agent: made at once for http, with the transport for TLS. */
  private agent: http.Agent | undefined;
  /** TLS for tcp:// when TLS is on (dockerd never serves TLS on its unix socket). */
  private readonly tls: { host: string; tls: ClientTls } | undefined;
  private transport: Promise<Send> | undefined;
  private apiVersion: string | undefined;
  private negotiation: Promise<string> | undefined;
  /** The ping's connection, kept for the next request (as the Docker CLI sends both on one). */
  private idle: Socket | undefined;

  constructor(opts: ClientOptions = {}) {
    this.host = resolveHost(opts.host, process.env, opts.tls !== undefined);
    this.address = parseHost(this.host);
    this.tls = opts.tls && this.address.kind === 'tcp' ? { host: this.address.host, tls: opts.tls } : undefined;
    this.apiVersion = opts.apiVersion;
  }

  /**
   * http.request, or https.request for TLS, loaded at the first request that needs them (node:http
   * only for streamed bodies on a unix socket, see exchange() and hijack(); node:https and node:tls cost
   * about 8 ms of a CLI start).
   */
  private sender(): Promise<Send> {
    const t = this.tls;
    this.transport ??= t
      ? Promise.all([import('node:https'), import('node:tls')]).then(([https, nodeTls]) => {
          const options = tlsRequestOptions(t.host, t.tls, nodeTls);
          this.agent = new https.Agent({ keepAlive: true, ...options });
          return (o, onResponse) => https.request({ ...o, ...options }, onResponse);
        })
      : import('node:http').then((h) => {
          this.agent = new h.Agent({ keepAlive: true });
          return (o, onResponse) => h.request(o, onResponse);
        });
    return this.transport;
  }

  /**
   * Starts loading what streams and hijacks need (node:http, or node:https and node:tls), for a
   * caller that will need them and waits on the daemon meanwhile: `run` does while the container is
   * created, which takes the load off the path from create to start.
   */
  prepareStreams(): void {
    // On a unix socket attach and wait need no node:http (unixHijack, exchange).
    if (this.address.kind !== 'unix') this.sender().catch(() => undefined);
  }

  /** The URL Go's client would show in a connection error (`Get "http://%2Frun%2Fwharf.sock/v1.51/version"`). */
  private connectError(method: string, path: string, err: unknown): ConnectionError {
    const a = this.address;
    const base = a.kind === 'unix' ? `http://${encodeURIComponent(a.socketPath)}` : `${this.tls ? 'https' : 'http'}://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
    const verb = method.charAt(0) + method.slice(1).toLowerCase();
    return new ConnectionError(this.host, err, { request: `${verb} "${base}${path}"`, socketPath: a.kind === 'unix' ? a.socketPath : undefined });
  }

  /** Closes idle keep-alive connections so the process can exit promptly. */
  close(): void {
    this.agent?.destroy();
    this.idle?.destroy();
    this.idle = undefined;
  }

  // ---- transport ----

  private baseOptions(method: string, path: string, headers: Record<string, string>): http.RequestOptions {
    const common = { method, path, headers: { Host: 'docker', 'User-Agent': 'wharf-cli', ...headers } };
    // servername (a TLS name, meaningless on a unix socket) keeps node's agent from testing the
    // host with its IPv6 regex, whose first use costs ~10 ms of CLI start-up.
    if (this.address.kind === 'unix') return { ...common, socketPath: this.address.socketPath, servername: '' } as http.RequestOptions;
    return { ...common, host: this.address.host, port: this.address.port };
  }

  /** The negotiated version: min(daemon's Api-Version, client max). */
  async negotiatedVersion(): Promise<string> {
    if (this.apiVersion) return this.apiVersion;
    this.negotiation ??= this.ping()
      .then((p) => {
        const server = p.apiVersion ?? FALLBACK_API_VERSION;
        this.apiVersion = compareApiVersions(server, CLIENT_MAX_API_VERSION) < 0 ? server : CLIENT_MAX_API_VERSION;
        return this.apiVersion;
      })
      .catch((err) => {
        this.negotiation = undefined;
        throw err;
      });
    return this.negotiation;
  }

  private async fullPath(path: string, opts: RequestOptions): Promise<string> {
    const q = encodeQuery(opts.query);
    if (opts.unversioned) return path + q;
    return `/v${await this.negotiatedVersion()}${path}${q}`;
  }

  /** Sends a request; resolves with the response once headers arrive. Non-2xx become ApiError. */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<http.IncomingMessage> {
    const fullPath = await this.fullPath(path, opts);
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    let payload: Buffer | undefined;
    if (opts.body !== undefined) {
      payload = Buffer.from(JSON.stringify(opts.body));
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(payload.length);
    } else if (opts.stream) {
      headers['Content-Type'] ??= 'application/x-tar';
    } else if (method === 'POST' || method === 'PUT') {
      headers['Content-Length'] = '0';
    }
    const send = await this.sender();
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = send({ ...this.baseOptions(method, fullPath, headers), agent: this.agent }, resolve);
      req.on('error', (err) => reject(isConnectError(err) ? this.connectError(method, fullPath, err) : err));
      if (opts.stream) {
        opts.stream.on('error', (err) => req.destroy(err));
        opts.stream.pipe(req);
      } else {
        req.end(payload);
      }
      if (opts.sent) req.once('finish', opts.sent);
    });
    const status = res.statusCode ?? 0;
    if (status >= 400) throw errorFromBody(status, await readBody(res), res.statusMessage);
    return res;
  }

  /**
   * A request with no stream to a daemon on a unix socket, sent and answered whole through
   * unix-exchange.ts (no node:http); undefined when it has to go through request().
   */
  private async exchange(method: string, path: string, opts: RequestOptions): Promise<UnixResponse | undefined> {
    if (this.address.kind !== 'unix' || opts.stream) return undefined;
    const fullPath = await this.fullPath(path, opts);
    const headers: Record<string, string> = { Host: 'docker', 'User-Agent': 'wharf-cli', ...(opts.headers ?? {}) };
    let payload: Buffer | undefined;
    if (opts.body !== undefined) {
      payload = Buffer.from(JSON.stringify(opts.body));
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(payload.length);
    } else if (method === 'POST' || method === 'PUT') {
      headers['Content-Length'] = '0';
    }
    const head = rawHead(method, fullPath, headers);
    if (head === undefined) return undefined;
    let res: UnixResponse;
    const via = this.idle;
    this.idle = undefined;
    try {
      res = await unixExchange(this.address.socketPath, method, head, payload, { sent: opts.sent, keepAlive: opts.keepAlive, via, onHead: opts.onHead });
      if (res.idle) {
        const older = this.idle as Socket | undefined;
        this.idle = res.idle;
        older?.destroy();
      }
    } catch (err) {
      throw isConnectError(err) ? this.connectError(method, fullPath, err) : err;
    }
    if (res.status >= 400) throw errorFromBody(res.status, res.body, res.reason);
    return res;
  }

  /** A request whose JSON body is returned (undefined for empty bodies). */
  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const body = (await this.exchange(method, path, opts))?.body ?? (await readBody(await this.request(method, path, opts)));
    if (body.length === 0) return undefined as T;
    return JSON.parse(body.toString('utf8')) as T;
  }

  /** A request answered with a JSON-lines stream (pull, import, load). Errors in-stream are yielded as they come. */
  async jsonStream(method: string, path: string, opts: RequestOptions = {}): Promise<AsyncGenerator<ProgressMessage>> {
    const res = await this.request(method, path, opts);
    return decodeJsonStream<ProgressMessage>(res);
  }

  /**
   * Hijacks a connection (attach/exec start): `Connection: Upgrade`, `Upgrade: tcp`, expects 101;
   * a plain 200 answer is accepted too (then the response body is the output).
   */
  async hijack(path: string, opts: RequestOptions = {}): Promise<HijackedConnection> {
    const fullPath = await this.fullPath(path, opts);
    // exec start sends its options as a JSON body on the hijacked request.
    const payload = opts.body !== undefined ? Buffer.from(JSON.stringify(opts.body)) : undefined;
    const headers: Record<string, string> = {
      Connection: 'Upgrade',
      Upgrade: 'tcp',
      'Content-Type': payload ? 'application/json' : 'text/plain',
      'Content-Length': String(payload?.length ?? 0),
      ...(opts.headers ?? {}),
    };
    const head = this.address.kind === 'unix' ? rawHead('POST', fullPath, { Host: 'docker', 'User-Agent': 'wharf-cli', ...headers }) : undefined;
    if (this.address.kind === 'unix' && head !== undefined) {
      const answer = await unixHijack(this.address.socketPath, head, payload).catch((err: unknown) => {
        throw isConnectError(err) ? this.connectError('POST', fullPath, err) : err;
      });
      const socket = answer.socket;
      if (!socket) throw errorFromBody(answer.status, answer.body ?? Buffer.alloc(0), answer.reason);
      return { socket, upgraded: answer.status === 101, closeWrite: () => socket.end(), close: () => socket.destroy() };
    }
    const send = await this.sender();
    return new Promise<HijackedConnection>((resolve, reject) => {
      const req = send({ ...this.baseOptions('POST', fullPath, headers), agent: false });
      req.on('error', (err) => reject(isConnectError(err) ? this.connectError('POST', fullPath, err) : err));
      req.on('upgrade', (_res, socket, head) => {
        if (head && head.length > 0) socket.unshift(head);
        resolve({
          socket,
          upgraded: true,
          closeWrite: () => socket.end(),
          close: () => socket.destroy(),
        });
      });
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 400) {
          readBody(res).then((b) => reject(errorFromBody(status, b, res.statusMessage)), reject);
          return;
        }
        // Fallback: the body carries the output; stdin goes straight to the socket.
        const sock = res.socket;
        const duplex = DuplexStream.from({ readable: res, writable: sock ?? new PassThrough() });
        resolve({
          socket: duplex,
          upgraded: false,
          closeWrite: () => sock?.end(),
          close: () => {
            res.destroy();
            sock?.destroy();
          },
        });
      });
      req.end(payload);
    });
  }

  // ---- system ----

  async ping(): Promise<PingResult> {
    let h: Record<string, string | string[] | undefined>;
    const whole = await this.exchange('GET', '/_ping', { unversioned: true, keepAlive: true });
    if (whole) h = whole.headers;
    else {
      const res = await this.request('GET', '/_ping', { unversioned: true });
      await readBody(res);
      h = res.headers;
    }
    return {
      apiVersion: typeof h['api-version'] === 'string' ? h['api-version'] : undefined,
      osType: typeof h['ostype'] === 'string' ? h['ostype'] : undefined,
      experimental: h['docker-experimental'] === 'true',
    };
  }

  version(): Promise<VersionInfo> {
    return this.json('GET', '/version');
  }

  info(): Promise<SystemInfo> {
    return this.json('GET', '/info');
  }

  // ---- containers ----

  containerCreate(
    body: ContainerCreateBody,
    opts: { name?: string; platform?: string; sent?: () => void } = {},
  ): Promise<ContainerCreateResponse> {
    return this.json('POST', '/containers/create', {
      query: { name: opts.name || undefined, platform: opts.platform || undefined },
      body,
      sent: opts.sent,
    });
  }

  async containerStart(id: string, opts: { detachKeys?: string } = {}): Promise<void> {
    await this.json('POST', `/containers/${encodeURIComponent(id)}/start`, {
      query: { detachKeys: opts.detachKeys || undefined },
    });
  }

  containerAttach(id: string, opts: AttachOptions): Promise<HijackedConnection> {
    return this.hijack(`/containers/${encodeURIComponent(id)}/attach`, {
      query: {
        stream: opts.stream ?? true,
        logs: opts.logs || undefined,
        stdin: opts.stdin || undefined,
        stdout: opts.stdout || undefined,
        stderr: opts.stderr || undefined,
        detachKeys: opts.detachKeys || undefined,
      },
    });
  }

  /**
   * Registers a wait: resolves once the daemon has answered the request headers (the waiter is
   * registered then), so a start issued afterwards cannot be missed.
   */
  async containerWait(id: string, condition: WaitCondition = 'not-running'): Promise<PendingWait> {
    const path = `/containers/${encodeURIComponent(id)}/wait`;
    let registered!: () => void;
    const headIn = new Promise<typeof HEAD_IN>((resolve) => (registered = () => resolve(HEAD_IN)));
    // On a unix socket without node:http: pending once the head is in, the body read after.
    const exchanged = this.exchange('POST', path, { query: { condition }, onHead: registered });
    const first = await Promise.race([headIn, exchanged]);
    let body: Promise<Buffer>;
    if (first === HEAD_IN) body = exchanged.then((r) => r!.body);
    else if (first) body = Promise.resolve(first.body);
    else body = readBody(await this.request('POST', path, { query: { condition } })); // resolves at the head, as above
    const result = body.then((b) => {
      const text = b.toString('utf8').trim();
      if (!text) throw new ApiError(500, 'wait: empty response from daemon');
      return JSON.parse(text) as WaitResponse;
    });
    result.catch(() => undefined);
    return { result };
  }

  async containerLogs(id: string, opts: LogsOptions): Promise<Readable> {
    return this.request('GET', `/containers/${encodeURIComponent(id)}/logs`, {
      query: {
        stdout: opts.stdout ?? true,
        stderr: opts.stderr ?? true,
        follow: opts.follow || undefined,
        since: opts.since || undefined,
        until: opts.until || undefined,
        timestamps: opts.timestamps || undefined,
        tail: opts.tail || undefined,
        details: opts.details || undefined,
      },
    });
  }

  containerList(opts: { all?: boolean; limit?: number; size?: boolean; filters?: Filters } = {}): Promise<ContainerSummary[]> {
    return this.json('GET', '/containers/json', {
      query: {
        all: opts.all || undefined,
        limit: opts.limit && opts.limit > 0 ? opts.limit : undefined,
        size: opts.size || undefined,
        filters: filtersParam(opts.filters),
      },
    });
  }

  containerInspect(id: string, opts: { size?: boolean } = {}): Promise<ContainerInspect> {
    return this.json('GET', `/containers/${encodeURIComponent(id)}/json`, { query: { size: opts.size || undefined } });
  }

  async containerStop(id: string, opts: { signal?: string; timeout?: number } = {}): Promise<void> {
    await this.json('POST', `/containers/${encodeURIComponent(id)}/stop`, {
      query: { signal: opts.signal || undefined, t: opts.timeout },
    });
  }

  async containerRestart(id: string, opts: { signal?: string; timeout?: number } = {}): Promise<void> {
    await this.json('POST', `/containers/${encodeURIComponent(id)}/restart`, {
      query: { signal: opts.signal || undefined, t: opts.timeout },
    });
  }

  async containerKill(id: string, signal?: string): Promise<void> {
    await this.json('POST', `/containers/${encodeURIComponent(id)}/kill`, { query: { signal: signal || undefined } });
  }

  async containerRemove(id: string, opts: { force?: boolean; volumes?: boolean; link?: boolean } = {}): Promise<void> {
    await this.json('DELETE', `/containers/${encodeURIComponent(id)}`, {
      query: { force: opts.force || undefined, v: opts.volumes || undefined, link: opts.link || undefined },
    });
  }

  async containerRename(id: string, newName: string): Promise<void> {
    await this.json('POST', `/containers/${encodeURIComponent(id)}/rename`, { query: { name: newName } });
  }

  containerPrune(filters?: Filters): Promise<PruneReport> {
    return this.json('POST', '/containers/prune', { query: { filters: filtersParam(filters) } });
  }

  containerTop(id: string, psArgs?: string): Promise<ContainerTop> {
    return this.json('GET', `/containers/${encodeURIComponent(id)}/top`, { query: { ps_args: psArgs || undefined } });
  }

  async containerResize(id: string, height: number, width: number): Promise<void> {
    await this.json('POST', `/containers/${encodeURIComponent(id)}/resize`, { query: { h: height, w: width } });
  }

  // ---- exec ----

  execCreate(container: string, body: import('../api/types.js').ExecCreateRequest): Promise<{ Id: string }> {
    return this.json('POST', `/containers/${encodeURIComponent(container)}/exec`, { body });
  }

  /** Detached start: returns once the process runs. */
  async execStartDetached(id: string, body: { Tty?: boolean; ConsoleSize?: [number, number] } = {}): Promise<void> {
    await this.json('POST', `/exec/${encodeURIComponent(id)}/start`, { body: { ...body, Detach: true } });
  }

  /** Attached start: the hijacked connection carries the process's stdio. */
  execAttach(id: string, body: { Tty?: boolean; ConsoleSize?: [number, number] } = {}): Promise<HijackedConnection> {
    return this.hijack(`/exec/${encodeURIComponent(id)}/start`, { body: { ...body, Detach: false } });
  }

  execInspect(id: string): Promise<import('../api/types.js').ExecInspect> {
    return this.json('GET', `/exec/${encodeURIComponent(id)}/json`);
  }

  async execResize(id: string, height: number, width: number): Promise<void> {
    await this.json('POST', `/exec/${encodeURIComponent(id)}/resize`, { query: { h: height, w: width } });
  }

  // ---- images ----

  imageList(opts: { all?: boolean; filters?: Filters; digests?: boolean } = {}): Promise<ImageSummary[]> {
    return this.json('GET', '/images/json', {
      query: { all: opts.all || undefined, filters: filtersParam(opts.filters), digests: opts.digests || undefined },
    });
  }

  imageInspect(ref: string): Promise<ImageInspect> {
    return this.json('GET', `/images/${encodeURIComponent(ref)}/json`);
  }

  imageRemove(ref: string, opts: { force?: boolean; noprune?: boolean } = {}): Promise<ImageDeleteItem[]> {
    return this.json('DELETE', `/images/${encodeURIComponent(ref)}`, {
      query: { force: opts.force || undefined, noprune: opts.noprune || undefined },
    });
  }

  async imageTag(source: string, repo: string, tag?: string): Promise<void> {
    await this.json('POST', `/images/${encodeURIComponent(source)}/tag`, { query: { repo, tag: tag || undefined } });
  }

  /** POST /images/create?fromImage=&tag= ; `auth` is the base64url X-Registry-Auth value. */
  imagePull(
    fromImage: string,
    opts: { tag?: string; platform?: string; auth?: string } = {},
  ): Promise<AsyncGenerator<ProgressMessage>> {
    return this.jsonStream('POST', '/images/create', {
      query: { fromImage, tag: opts.tag || undefined, platform: opts.platform || undefined },
      headers: { 'X-Registry-Auth': opts.auth ?? 'e30=' },
    });
  }

  /** POST /images/create: `source` is the tarball (fromSrc=-) or an http(s) URL the daemon fetches. */
  imageImport(
    source: Readable | string,
    opts: { repo?: string; tag?: string; changes?: string[]; message?: string; platform?: string } = {},
  ): Promise<AsyncGenerator<ProgressMessage>> {
    return this.jsonStream('POST', '/images/create', {
      query: {
        fromSrc: typeof source === 'string' ? source : '-',
        repo: opts.repo || undefined,
        tag: opts.tag || undefined,
        changes: opts.changes && opts.changes.length ? opts.changes : undefined,
        message: opts.message || undefined,
        platform: opts.platform || undefined,
      },
      ...(typeof source === 'string' ? {} : { stream: source }),
    });
  }

  imageLoad(source: Readable, opts: { quiet?: boolean } = {}): Promise<AsyncGenerator<ProgressMessage>> {
    return this.jsonStream('POST', '/images/load', { query: { quiet: opts.quiet || undefined }, stream: source });
  }

  /** GET /images/get?names=… : a docker-archive tar stream. */
  imageSave(names: string[]): Promise<Readable> {
    return this.request('GET', '/images/get', { query: { names } });
  }

  // ---- networks ----

  networkList(opts: { filters?: Filters } = {}): Promise<NetworkResource[]> {
    return this.json('GET', '/networks', { query: { filters: filtersParam(opts.filters) } });
  }

  networkInspect(ref: string, opts: { verbose?: boolean; scope?: string } = {}): Promise<NetworkResource> {
    return this.json('GET', `/networks/${encodeURIComponent(ref)}`, {
      query: { verbose: opts.verbose || undefined, scope: opts.scope || undefined },
    });
  }

  networkCreate(body: NetworkCreateRequest): Promise<{ Id: string; Warning?: string }> {
    return this.json('POST', '/networks/create', { body });
  }

  async networkRemove(ref: string): Promise<void> {
    await this.json('DELETE', `/networks/${encodeURIComponent(ref)}`);
  }

  async networkConnect(ref: string, container: string, endpointConfig?: EndpointSettings): Promise<void> {
    await this.json('POST', `/networks/${encodeURIComponent(ref)}/connect`, { body: { Container: container, EndpointConfig: endpointConfig } });
  }

  async networkDisconnect(ref: string, container: string, force = false): Promise<void> {
    await this.json('POST', `/networks/${encodeURIComponent(ref)}/disconnect`, { body: { Container: container, Force: force } });
  }

  networkPrune(filters?: Filters): Promise<{ NetworksDeleted: string[] | null }> {
    return this.json('POST', '/networks/prune', { query: { filters: filtersParam(filters) } });
  }

  // ---- volumes ----

  volumeList(filters?: Filters): Promise<import('../api/types.js').VolumeListResponse> {
    return this.json('GET', '/volumes', { query: { filters: filtersParam(filters) } });
  }

  volumeCreate(body: import('../api/types.js').VolumeCreateRequest): Promise<import('../api/types.js').Volume> {
    return this.json('POST', '/volumes/create', { body });
  }

  volumeInspect(name: string): Promise<import('../api/types.js').Volume> {
    return this.json('GET', `/volumes/${encodeURIComponent(name)}`);
  }

  async volumeRemove(name: string, force = false): Promise<void> {
    await this.json('DELETE', `/volumes/${encodeURIComponent(name)}`, { query: { force: force ? '1' : undefined } });
  }

  volumePrune(filters?: Filters): Promise<import('../api/types.js').VolumePruneReport> {
    return this.json('POST', '/volumes/prune', { query: { filters: filtersParam(filters) } });
  }
}
