/** Where the daemon listens (`unix:///path` or `tcp://host:port`) and how to reach it (TLS). */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export type DaemonAddress =
  | { kind: 'unix'; socketPath: string; url: string }
  | { kind: 'tcp'; host: string; port: number; url: string };

export const DEFAULT_HOST = 'unix:///run/wharf.sock';
/** The Docker CLI's default when TLS is on and no host is given. */
export const DEFAULT_TLS_HOST = 'tcp://localhost:2376';

/** -H/--host, then WHARF_HOST, then DOCKER_HOST, then the default socket (a TLS port with TLS on). */
export function resolveHost(flag?: string, env: NodeJS.ProcessEnv = process.env, tls = false): string {
  return flag || env.WHARF_HOST || env.DOCKER_HOST || (tls ? DEFAULT_TLS_HOST : DEFAULT_HOST);
}

export function parseHost(raw: string): DaemonAddress {
  if (raw.startsWith('unix://')) {
    const socketPath = raw.slice('unix://'.length);
    if (!socketPath) throw new Error(`invalid bind address (${raw}): empty socket path`);
    return { kind: 'unix', socketPath, url: raw };
  }
  if (raw.startsWith('/')) return { kind: 'unix', socketPath: raw, url: `unix://${raw}` };
  let rest = raw;
  if (raw.startsWith('tcp://')) rest = raw.slice('tcp://'.length);
  else if (raw.startsWith('http://')) rest = raw.slice('http://'.length);
  else if (raw.includes('://')) throw new Error(`protocol not available: ${raw}`);
  rest = rest.replace(/\/+$/, '');
  const m = /^(\[[^\]]+\]|[^:]*)(?::(\d+))?$/.exec(rest);
  if (!m) throw new Error(`invalid bind address format: ${raw}`);
  const host = (m[1] || '127.0.0.1').replace(/^\[|\]$/g, '');
  const port = m[2] ? Number(m[2]) : 2375;
  return { kind: 'tcp', host, port, url: `tcp://${m[1] || '127.0.0.1'}:${port}` };
}

/** The Docker CLI's global TLS flags, as given (undefined = not on the command line). */
export interface TlsFlags {
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
}

/** What the client presents and trusts; undefined when TLS is off. */
export interface ClientTls {
  /** The CA the daemon's certificate must chain to (only that one); unset = the system's. */
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** false with `--tls` alone: the daemon's certificate is not checked. */
  verify: boolean;
}

/**
 * The Docker CLI's rules: TLS is on with --tls or DOCKER_TLS, and with --tlsverify or
 * DOCKER_TLS_VERIFY (which also verify the daemon); the files default to ca.pem, cert.pem and
 * key.pem in DOCKER_CERT_PATH, else the config dir, and a default cert or key file that does not
 * exist is left out.
 */
export function resolveClientTls(
  flags: TlsFlags,
  env: NodeJS.ProcessEnv = process.env,
  configDir = env.DOCKER_CONFIG || join(homedir(), '.docker'),
): ClientTls | undefined {
  const verify = flags.tlsverify ?? !!env.DOCKER_TLS_VERIFY;
  const on = flags.tls || !!env.DOCKER_TLS || flags.tlsverify !== undefined || verify;
  if (!on) return undefined;
  const dir = env.DOCKER_CERT_PATH || configDir;
  const file = (given: string | undefined, name: string, optional: boolean): string | undefined => {
    if (given) return given;
    const path = join(dir, name);
    return optional && !existsSync(path) ? undefined : path;
  };
  const read = (path: string | undefined, what: string) => {
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'ENOENT' ? 'no such file or directory' : e.code === 'EACCES' ? 'permission denied' : e.message;
      throw new Error(`${what}: open ${path}: ${why}`);
    }
  };
  const caPath = verify ? file(flags.tlscacert, 'ca.pem', false) : undefined;
  const certPath = file(flags.tlscert, 'cert.pem', true);
  const keyPath = file(flags.tlskey, 'key.pem', true);
  const ca = read(caPath, 'could not read CA certificate');
  const cert = read(certPath, 'could not load X509 key pair');
  const key = read(keyPath, 'could not load X509 key pair');
  return { verify, ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}
