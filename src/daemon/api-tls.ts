/**
 * The API's TLS settings from the daemon config, as dockerd builds them (go-connections'
 * tlsconfig.Server): the server's key pair, and with tlsverify the CA that client certificates
 * must chain to (only that CA, never the system's). Errors carry dockerd's wording.
 */
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { ApiTls } from '../api/server.js';
import type { DaemonConfig } from './config.js';

type TlsSettings = Pick<DaemonConfig, 'tls' | 'tlsVerify' | 'tlsCaCert' | 'tlsCert' | 'tlsKey'>;

/** Whether the TCP listeners require and verify client certificates. */
export function clientAuthRequired(cfg: TlsSettings): boolean {
  return cfg.tls === true && cfg.tlsVerify !== false;
}

async function readPem(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file or directory' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw Object.assign(new Error(`open ${path}: ${why}`), { code: e.code });
  }
}

/** The TLS material for startApiServer, or undefined when tls is off. */
export async function loadApiTls(cfg: TlsSettings): Promise<ApiTls | undefined> {
  if (cfg.tls !== true) return undefined;
  const verify = clientAuthRequired(cfg);
  const pair = `(cert: ${JSON.stringify(cfg.tlsCert)}, key: ${JSON.stringify(cfg.tlsKey)})`;
  let cert: Buffer;
  let key: Buffer;
  try {
    [cert, key] = await Promise.all([readPem(cfg.tlsCert), readPem(cfg.tlsKey)]);
  } catch (err) {
    throw new Error(`invalid TLS configuration: could not load X509 key pair ${pair}: ${(err as Error).message}`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new Error(
      `invalid TLS configuration: error reading X509 key pair - make sure the key is not encrypted ${pair}: ${(err as Error).message}`,
    );
  }
  if (!verify) return { cert, key, verifyClients: false };
  if (!cfg.tlsCaCert) {
    // dockerd would fall back to the system's roots here; a root daemon should not accept any
    // publicly signed client certificate, so this is refused instead.
    throw new Error('invalid TLS configuration: --tlsverify needs the CA that signs client certificates (--tlscacert)');
  }
  let ca: Buffer;
  try {
    ca = await readPem(cfg.tlsCaCert);
  } catch (err) {
    throw new Error(`invalid TLS configuration: could not read CA certificate ${JSON.stringify(cfg.tlsCaCert)}: ${(err as Error).message}`);
  }
  if (!/-----BEGIN CERTIFICATE-----/.test(ca.toString('latin1'))) {
    throw new Error(`invalid TLS configuration: failed to append certificates from PEM file: ${JSON.stringify(cfg.tlsCaCert)}`);
  }
  try {
    createSecureContext({ cert, key, ca });
  } catch (err) {
    throw new Error(`invalid TLS configuration: failed to append certificates from PEM file: ${JSON.stringify(cfg.tlsCaCert)}: ${(err as Error).message}`);
  }
  return { cert, key, ca, verifyClients: true };
}
