/**
 * The registry v2 client: finds a working endpoint (ping /v2/), authenticates as the registry
 * asks (anonymous, basic, bearer tokens from the WWW-Authenticate realm — reused until they
 * expire), and retries with back-off on 5xx, 429 and cut connections.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemError } from '../lib/errors.js';
import type { Credentials } from './auth-config.js';
import { parseChallenges, type Challenge } from './challenge.js';
import { EndpointResolver, type Endpoint, type RegistryOptions } from './endpoints.js';
import { RegistryError, registryErrorOf, statusLine } from './errors.js';
import { goMethod, httpRequest, isTransportError, readBody, type HttpResponse } from './http.js';

export interface ClientOptions extends RegistryOptions {
  /** Attempts for idempotent requests on 5xx / cut connections (default 5). */
  attempts?: number;
  /** First back-off delay; doubles each attempt (default 250 ms). */
  backoffMs?: number;
  userAgent?: string;
}

export interface RepoScope {
  repo: string;
  actions: string[];
}

interface CachedToken {
  token: string;
  expires: number;
}

interface PingResult {
  endpoint: Endpoint;
  challenges: Challenge[];
  at: number;
}

const PING_TTL_MS = 5 * 60_000;
/** Docker treats shorter token lifetimes as 60 s. */
const MIN_TOKEN_SECONDS = 60;

function scopeString(s: RepoScope): string {
  return `repository:${s.repo}:${s.actions.join(',')}`;
}

export class RegistryClient {
  readonly resolver: EndpointResolver;
  readonly attempts: number;
  readonly backoffMs: number;
  readonly userAgent: string;
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pings = new Map<string, PingResult>();

  constructor(opts: ClientOptions = {}) {
    this.resolver = new EndpointResolver(opts);
    this.attempts = opts.attempts ?? 5;
    this.backoffMs = opts.backoffMs ?? 250;
    this.userAgent = opts.userAgent ?? 'wharf/0.1 (linux)';
  }

  /** Mirrors one by one (docker.io only), then the registry itself (https, then http when insecure). */
  async endpointGroups(domain: string): Promise<Endpoint[][]> {
    const all = await this.resolver.endpoints(domain);
    const groups: Endpoint[][] = all.filter((e) => e.mirror).map((e) => [e]);
    groups.push(all.filter((e) => !e.mirror));
    return groups;
  }

  /** Pings the endpoints of a group in order; the first that answers as a v2 registry wins. */
  async ping(group: Endpoint[]): Promise<PingResult> {
    const key = group.map((e) => e.base).join(' ');
    const cached = this.pings.get(key);
    if (cached && Date.now() - cached.at < PING_TTL_MS) return cached;
    let lastErr: unknown = systemError('no registry endpoint');
    for (const endpoint of group) {
      const url = new URL('/v2/', endpoint.base);
      try {
        const res = await httpRequest('GET', url, { tls: endpoint.tls, headers: { 'User-Agent': this.userAgent } });
        res.body.resume();
        if (res.status === 200 || res.status === 401) {
          const result = { endpoint, challenges: parseChallenges(res.headers['www-authenticate']), at: Date.now() };
          this.pings.set(key, result);
          return result;
        }
        lastErr = systemError(`${goMethod('GET')} "${url.href}": ${res.status === 404 ? 'not a v2 registry' : `received unexpected HTTP status: ${statusLine(res.status)}`}`);
      } catch (err) {
        lastErr = isTransportError(err) ? systemError(err.message, err) : err;
      }
    }
    throw lastErr;
  }

  forgetPing(group: Endpoint[]): void {
    this.pings.delete(group.map((e) => e.base).join(' '));
  }

  async open(group: Endpoint[], creds: Credentials | undefined, scopes: RepoScope[]): Promise<RegistrySession> {
    const ping = await this.ping(group);
    return new RegistrySession(this, ping.endpoint, ping.challenges, creds, scopes);
  }

  // ---- tokens ----

  /** A bearer token for the challenge's realm/service and `scopes`, from the cache while it is valid. */
  async token(challenge: Challenge, creds: Credentials | undefined, scopes: string[], tls: Endpoint['tls'], fresh = false): Promise<string> {
    if (creds?.registryToken) return creds.registryToken;
    const realm = challenge.params.realm;
    if (!realm) throw systemError('bearer auth challenge without realm');
    const service = challenge.params.service ?? '';
    const secret = createHash('sha256').update(`${creds?.password ?? ''}\0${creds?.identityToken ?? ''}`).digest('hex');
    const key = JSON.stringify([realm, service, [...scopes].sort(), creds?.username ?? '', secret]);
    const cached = this.tokens.get(key);
    if (!fresh && cached && cached.expires > Date.now() + 1000) return cached.token;
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw systemError(`parse ${JSON.stringify(realm)}: missing protocol scheme`);
    }
    let res: HttpResponse;
    const headers: Record<string, string> = { 'User-Agent': this.userAgent };
    if (creds?.identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, service, client_id: 'docker' });
      if (scopes.length) form.set('scope', scopes.join(' '));
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      res = await this.tokenRequest('POST', url, headers, Buffer.from(form.toString()), tls);
    } else {
      if (service) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      if (creds?.username) {
        url.searchParams.set('account', creds.username);
        headers.Authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}`;
      }
      res = await this.tokenRequest('GET', url, headers, undefined, tls);
    }
    const body = await readBody(res);
    if (res.status !== 200) {
      const err = registryErrorOf(res.status, body);
      throw new TokenError(res.status === 401 ? `unauthorized: ${err instanceof RegistryError ? err.detailMessage : 'authentication required'}` : err.message, res.status === 401);
    }
    let parsed: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch {
      throw systemError(`unable to decode token response: ${body.toString('utf8').slice(0, 200)}`);
    }
    const token = parsed.access_token || parsed.token;
    if (!token) throw systemError('authorization server did not include a token in the response');
    const issued = parsed.issued_at ? Date.parse(parsed.issued_at) : Date.now();
    const lifetime = Math.max(parsed.expires_in ?? MIN_TOKEN_SECONDS, MIN_TOKEN_SECONDS) * 1000;
    this.tokens.set(key, { token, expires: (isNaN(issued) ? Date.now() : Math.min(issued, Date.now())) + lifetime });
    return token;
  }

  private async tokenRequest(method: string, url: URL, headers: Record<string, string>, body: Buffer | undefined, tls: Endpoint['tls']): Promise<HttpResponse> {
    try {
      return await httpRequest(method, url, { headers, ...(body ? { body } : {}), tls: url.protocol === 'https:' ? tls : null });
    } catch (err) {
      throw isTransportError(err) ? systemError(err.message, err) : err;
    }
  }

  /** Drops cached tokens (a 401 with a token means it was revoked or too narrow). */
  dropToken(token: string): void {
    for (const [k, v] of this.tokens) if (v.token === token) this.tokens.delete(k);
  }
}

/**
 * The token server refused a token: the errcode text (`unauthorized: …`). Go's HTTP client wraps
 * it in the url.Error of the registry request that needed the token, so dockerd's pull and login
 * say `Head "https://registry/v2/…/manifests/latest": unauthorized: …`; its push unwraps it
 * (retryOnError) and says only the errcode text.
 */
export class TokenError extends Error {
  constructor(
    message: string,
    readonly unauthorized: boolean,
  ) {
    super(message);
  }

  /** The error of the registry request `method url` this token was for. */
  during(method: string, url: URL): Error & { unauthorized: boolean; tokenError: TokenError } {
    return Object.assign(systemError(`${goMethod(method)} "${url.href}": ${this.message}`, this), { unauthorized: this.unauthorized, tokenError: this });
  }
}

export interface SessionRequest {
  headers?: Record<string, string>;
  body?: Buffer | (() => Readable);
  /** Retry on 5xx / transport errors (default: GET/HEAD/PUT of a Buffer). */
  idempotent?: boolean;
  followRedirects?: boolean;
  /** Extra scopes for this request (cross-repository mount needs pull on the source). */
  scopes?: RepoScope[];
}

/** Requests against one endpoint with one set of credentials and scopes. */
export class RegistrySession {
  constructor(
    readonly client: RegistryClient,
    readonly endpoint: Endpoint,
    private challenges: Challenge[],
    private readonly creds: Credentials | undefined,
    private readonly scopes: RepoScope[],
  ) {}

  url(path: string): URL {
    return new URL(path, this.endpoint.base);
  }

  private async authHeader(extra: RepoScope[] | undefined): Promise<string | null> {
    const bearer = this.challenges.find((c) => c.scheme === 'bearer');
    if (bearer) {
      const scopes = [...this.scopes, ...(extra ?? [])].map(scopeString);
      return `Bearer ${await this.client.token(bearer, this.creds, scopes, this.endpoint.tls)}`;
    }
    const basic = this.challenges.find((c) => c.scheme === 'basic');
    if (basic && this.creds?.username) {
      return `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password ?? ''}`).toString('base64')}`;
    }
    return null;
  }

  /**
   * Sends a request with auth; answers a 401 once by fetching a fresh token for the returned
   * challenge; retries idempotent requests on 5xx, 429 and transport errors with back-off.
   * Returns any final response (the caller reads the status); throws on transport failure.
   */
  async request(method: string, target: string | URL, opts: SessionRequest = {}): Promise<HttpResponse> {
    const url = typeof target === 'string' ? this.url(target) : target;
    const idempotent = opts.idempotent ?? (method === 'GET' || method === 'HEAD' || (method === 'PUT' && !(typeof opts.body === 'function')));
    let authRetried = false;
    for (let attempt = 1; ; attempt++) {
      const headers: Record<string, string> = { 'User-Agent': this.client.userAgent, ...(opts.headers ?? {}) };
      const auth = await this.authHeader(opts.scopes).catch((err: unknown) => {
        throw err instanceof TokenError ? err.during(method, url) : err;
      });
      if (auth) headers.Authorization = auth;
      let res: HttpResponse;
      try {
        res = await httpRequest(method, url, {
          headers,
          ...(opts.body === undefined ? {} : { body: typeof opts.body === 'function' ? opts.body() : opts.body }),
          tls: this.endpoint.tls,
          ...(opts.followRedirects === undefined ? {} : { followRedirects: opts.followRedirects }),
        });
      } catch (err) {
        if (idempotent && isTransportError(err) && err.code !== 'ECONNREFUSED' && attempt < this.client.attempts) {
          await sleep(this.backoff(attempt));
          continue;
        }
        throw isTransportError(err) ? systemError(err.message, err) : err;
      }
      if (res.status === 401 && !authRetried) {
        const challenges = parseChallenges(res.headers['www-authenticate']);
        const bearer = challenges.find((c) => c.scheme === 'bearer');
        if (bearer && !this.creds?.registryToken) {
          res.body.resume();
          authRetried = true;
          if (auth?.startsWith('Bearer ')) this.client.dropToken(auth.slice(7));
          this.challenges = challenges;
          continue;
        }
        if (!auth && challenges.some((c) => c.scheme === 'basic')) {
          res.body.resume();
          if (!this.creds?.username) throw systemError(`${goMethod(method)} "${url.href}": no basic auth credentials`);
          authRetried = true;
          this.challenges = challenges;
          continue;
        }
      }
      if ((res.status >= 500 || res.status === 429) && idempotent && attempt < this.client.attempts) {
        res.body.resume();
        await sleep(this.backoff(attempt));
        continue;
      }
      return res;
    }
  }

  backoff(attempt: number): number {
    return Math.min(this.client.backoffMs * 2 ** (attempt - 1), 10_000);
  }

  /** Throws the registry's error for a non-success response. */
  async fail(res: HttpResponse, method: string): Promise<never> {
    const body = method === 'HEAD' ? Buffer.alloc(0) : await readBody(res).catch(() => Buffer.alloc(0));
    const err = registryErrorOf(res.status, body);
    if (err instanceof RegistryError) throw err;
    throw systemError(`${goMethod(method)} "${res.url.href}": ${err.message}`);
  }
}
