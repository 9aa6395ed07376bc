/**
 * GET /images/search as Docker does it: the term names an index (Docker Hub unless its first
 * component looks like a host), and the index's v1 search endpoint answers. Registries that
 * only speak v2 (distribution, Debian's docker-registry) have no search endpoint: their 404 is
 * reported as Docker reports it.
 */
import type { Filters, ImageSearchResult as SearchResult } from '../api/types.js';
import type { RegistryAuth } from '../api/backend.js';
import { invalidParameter, systemError } from '../lib/errors.js';
import { credentialsOf } from './auth-config.js';
import type { EndpointResolver, TlsSettings } from './endpoints.js';
import { httpRequest, isTransportError, readBody } from './http.js';

const ACCEPTED_FILTERS = new Set(['is-automated', 'is-official', 'stars']);
const DEFAULT_LIMIT = 25;
/** Docker Hub's v1 index, where Docker sends searches without a registry host. */
const HUB_INDEX = 'https://index.docker.io';

/** Docker's GetBoolOrDefault over filter values, with its error text. */
function boolFilter(filters: Filters, key: string): boolean | undefined {
  const values = filters[key];
  if (values === undefined) return undefined;
  const isFalse = values.includes('0') || values.includes('false');
  const isTrue = values.includes('1') || values.includes('true');
  if (isFalse === isTrue) throw invalidParameter(`invalid filter '${key}=[${values.join(' ')}]'`);
  return isTrue;
}

/** `host/name` → [host, name]; a first component without `.` or `:` (and not localhost) is a Hub name. */
export function splitSearchTerm(term: string): { index: string | null; remote: string } {
  const slash = term.indexOf('/');
  if (slash < 0) return { index: null, remote: term };
  const first = term.slice(0, slash);
  if (!first.includes('.') && !first.includes(':') && first !== 'localhost') return { index: null, remote: term };
  if (first === 'index.docker.io' || first === 'docker.io') return { index: null, remote: term.slice(slash + 1) };
  return { index: first, remote: term.slice(slash + 1) };
}

interface V1Endpoint {
  base: string;
  tls: TlsSettings | null;
}

/** https first; an insecure registry falls back to plain http, as Docker's v1 endpoint does. */
async function v1Endpoint(resolver: EndpointResolver, host: string, signal?: AbortSignal): Promise<V1Endpoint> {
  const insecure = resolver.isInsecure(host);
  const https: V1Endpoint = { base: `https://${host}`, tls: await resolver.tlsFor(host, insecure) };
  const ping = async (ep: V1Endpoint) => {
    signal?.throwIfAborted();
    const res = await httpRequest('GET', new URL('/v1/_ping', ep.base), { tls: ep.tls, timeoutMs: 15_000 });
    res.body.resume();
  };
  try {
    await ping(https);
    return https;
  } catch (err) {
    if (!isTransportError(err)) throw err;
    if (!insecure) {
      throw invalidParameter(
        `invalid registry endpoint ${https.base}/v1/: ${err.message}. If this private registry supports only HTTP or HTTPS with an unknown CA certificate, add \`--insecure-registry ${host}\` to the daemon's arguments. ` +
          `In the case of HTTPS, if you have access to the registry's CA certificate, no need for the flag; place the CA certificate at ${resolver.certsDir}/${host}/ca.crt`,
      );
    }
    const plain: V1Endpoint = { base: `http://${host}`, tls: null };
    try {
      await ping(plain);
      return plain;
    } catch (err2) {
      if (!isTransportError(err2)) throw err2;
      throw invalidParameter(`invalid registry endpoint "${https.base}/v1/". HTTPS attempt: ${err.message}. HTTP attempt: ${err2.message}`);
    }
  }
}

export async function searchRegistry(
  resolver: EndpointResolver,
  term: string,
  opts: { limit?: number; filters: Filters; auth?: RegistryAuth; userAgent: string; signal?: AbortSignal },
): Promise<SearchResult[]> {
  const { filters } = opts;
  for (const key of Object.keys(filters)) if (!ACCEPTED_FILTERS.has(key)) throw invalidParameter(`invalid filter '${key}'`);
  // is-automated is deprecated: Docker Hub's value is untrustworthy, so `true` finds nothing.
  if (boolFilter(filters, 'is-automated')) return [];
  const official = boolFilter(filters, 'is-official');
  let minStars = 0;
  for (const s of filters.stars ?? []) {
    if (!/^[+-]?\d+$/.test(s)) throw invalidParameter(`invalid filter 'stars=${s}': strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
    minStars = Math.max(minStars, Number(s));
  }
  if (term.includes('://')) throw invalidParameter(`invalid repository name: repository name (${term}) should not have a scheme`);
  const limit = opts.limit || DEFAULT_LIMIT;
  if (limit < 1 || limit > 100) throw invalidParameter(`limit ${limit} is outside the range of [1, 100]`);

  const { index, remote } = splitSearchTerm(term);
  const endpoint = index === null ? { base: HUB_INDEX, tls: null } : await v1Endpoint(resolver, index, opts.signal);
  const query = index === null ? remote.replace(/^library\//, '') : remote;
  const url = new URL(`/v1/search?q=${encodeURIComponent(query)}&n=${limit}`, endpoint.base);
  const headers: Record<string, string> = { 'User-Agent': opts.userAgent, 'X-Docker-Token': 'true' };
  const creds = credentialsOf(opts.auth);
  if (creds?.username && creds.password) {
    headers.Authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
  }
  opts.signal?.throwIfAborted();
  let res;
  try {
    res = await httpRequest('GET', url, { headers, tls: endpoint.tls, timeoutMs: 30_000 });
  } catch (err) {
    throw isTransportError(err) ? systemError(err.message, err) : err;
  }
  if (res.status !== 200) {
    res.body.resume();
    throw systemError(`Unexpected status code ${res.status}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse((await readBody(res, 8 << 20)).toString('utf8'));
  } catch (err) {
    throw systemError(`error decoding registry search results: ${err instanceof Error ? err.message : String(err)}`);
  }
  const results = (parsed as { results?: unknown } | null)?.results;
  if (!Array.isArray(results)) return [];
  const out: SearchResult[] = [];
  for (const r of results as Array<Record<string, unknown>>) {
    if (typeof r !== 'object' || r === null) continue;
    const item: SearchResult = {
      star_count: typeof r.star_count === 'number' ? r.star_count : 0,
      is_official: r.is_official === true,
      name: typeof r.name === 'string' ? r.name : '',
      is_automated: false,
      description: typeof r.description === 'string' ? r.description : '',
    };
    if (official !== undefined && item.is_official !== official) continue;
    if (filters.stars && item.star_count < minStars) continue;
    out.push(item);
  }
  return out;
}
