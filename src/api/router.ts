/**
 * Routing: `/v1.NN/...` and unversioned paths, API version checks, the headers every response
 * carries, and errors mapped to statuses. Routes are compiled to regular expressions once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { invalidParameter, notFound } from '../lib/errors.js';
import type { Backend } from './backend.js';
import { sendError } from './errors.js';
import { API_VERSION, MIN_API_VERSION, SERVER_VERSION, compareVersions } from './version.js';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** Path parameters, URL-decoded. */
  params: Record<string, string>;
  query: URLSearchParams;
  /** The API version of the request: from the path, or API_VERSION for unversioned paths. */
  version: string;
  backend: Backend;
  /** Aborted when the client goes away before the response is complete: long work stops with it. */
  signal: AbortSignal;
  /** Set when the request came in through the server's 'upgrade' event (`Connection: Upgrade`). */
  upgrade: { socket: Duplex; head: Buffer } | null;
  /** Registers a hijacked connection so that closing the server ends it. */
  trackHijacked(socket: Duplex): void;
  log(msg: string): void;
}

export type Handler = (ctx: RequestContext) => Promise<void> | void;

interface Route {
  method: string;
  pattern: string;
  regex: RegExp;
  keys: string[];
  handler: Handler;
}

/** Headers on every response, as Docker's version middleware sets them. */
export const COMMON_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Api-Version': API_VERSION,
  'Docker-Experimental': 'false',
  Ostype: 'linux',
  Server: `Wharf/${SERVER_VERSION} (linux)`,
});

const COMMON_HEADER_ENTRIES = Object.entries(COMMON_HEADERS);

const VERSIONED = /^\/v([0-9.]+)(\/.*)$/;

/**
 * gorilla/mux's cleanPath: path.Clean (no `//`, `.` or `..` segments), keeping a trailing slash.
 * Docker's router answers a path that is not clean with a redirect to the clean one.
 */
export function cleanPath(p: string): string {
  if (p === '') return '/';
  if (!p.startsWith('/')) p = `/${p}`;
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  let np = `/${out.join('/')}`;
  if (p.endsWith('/') && np !== '/') np += '/';
  return np;
}

/** Go's url.PathEscape for a path (what url.URL.String writes): `/` and RFC 3986 sub-delims stay. */
function escapePath(p: string): string {
  let out = '';
  for (const byte of Buffer.from(p, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~$&+,/:;=@]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function compile(pattern: string): { regex: RegExp; keys: string[] } {
  const keys: string[] = [];
  const src = pattern
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const m = /^\{(\w+)(?::(.*))?\}$/.exec(part);
      if (!m) return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
      keys.push(m[1]!);
      // gorilla/mux's `.*` matches the empty string too: DELETE /images/ reaches its handler.
      if (m[2] === '.*') return '(.*)';
      if (m[2] === '.+') return '(.+)';
      return '([^/]+)';
    })
    .join('');
  return { regex: new RegExp(`^${src}$`), keys };
}

export class Router {
  private readonly routes: Route[] = [];

  /** `{name}` matches one path segment; `{name:.*}` (or `.+`: not empty) may contain slashes, as moby's routes. */
  add(method: string, pattern: string, handler: Handler): this {
    const { regex, keys } = compile(pattern);
    this.routes.push({ method, pattern, regex, keys, handler });
    return this;
  }

  /** The registered routes, in order (for tests that cover every route). */
  table(): Array<{ method: string; pattern: string }> {
    return this.routes.map(({ method, pattern }) => ({ method, pattern }));
  }

  get(pattern: string, handler: Handler): this {
    return this.add('GET', pattern, handler);
  }
  post(pattern: string, handler: Handler): this {
    return this.add('POST', pattern, handler);
  }
  delete(pattern: string, handler: Handler): this {
    return this.add('DELETE', pattern, handler);
  }
  head(pattern: string, handler: Handler): this {
    return this.add('HEAD', pattern, handler);
  }

  /** The first route whose method and path match, in registration order. */
  match(method: string, path: string): { handler: Handler; params: Record<string, string> } | undefined {
    for (const r of this.routes) {
      if (r.method !== method) continue;
      const m = r.regex.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      r.keys.forEach((k, i) => {
        params[k] = m[i + 1]!;
      });
      return { handler: r.handler, params };
    }
    return undefined;
  }

  /** Serves one request; never throws. */
  async dispatch(base: Omit<RequestContext, 'params' | 'query' | 'version' | 'signal'>): Promise<void> {
    const { req, res } = base;
    // A client that hangs up mid-body makes the request emit 'aborted' errors; whoever reads the
    // body sees them through its read, and an unread body must not take the process down.
    req.on('error', () => {});
    // The AbortSignal is made when a handler asks for it: most requests never do.
    let gone: AbortController | undefined;
    let goneReason: Error | undefined;
    res.once('close', () => {
      if (res.writableFinished) return;
      goneReason = new Error(`client went away during ${req.method} ${req.url}`);
      gone?.abort(goneReason);
    });
    const signal = (): AbortSignal => {
      if (!gone) {
        gone = new AbortController();
        if (goneReason) gone.abort(goneReason);
      }
      return gone.signal;
    };
    try {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      let path: string;
      try {
        path = decodeURIComponent(q < 0 ? url : url.slice(0, q));
      } catch {
        throw invalidParameter(`invalid URL escape in ${JSON.stringify(url)}`);
      }
      const clean = cleanPath(path);
      if (clean !== path) {
        // gorilla/mux redirects before any handler or middleware runs: no body, no version headers.
        const rawQuery = q < 0 ? '' : url.slice(q + 1);
        res.writeHead(301, { Location: `${escapePath(clean)}${rawQuery === '' ? '' : `?${rawQuery}`}`, 'Content-Length': '0' });
        res.end();
        return;
      }
      const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
      let version = API_VERSION;
      let versioned = false;
      const vm = VERSIONED.exec(path);
      if (vm) {
        version = vm[1]!;
        path = vm[2]!;
        versioned = true;
      }
      const found = this.match(req.method ?? 'GET', path);
      // Docker answers unknown paths and wrong methods alike, from a handler outside its version middleware.
      if (!found) throw notFound('page not found');
      // Its version middleware's headers: on every answer of a route, errors included.
      for (const [k, v] of COMMON_HEADER_ENTRIES) res.setHeader(k, v);
      if (versioned) {
        if (compareVersions(version, MIN_API_VERSION) < 0) {
          throw invalidParameter(
            `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
          );
        }
        if (compareVersions(version, API_VERSION) > 0) {
          throw invalidParameter(`client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
        }
      }
      await found.handler({
        ...base,
        params: found.params,
        query,
        version,
        get signal() {
          return signal();
        },
      });
    } catch (caught) {
      // A request body cut short by its client (it closed its side early) surfaces as Node's
      // 'aborted'; Go's reader calls it unexpected EOF, and Docker answers 400 whichever route read it.
      const err = (caught as NodeJS.ErrnoException)?.code === 'ECONNRESET' && req.readableAborted ? invalidParameter('unexpected EOF') : caught;
      if (!(err instanceof Error && 'kind' in err)) base.log(`${req.method} ${req.url}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      if (base.upgrade && res.headersSent === false) res.shouldKeepAlive = false;
      sendError(res, err);
    }
  }
}
