/**
 * One HTTP exchange with a registry (node:http/https, keep-alive agents per TLS setting),
 * redirects followed (Authorization dropped when the host changes), and transport errors
 * worded as Go's net/http words them, because clients and users compare them with Docker's:
 *   Get "http://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused
 */
import { readFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { createSecureContext } from 'node:tls';
import { systemError } from '../lib/errors.js';
import { parseResolvConf } from '../lib/resolv-conf.js';
import type { TlsSettings } from './endpoints.js';
import { systemRoots } from './system-roots.js';

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  /** The final URL, after redirects. */
  url: URL;
}

export interface HttpRequestOptions {
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  tls?: TlsSettings | null;
  /** Follow redirects (GET/HEAD). Default true. */
  followRedirects?: boolean;
  /** Socket idle timeout. */
  timeoutMs?: number;
  /** Cancels the request, or the response body's stream once it has begun. */
  signal?: AbortSignal;
}

const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const httpsAgents = new Map<string, https.Agent>();

/**
 * What an agent's one secure context holds. The roots are the host's with the registry's certs.d
 * CAs added, as dockerd appends them to the system pool. An insecure registry's certificate is
 * not verified (dockerd's InsecureSkipVerify), so its context gets no roots at all: parsing the
 * host's bundle takes ~55 ms of the event loop, on the first pull from a local registry too.
 */
export function secureContextOptions(tls: TlsSettings | null | undefined): { verify: boolean; ca: Array<string | Buffer>; cert?: Buffer; key?: Buffer; cacheKey: string } {
  const verify = tls?.rejectUnauthorized ?? true;
  const { source, roots } = verify ? systemRoots() : { source: '', roots: [] };
  const extra = verify ? (tls?.ca ?? []) : [];
  return {
    verify,
    ca: [...roots, ...extra],
    ...(tls?.cert ? { cert: tls.cert, key: tls.key } : {}),
    cacheKey: JSON.stringify([source, verify, extra.map((c) => c.toString('base64')), tls?.cert?.toString('base64')]),
  };
}

/** One agent per TLS setting, with one secure context: given as `ca`, node would parse the whole root list again for every connection. */
function agentFor(url: URL, tls: TlsSettings | null | undefined): http.Agent {
  if (url.protocol === 'http:') return httpAgent;
  const { verify, ca, cert, key, cacheKey } = secureContextOptions(tls);
  let agent = httpsAgents.get(cacheKey);
  if (!agent) {
    const secureContext = createSecureContext({ ca, ...(cert ? { cert, key } : {}) });
    agent = new https.Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: verify, secureContext });
    httpsAgents.set(cacheKey, agent);
  }
  return agent;
}

/** Go's method spelling in url.Error: `Get`, `Head`, `Put`... */
export function goMethod(method: string): string {
  return method.charAt(0) + method.slice(1).toLowerCase();
}

function hostPortOf(url: URL): string {
  return url.port ? url.host : `${url.hostname}:${url.protocol === 'https:' ? 443 : 80}`;
}

function readResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

/**
 * ` on <nameserver>:53`, as Go's resolver names the server that answered a failed lookup (the
 * first of a resolv.conf's; nothing when it lists none).
 */
export function resolverSuffix(text: string): string {
  const ns = parseResolvConf(text).nameservers[0];
  if (!ns || !isIP(ns)) return '';
  return ` on ${ns.includes(':') ? `[${ns}]` : ns}:53`;
}

/** The Go-like text of a Node transport error. */
export function transportErrorText(err: NodeJS.ErrnoException, url: URL): string {
  const hp = hostPortOf(url);
  switch (err.code) {
    case 'ECONNREFUSED':
      return `dial tcp ${hp}: connect: connection refused`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `dial tcp: lookup ${url.hostname}${resolverSuffix(readResolvConf())}: no such host`;
    case 'ECONNRESET':
      return `read tcp ${hp}: read: connection reset by peer`;
    case 'ETIMEDOUT':
      return `dial tcp ${hp}: i/o timeout`;
    case 'EHOSTUNREACH':
      return `dial tcp ${hp}: connect: no route to host`;
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return 'tls: failed to verify certificate: x509: certificate signed by unknown authority';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `tls: failed to verify certificate: x509: certificate is valid for other names, not ${url.hostname}`;
    case 'CERT_HAS_EXPIRED':
      return 'tls: failed to verify certificate: x509: certificate has expired or is not yet valid';
    case 'EPROTO':
      return 'http: server gave HTTP response to HTTPS client';
    default:
      return err.message;
  }
}

/** A transport-level failure (no HTTP status): connection refused, reset, TLS, truncated body. */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    /** The message without Go's `Get "<url>": ` prefix. */
    readonly reason: string,
  ) {
    super(message);
  }
}

export function isTransportError(err: unknown): err is TransportError {
  return err instanceof TransportError;
}

function once(method: string, url: URL, opts: HttpRequestOptions): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    // A registry's redirect or auth realm may name any scheme (file:, unix sockets): only HTTP goes out.
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      const reason = `unsupported protocol scheme "${url.protocol.slice(0, -1)}"`;
      reject(new TransportError(`${goMethod(method)} "${url.href}": ${reason}`, 'ERR_INVALID_PROTOCOL', reason));
      return;
    }
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(url, { method, headers: opts.headers ?? {}, agent: agentFor(url, opts.tls), ...(opts.signal ? { signal: opts.signal } : {}) }, (res) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url });
    });
    req.setTimeout(opts.timeoutMs ?? 60_000, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => {
      const reason = transportErrorText(err, url);
      reject(new TransportError(`${goMethod(method)} "${url.href}": ${reason}`, err.code, reason));
    });
    const body = opts.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    }
  });
}

/** Sends a request; follows up to 10 redirects for GET/HEAD. */
export async function httpRequest(method: string, url: URL, opts: HttpRequestOptions = {}): Promise<HttpResponse> {
  let current = url;
  let headers = { ...(opts.headers ?? {}) };
  for (let hop = 0; ; hop++) {
    const res = await once(method, current, { ...opts, headers });
    const loc = res.headers.location;
    const redirect = [301, 302, 303, 307, 308].includes(res.status) && loc && (method === 'GET' || method === 'HEAD') && opts.followRedirects !== false;
    if (!redirect) return res;
    res.body.resume();
    if (hop >= 10) throw systemError(`${goMethod(method)} "${current.href}": stopped after 10 redirects`);
    const next = new URL(loc, current);
    if (next.host !== current.host) {
      // Credentials for the registry must not go to a storage backend (S3, CDN).
      const { Authorization: _a, authorization: _b, ...rest } = headers;
      headers = rest;
    }
    current = next;
  }
}

/**
 * Reads a whole (small) body: a registry's JSON (token, tag list, error), bounded so that a
 * hostile registry cannot make the daemon parse a heap's worth of JSON.
 */
export async function readBody(res: HttpResponse, limit = 8 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    n += (c as Buffer).length;
    if (n > limit) {
      res.body.destroy();
      throw systemError(`response from ${res.url.href} is too large`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
