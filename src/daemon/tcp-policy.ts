/**
 * dockerd's (27/28) rules for a TCP listener without client certificate verification: it still
 * listens, but warns and pauses start-up (1 s); when TLS was not explicitly turned off
 * (`--tls=false` / `--tlsverify=false` or the daemon.json keys) and the address is not a
 * loopback one, it warns more and pauses another 15 s.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { DaemonConfig } from './config.js';
import { clientAuthRequired } from './api-tls.js';

export interface TcpWarning {
  host: string;
  lines: string[];
  delayMs: number;
}

/** dockerd's checkTLSAuthOK: tls explicitly off, or tls on with tlsverify set either way. */
function explicitIntent(cfg: Pick<DaemonConfig, 'tls' | 'tlsVerify'>): boolean {
  if (cfg.tls === undefined) return false;
  if (!cfg.tls) return true;
  return cfg.tlsVerify !== undefined;
}

function isLoopback(ip: string): boolean {
  if (isIP(ip) === 4) return ip.startsWith('127.');
  if (isIP(ip) === 6) return /^(0*:)*:?0*1$/.test(ip) || /^::ffff:127\./i.test(ip);
  return false;
}

async function resolvesToLoopback(host: string): Promise<boolean> {
  if (host === 'localhost') return true;
  if (isIP(host)) return isLoopback(host);
  const addr = await lookup(host).catch(() => undefined);
  return addr !== undefined && isLoopback(addr.address);
}

/** Host part of `tcp://host:port` (brackets removed). */
function tcpHostOf(spec: string): string {
  const rest = spec.slice('tcp://'.length).replace(/\/+$/, '');
  const m = /^(?:\[([^\]]*)\]|([^:]*)):\d+$/.exec(rest);
  // An empty host is dockerd's default, localhost (the listener binds 127.0.0.1).
  return (m ? (m[1] ?? m[2]) : rest) || 'localhost';
}

/** The warnings (and start-up pause) for each TCP host that is served without verified clients. */
export async function insecureTcpWarnings(
  cfg: Pick<DaemonConfig, 'hosts' | 'tls' | 'tlsVerify' | 'tlsCaCert' | 'tlsCert' | 'tlsKey'>,
): Promise<TcpWarning[]> {
  if (clientAuthRequired(cfg)) return [];
  const out: TcpWarning[] = [];
  for (const host of cfg.hosts) {
    if (!host.startsWith('tcp://')) continue;
    const lines = [
      'Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network.',
      'Binding to an IP address, even on localhost, can also give access to scripts run in a browser. Be safe out there!',
      '[DEPRECATION NOTICE] In future versions this will be a hard failure preventing the daemon from starting! Learn more at: https://docs.docker.com/go/api-security/',
    ];
    let delayMs = 1000;
    if (!explicitIntent(cfg) && !(await resolvesToLoopback(tcpHostOf(host)))) {
      lines.push(
        'Binding to an IP address without --tlsverify is deprecated. Startup is intentionally being slowed down to show this message',
        'Please consider generating tls certificates with client validation to prevent exposing unauthenticated root access to your network',
        "You can override this by explicitly specifying '--tls=false' or '--tlsverify=false'",
        'Support for listening on TCP without authentication or explicit intent to run without authentication will be removed in the next release',
      );
      delayMs += 15_000;
    }
    out.push({ host, lines, delayMs });
  }
  return out;
}
