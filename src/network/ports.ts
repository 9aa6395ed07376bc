/**
 * Published ports: PortBindings/-P resolved to concrete host ports, and the daemon-side
 * reservation of each host port (a socket bound to it, held while the mapping exists) so that a
 * port taken by another process fails the start instead of silently shadowing it.
 */
import { readFile } from 'node:fs/promises';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIP, type Server } from 'node:net';
import type { PortBinding, PortSet } from '../api/types.js';
import { invalidParameter } from '../lib/errors.js';
import { parseIp } from './ipv4.js';

export interface PortMapping {
  proto: 'tcp' | 'udp' | 'sctp';
  containerPort: number;
  /** "0.0.0.0" for all addresses. */
  hostIp: string;
  hostPort: number;
}

export interface PortRequest {
  proto: PortMapping['proto'];
  containerPort: number;
  hostIp: string;
  /** Inclusive range; [0, 0] = any ephemeral port. */
  hostPorts: [number, number];
}

function parsePortKey(key: string): { port: number; proto: PortMapping['proto'] } {
  const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/i.exec(key);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw invalidParameter(`invalid port specification: "${key}"`);
  return { port: Number(m[1]), proto: (m[2]?.toLowerCase() ?? 'tcp') as PortMapping['proto'] };
}

function parseHostPorts(s: string | undefined): [number, number] {
  if (!s) return [0, 0];
  const m = /^(\d+)(?:-(\d+))?$/.exec(s.trim());
  const lo = m ? Number(m[1]) : NaN;
  const hi = m?.[2] ? Number(m[2]) : lo;
  if (!m || lo > hi || hi > 65535) throw invalidParameter(`invalid port specification: "${s}"`);
  return [lo, hi];
}

/** The requests of HostConfig.PortBindings, plus every ExposedPort with -P (PublishAllPorts). */
export function portRequests(
  bindings: Record<string, PortBinding[] | null> | null | undefined,
  exposed: PortSet | null | undefined,
  publishAll: boolean,
): PortRequest[] {
  const out: PortRequest[] = [];
  const seen = new Set<string>();
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const { port, proto } = parsePortKey(key);
    seen.add(`${port}/${proto}`);
    for (const b of list ?? []) {
      const hostIp = b.HostIp || '0.0.0.0';
      // Written into iptables-restore lines: exactly an address, no padding.
      if (parseIp(hostIp) === undefined || hostIp !== hostIp.trim()) {
        if (isIP(hostIp) === 6) continue; // IPv6 bindings: IPv4-only engine, skip as Docker does without ip6tables
        throw invalidParameter(`invalid host IP address: ${hostIp}`);
      }
      out.push({ proto, containerPort: port, hostIp, hostPorts: parseHostPorts(b.HostPort) });
    }
  }
  if (publishAll) {
    for (const key of Object.keys(exposed ?? {})) {
      const { port, proto } = parsePortKey(key);
      if (seen.has(`${port}/${proto}`)) continue;
      out.push({ proto, containerPort: port, hostIp: '0.0.0.0', hostPorts: [0, 0] });
    }
  }
  return out;
}

/** NetworkSettings.Ports: every exposed or bound port; null when not published. */
export function portsMap(
  exposed: PortSet | null | undefined,
  bindings: Record<string, PortBinding[] | null> | null | undefined,
  mappings: PortMapping[],
): Record<string, PortBinding[] | null> {
  const out: Record<string, PortBinding[] | null> = {};
  const norm = (k: string) => {
    const { port, proto } = parsePortKey(k);
    return `${port}/${proto}`;
  };
  for (const k of Object.keys(exposed ?? {})) out[norm(k)] = null;
  for (const k of Object.keys(bindings ?? {})) out[norm(k)] ??= null;
  for (const m of mappings) {
    const key = `${m.containerPort}/${m.proto}`;
    (out[key] ??= []).push({ HostIp: m.hostIp, HostPort: String(m.hostPort) });
  }
  return out;
}

export async function ephemeralRange(path = '/proc/sys/net/ipv4/ip_local_port_range'): Promise<[number, number]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const [lo, hi] = text.trim().split(/\s+/).map(Number);
  return lo && hi && lo <= hi ? [lo, hi] : [32768, 60999];
}

export class PortInUseError extends Error {
  constructor(readonly mapping: PortMapping) {
    super(`address already in use`);
  }
}

export type Reservation = { close(): void };

/** Binds the host port (TCP: listen; UDP: bind) so no other process can take it. */
export function reservePort(m: PortMapping): Promise<Reservation> {
  return new Promise((resolve, reject) => {
    if (m.proto === 'udp') {
      const s: UdpSocket = createSocket({ type: 'udp4' });
      s.once('error', (err: NodeJS.ErrnoException) => {
        s.close();
        reject(err.code === 'EADDRINUSE' ? new PortInUseError(m) : err);
      });
      s.bind({ port: m.hostPort, address: m.hostIp, exclusive: true }, () => resolve({ close: () => s.close() }));
      return;
    }
    if (m.proto === 'sctp') return resolve({ close() {} });
    const srv: Server = createServer((c) => c.destroy());
    srv.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? new PortInUseError(m) : err));
    srv.listen({ port: m.hostPort, host: m.hostIp, exclusive: true, backlog: 1 }, () => {
      srv.unref();
      resolve({ close: () => srv.close() });
    });
  });
}

/** In-memory table of the host ports mapped by containers: 0.0.0.0 conflicts with every address. */
export class PortTable {
  private readonly used = new Map<string, string>();

  private key(proto: string, ip: string, port: number): string {
    return `${proto}/${ip}/${port}`;
  }

  isFree(proto: string, ip: string, port: number): boolean {
    if (this.used.has(this.key(proto, ip, port))) return false;
    if (ip === '0.0.0.0') {
      for (const k of this.used.keys()) if (k.startsWith(`${proto}/`) && k.endsWith(`/${port}`)) return false;
      return true;
    }
    return !this.used.has(this.key(proto, '0.0.0.0', port));
  }

  take(m: PortMapping, owner: string): void {
    this.used.set(this.key(m.proto, m.hostIp, m.hostPort), owner);
  }

  release(m: PortMapping): void {
    this.used.delete(this.key(m.proto, m.hostIp, m.hostPort));
  }

  size(): number {
    return this.used.size;
  }
}
