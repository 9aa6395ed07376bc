/**
 * Docker's context store, shared with the Docker CLI: contexts/meta/<sha256 of name>/meta.json
 * under the config dir, the current one in config.json's `currentContext`. Also how a command
 * picks its daemon once context-name.ts has named a context other than `default`.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonAtomic } from '../lib/atomic-file.js';
import { resolveHost, type ClientTls } from '../client/host.js';
import { StatusError } from './cli-context.js';
import { configDir } from './config-dir.js';
import { DEFAULT_CONTEXT, resolveContextName } from './context-name.js';

export const DEFAULT_DESCRIPTION = 'Current DOCKER_HOST based configuration';
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$/;

export interface ContextMeta {
  Name: string;
  Metadata: { Description?: string; [k: string]: unknown };
  Endpoints: { docker?: { Host?: string; SkipTLSVerify?: boolean; [k: string]: unknown }; [k: string]: unknown };
}

const hashOf = (name: string) => createHash('sha256').update(name).digest('hex');
export const metaDir = (name: string) => join(configDir(), 'contexts', 'meta', hashOf(name));
export const tlsDir = (name: string) => join(configDir(), 'contexts', 'tls', hashOf(name));
const metaFile = (name: string) => join(metaDir(name), 'meta.json');

/** The `default` context: the host of --host, DOCKER_HOST or the built-in default. */
export function defaultContext(hostFlag?: string): ContextMeta {
  return { Name: DEFAULT_CONTEXT, Metadata: { Description: DEFAULT_DESCRIPTION }, Endpoints: { docker: { Host: resolveHost(hostFlag), SkipTLSVerify: false } } };
}

export function readContext(name: string, hostFlag?: string): ContextMeta {
  if (name === DEFAULT_CONTEXT) return defaultContext(hostFlag);
  try {
    return JSON.parse(readFileSync(metaFile(name), 'utf8')) as ContextMeta;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ContextNotFound(name, `open ${metaFile(name)}: no such file or directory`);
    throw err;
  }
}

export class ContextNotFound extends Error {
  constructor(
    readonly contextName: string,
    readonly detail: string,
  ) {
    super(`context "${contextName}": context not found: ${detail}`);
  }
}

export const contextExists = (name: string) => name === DEFAULT_CONTEXT || existsSync(metaFile(name));

/** Every stored context plus `default`, sorted by name. */
export function listContexts(hostFlag?: string): ContextMeta[] {
  const dir = join(configDir(), 'contexts', 'meta');
  const stored: ContextMeta[] = [];
  for (const h of existsSync(dir) ? readdirSync(dir) : []) {
    try {
      stored.push(JSON.parse(readFileSync(join(dir, h, 'meta.json'), 'utf8')) as ContextMeta);
    } catch {
      // a half-written or foreign entry is not a context
    }
  }
  return [defaultContext(hostFlag), ...stored.filter((c) => c.Name !== DEFAULT_CONTEXT)].sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
}

export function validateName(name: string): void {
  if (name === DEFAULT_CONTEXT) throw new StatusError(1, `"${DEFAULT_CONTEXT}" is a reserved context name`);
  if (!NAME_RE.test(name)) throw new StatusError(1, `context name "${name}" is invalid, names are validated against regexp "${NAME_RE.source}"`);
}

export async function writeContext(meta: ContextMeta): Promise<void> {
  await mkdir(metaDir(meta.Name), { recursive: true, mode: 0o755 });
  await writeJsonAtomic(metaFile(meta.Name), meta, 0o644);
}

export async function removeContext(name: string): Promise<void> {
  await rm(metaDir(name), { recursive: true, force: true });
  await rm(tlsDir(name), { recursive: true, force: true });
}

const TLS_FILES = ['ca.pem', 'cert.pem', 'key.pem'] as const;
const endpointTlsDir = (name: string) => join(tlsDir(name), 'docker');

/** The TLS files stored for a context's docker endpoint (context inspect's TLSMaterial). */
export function tlsMaterial(name: string): Record<string, string[]> {
  if (name === DEFAULT_CONTEXT) return {};
  const files = TLS_FILES.filter((f) => existsSync(join(endpointTlsDir(name), f)));
  return files.length ? { docker: [...files] } : {};
}

/** Stores the endpoint's TLS material as Docker's store does (tls/<hash>/docker/{ca,cert,key}.pem, 0600). */
export async function writeContextTls(name: string, files: Partial<Record<(typeof TLS_FILES)[number], Buffer>>): Promise<void> {
  const entries = Object.entries(files).filter(([, v]) => v !== undefined);
  if (!entries.length) return;
  await mkdir(endpointTlsDir(name), { recursive: true, mode: 0o700 });
  for (const [f, data] of entries) await writeFile(join(endpointTlsDir(name), f), data!, { mode: 0o600 });
}

/** A context's TLS material as read for `--from`. */
export function readContextTls(name: string): Partial<Record<(typeof TLS_FILES)[number], Buffer>> {
  const out: Partial<Record<(typeof TLS_FILES)[number], Buffer>> = {};
  if (name === DEFAULT_CONTEXT) return out;
  for (const f of TLS_FILES) {
    const p = join(endpointTlsDir(name), f);
    if (existsSync(p)) out[f] = readFileSync(p);
  }
  return out;
}

/**
 * The client TLS of the selected context (Docker's Endpoint.tlsConfig): null for the default
 * context (the --tls* flags and DOCKER_TLS* apply); for a named one its stored CA (else the
 * system's), client certificate and SkipTLSVerify; none over a socket or without any of them.
 */
export function resolveContextTls(flags: { context?: string; host?: string }): ClientTls | undefined | null {
  const name = resolveContextName(flags);
  if (name === DEFAULT_CONTEXT) return null;
  let ep;
  try {
    ep = readContext(name).Endpoints.docker;
  } catch {
    return undefined; // resolveDaemonHost reports the missing context
  }
  if (!ep?.Host || ep.Host.startsWith('unix://') || ep.Host.startsWith('npipe://')) return undefined;
  const files = readContextTls(name);
  if (!files['ca.pem'] && !(files['cert.pem'] && files['key.pem']) && !ep.SkipTLSVerify) return undefined;
  if (files['ca.pem'] && !/-----BEGIN CERTIFICATE-----/.test(files['ca.pem'].toString())) {
    throw new StatusError(1, 'failed to retrieve context tls info: ca.pem seems invalid');
  }
  if (files['key.pem'] && /Proc-Type: 4,ENCRYPTED/.test(files['key.pem'].toString())) {
    throw new StatusError(1, 'private key is encrypted - support for encrypted private keys has been removed, see https://docs.docker.com/go/deprecated/');
  }
  return {
    verify: !ep.SkipTLSVerify,
    ...(files['ca.pem'] ? { ca: files['ca.pem'] } : {}),
    ...(files['cert.pem'] && files['key.pem'] ? { cert: files['cert.pem'], key: files['key.pem'] } : {}),
  };
}

/** The daemon address for the global flags, from the context they select. */
export function resolveDaemonHost(flags: { context?: string; host?: string }): string | undefined {
  const name = resolveContextName(flags);
  // The default context is -H / DOCKER_HOST / the default socket (or tcp://localhost:2376 with
  // TLS), which the client resolves itself.
  if (name === DEFAULT_CONTEXT) return flags.host;
  try {
    return readContext(name).Endpoints.docker?.Host || resolveHost();
  } catch (err) {
    if (err instanceof ContextNotFound) throw new StatusError(1, `Failed to initialize: unable to resolve docker endpoint: ${err.message}`);
    throw err;
  }
}
