/**
 * POST /auth: checks credentials against a registry as `docker login` does — a bearer registry
 * must issue a token for them, a basic one must accept them on /v2/.
 */
import type { RegistryAuth } from '../api/backend.js';
import { systemError, unauthorized } from '../lib/errors.js';
import { DEFAULT_DOMAIN } from '../image/reference.js';
import { credentialsOf } from './auth-config.js';
import { TokenError, type RegistryClient } from './client.js';
import { goMethod, httpRequest, isTransportError } from './http.js';
import { statusLine } from './errors.js';

/** `https://index.docker.io/v1/`, `docker.io`, `host:port`, `https://host:port/` -> registry domain. */
export function registryDomainOf(serverAddress: string | undefined): string {
  if (!serverAddress) return DEFAULT_DOMAIN;
  const host = serverAddress.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (host === 'index.docker.io' || host === 'registry-1.docker.io' || host === DEFAULT_DOMAIN) return DEFAULT_DOMAIN;
  return host;
}

export async function login(client: RegistryClient, auth: RegistryAuth): Promise<{ Status: string; IdentityToken: string }> {
  const creds = credentialsOf(auth);
  const domain = registryDomainOf(auth.serveraddress);
  const groups = await client.endpointGroups(domain);
  const group = groups[groups.length - 1]!;
  client.forgetPing(group);
  const ping = await client.ping(group);
  const bearer = ping.challenges.find((c) => c.scheme === 'bearer');
  const url = new URL('/v2/', ping.endpoint.base);
  if (bearer) {
    try {
      await client.token(bearer, creds, [], ping.endpoint.tls, true);
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      const wrapped = err.during('GET', url);
      throw err.unauthorized ? unauthorized(wrapped.message) : wrapped;
    }
  } else if (ping.challenges.some((c) => c.scheme === 'basic')) {
    const headers: Record<string, string> = { 'User-Agent': client.userAgent };
    if (creds?.username) headers.Authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}`;
    let status: number;
    try {
      const res = await httpRequest('GET', url, { headers, tls: ping.endpoint.tls });
      res.body.resume();
      status = res.status;
    } catch (err) {
      throw isTransportError(err) ? systemError(err.message, err) : err;
    }
    if (status === 401) throw unauthorized(`login attempt to ${url.href} failed with status: ${statusLine(401)}`);
    if (status !== 200) throw systemError(`${goMethod('GET')} "${url.href}": received unexpected HTTP status: ${statusLine(status)}`);
  }
  return { Status: 'Login Succeeded', IdentityToken: '' };
}
