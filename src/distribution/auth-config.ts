/**
 * Registry credentials as Docker passes them: the X-Registry-Auth header (base64url JSON
 * AuthConfig) and the body of POST /auth.
 */
import type { RegistryAuth } from '../api/backend.js';

/** Decodes X-Registry-Auth (base64url, padded or not; plain base64 is accepted too). Undecodable -> undefined, as in Docker. */
export function decodeRegistryAuth(header: string | string[] | undefined): RegistryAuth | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as RegistryAuth) : undefined;
  } catch {
    return undefined;
  }
}

/** X-Registry-Config of POST /build: base64url JSON of registry host -> AuthConfig. Undecodable -> {}. */
export function decodeRegistryConfig(header: string | string[] | undefined): Record<string, RegistryAuth> {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return {};
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, RegistryAuth>) : {};
  } catch {
    return {};
  }
}

/** The credentials of a registry config for `domain` (Docker Hub is keyed by its v1 index URL). */
export function authForDomain(config: Record<string, RegistryAuth>, domain: string): RegistryAuth | undefined {
  const keys = domain === 'docker.io' ? ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io'] : [domain, `https://${domain}`, `http://${domain}`];
  for (const k of keys) if (config[k]) return config[k];
  return undefined;
}

/** The base64url encoding clients send (Docker's registry.EncodeAuthConfig). */
export function encodeRegistryAuth(auth: RegistryAuth): string {
  return Buffer.from(JSON.stringify(auth)).toString('base64url');
}

export interface Credentials {
  username?: string;
  password?: string;
  /** OAuth refresh token (identitytoken), exchanged at the token realm. */
  identityToken?: string;
  /** A bearer token to use as is. */
  registryToken?: string;
}

/** Normalises an AuthConfig: `auth` (base64 user:pass) fills username/password when they are absent. */
export function credentialsOf(auth: RegistryAuth | undefined): Credentials | undefined {
  if (!auth) return undefined;
  let { username, password } = auth;
  if (!username && !password && auth.auth) {
    const plain = Buffer.from(auth.auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon > 0) {
      username = plain.slice(0, colon);
      password = plain.slice(colon + 1);
    }
  }
  const c: Credentials = {};
  if (username) c.username = username;
  if (password) c.password = password;
  if (auth.identitytoken) c.identityToken = auth.identitytoken;
  if (auth.registrytoken) c.registryToken = auth.registrytoken;
  return Object.keys(c).length ? c : undefined;
}
