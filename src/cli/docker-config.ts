/**
 * Docker's client config file (config.json in $WHARF_CONFIG, $DOCKER_CONFIG or ~/.docker) and
 * the stored registry credentials in it: {"auths":{"<server>":{"auth":"base64(user:pass)"}}}.
 * Keys are what the Docker CLI uses: `https://index.docker.io/v1/` for Docker Hub, else
 * `host[:port]`; on lookup a key written with a scheme or path (`https://host:5000/v1/`) matches too.
 */
import { join } from 'node:path';
import { DEFAULT_DOMAIN, type Reference } from '../image/reference.js';
import { configDir } from './config-dir.js';

export const HUB_KEY = 'https://index.docker.io/v1/';

export interface AuthEntry {
  auth?: string;
  identitytoken?: string;
  username?: string;
  password?: string;
}

export interface ConfigFile {
  auths?: Record<string, AuthEntry>;
  [k: string]: unknown;
}

// node:fs/promises (with the readline modules it loads) and atomic-file.js are imported when a
// config is read or written: `ps`, `run` and most commands reach this module but never need them.
export async function loadConfig(): Promise<ConfigFile> {
  const { readFile } = await import('node:fs/promises');
  try {
    return JSON.parse(await readFile(join(configDir(), 'config.json'), 'utf8')) as ConfigFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
}

export async function saveConfig(cfg: ConfigFile): Promise<void> {
  const [{ mkdir }, { writeJsonAtomic }] = await Promise.all([import('node:fs/promises'), import('../lib/atomic-file.js')]);
  await mkdir(configDir(), { recursive: true, mode: 0o700 });
  await writeJsonAtomic(join(configDir(), 'config.json'), cfg, 0o600);
}

/** `https://host:port/v1/` → `host:port` (Docker's ConvertToHostname). */
export function hostnameOf(server: string): string {
  return server.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
}

/** The key Docker stores a registry's credentials under (`docker login [SERVER]`). */
export function serverKey(server: string | undefined): string {
  if (!server) return HUB_KEY;
  const host = hostnameOf(server);
  if (host === DEFAULT_DOMAIN || host === 'index.docker.io' || host === 'registry-1.docker.io') return HUB_KEY;
  return host;
}

/** The stored entry for a registry host (as a reference names it), with its key. */
export function findAuth(cfg: ConfigFile, domain: string): { key: string; entry: AuthEntry } | null {
  const key = domain === DEFAULT_DOMAIN ? HUB_KEY : domain;
  const auths = cfg.auths ?? {};
  if (auths[key]) return { key, entry: auths[key] };
  for (const [k, entry] of Object.entries(auths)) if (serverKey(k) === key) return { key, entry };
  return null;
}

/**
 * The X-Registry-Auth value for a reference from the stored credentials, as the Docker CLI
 * sends it: base64url of {"username","password","serveraddress"} (or an identity token);
 * `e30=` (`{}`) when there are none.
 */
export async function registryAuthFor(ref: Reference): Promise<string> {
  const found = findAuth(await loadConfig(), ref.domain);
  if (!found) return 'e30=';
  const { key, entry } = found;
  const out: Record<string, string> = { serveraddress: key };
  if (entry.auth) {
    const plain = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    out.username = colon < 0 ? plain : plain.slice(0, colon);
    out.password = colon < 0 ? '' : plain.slice(colon + 1);
  } else if (entry.username) {
    out.username = entry.username;
    out.password = entry.password ?? '';
  }
  if (entry.identitytoken) out.identitytoken = entry.identitytoken;
  if (!out.username && !out.identitytoken) return 'e30=';
  return Buffer.from(JSON.stringify(out)).toString('base64url');
}
