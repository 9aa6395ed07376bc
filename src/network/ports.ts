/**
 * Published ports: PortBindings/-P resolved to concrete host ports, and the daemon-side
 * reservation of each host port (a socket bound to it, held while the mapping exists) so that a
 * port taken by another process fails the start instead of silently shadowing it. As in Docker
 * 28, a binding without a host address is published on 0.0.0.0 and on [::] (same port) when the
 * host can listen on IPv6; the IPv6 socket is a proxy to the container (port-proxy.ts).
 */
import { readFile } from 'node:fs/promises';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import type { PortBinding, PortSet } from '../api/types.js';
import { invalidParameter } from '../lib/errors.js';
import { parseIp } from './ipv4.js';
import { formatIp6, parseIp6 } from './ipv6.js';
import { proxyTcp, proxyUdp, type ProxyTarget } from './port-proxy.js';

export interface PortMapping {
  proto: 'tcp' | 'udp' | 'sctp';
  containerPort: number;
  /** "0.0.0.0" for all IPv4 addresses, "::" for all IPv6 addresses. */
  hostIp: string;
  /** 0 for a routed binding. */
  hostPort: number;
  /**
   * On a network whose gateway mode for this family is `routed`: no host port is taken (hostIp is
   * 0.0.0.0 or ::), the container's port is only opened to traffic routed to it.
   */
  routed?: true;
}

export interface PortRequest {
  proto: PortMapping['proto'];
  containerPort: number;
  /** One address, or 0.0.0.0 and :: for a binding without one: they get the same host port. */
  hostIps: string[];
  /** Inclusive range; [0, 0] = any ephemeral port. */
  hostPorts: [number, number];
}

/** A HostIp as it goes into iptables lines: exactly an address (IPv6 in canonical form, IPv4-mapped unmapped). */
export function hostAddress(hostIp: string): string | undefined {
  if (parseIp(hostIp) !== undefined && hostIp === hostIp.trim()) return hostIp;
  const v6 = parseIp6(hostIp);
  if (v6 === undefined) return undefined;
  // An IPv4-mapped address is the IPv4 address (Go's Unmap).
  if (v6 >> 32n === 0xffffn) return [24n, 16n, 8n, 0n].map((s) => String((v6 >> s) & 255n)).join('.');
  return formatIp6(v6);
}

/** A decimal 0–65535, as Go's strconv.ParseUint(s, 10, 16) takes it. */
function uint16(s: string): number | undefined {
  return /^\d+$/.test(s) && Number(s) <= 65535 ? Number(s) : undefined;
}

/** moby's create-time check of HostConfig.PortBindings (nat.ParsePort, then nat.NewPort of each host port). */
export function validatePortBindings(bindings: Record<string, PortBinding[] | null> | null | undefined): void {
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const port = key.split('/')[0]!;
    if (port !== '' && uint16(port) === undefined) throw invalidParameter(`invalid port specification: ${JSON.stringify(port)}`);
    for (const b of list ?? []) {
      const hostPort = b?.HostPort ?? '';
      const range = hostPort.split('/')[0]!;
      if (range === '') continue;
      const [lo, hi] = range.split('-');
      const a = uint16(lo!);
      const z = hi === undefined ? a : uint16(hi);
      if (a === undefined || z === undefined || z < a) throw invalidParameter(`invalid port specification: ${JSON.stringify(hostPort)}`);
    }
  }
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

/**
 * Where a binding without an address listens, as libnetwork's bridge driver decides it from the
 * network's default binding address (`com.docker.network.bridge.host_binding_ipv4`, the daemon's
 * `ip` for the default bridge): 0.0.0.0 and, when the host can listen on IPv6, [::]; otherwise
 * that address alone (an IPv6 one only when the host can listen on IPv6).
 */
export function defaultHostIps(defaultBindIp: string, ipv6: boolean): string[] {
  const dflt = hostAddress(defaultBindIp) ?? '0.0.0.0';
  if (dflt === '0.0.0.0') return ipv6 ? ['0.0.0.0', '::'] : ['0.0.0.0'];
  if (!dflt.includes(':')) return [dflt];
  return ipv6 ? [dflt] : [];
}

/**
 * The requests of HostConfig.PortBindings, plus every ExposedPort with -P (PublishAllPorts).
 * `ipv6`: the host can listen on IPv6, so a binding without an address also gets [::]; an
 * explicit IPv6 address is dropped without it, as Docker does. A binding without an address
 * listens where `defaultBindIp` says (defaultHostIps).
 */
export function portRequests(
  bindings: Record<string, PortBinding[] | null> | null | undefined,
  exposed: PortSet | null | undefined,
  publishAll: boolean,
  ipv6 = false,
  defaultBindIp = '0.0.0.0',
): PortRequest[] {
  const out: PortRequest[] = [];
  const seen = new Set<string>();
  const any = defaultHostIps(defaultBindIp, ipv6);
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const { port, proto } = parsePortKey(key);
    seen.add(`${port}/${proto}`);
    for (const b of list ?? []) {
      if (!b.HostIp) {
        if (any.length) out.push({ proto, containerPort: port, hostIps: any, hostPorts: parseHostPorts(b.HostPort) });
        continue;
      }
      const hostIp = hostAddress(b.HostIp);
      if (hostIp === undefined) throw invalidParameter(`invalid host IP address: ${b.HostIp}`);
      if (hostIp.includes(':') && !ipv6) continue;
      out.push({ proto, containerPort: port, hostIps: [hostIp], hostPorts: parseHostPorts(b.HostPort) });
    }
  }
  if (publishAll) {
    for (const key of Object.keys(exposed ?? {})) {
      const { port, proto } = parsePortKey(key);
      if (seen.has(`${port}/${proto}`) || !any.length) continue;
      out.push({ proto, containerPort: port, hostIps: any, hostPorts: [0, 0] });
    }
  }
  return out.sort(comparePortRequests);
}

const PROTO_ORDER = { tcp: 0, udp: 1, sctp: 2 } as const;

/**
 * Docker's order of port bindings (cmpPortBinding), which is also inspect's: exact host ports
 * before ranges, then by container port, protocol, host port(s) and host address (IPv4 first).
 */
function comparePortRequests(a: PortRequest, b: PortRequest): number {
  const range = (r: PortRequest) => r.hostPorts[0] === 0 || r.hostPorts[0] !== r.hostPorts[1];
  if (range(a) !== range(b)) return range(a) ? 1 : -1;
  return (
    a.containerPort - b.containerPort ||
    PROTO_ORDER[a.proto] - PROTO_ORDER[b.proto] ||
    a.hostPorts[0] - b.hostPorts[0] ||
    a.hostPorts[1] - b.hostPorts[1] ||
    addressOrder(a.hostIps[0]!, b.hostIps[0]!)
  );
}

function addressOrder(a: string, b: string): number {
  const v6a = a.includes(':');
  if (v6a !== b.includes(':')) return v6a ? 1 : -1;
  const n = (s: string) => (v6a ? parseIp6(s)! : BigInt(parseIp(s)!));
  const x = n(a);
  const y = n(b);
  return x < y ? -1 : x > y ? 1 : 0;
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
    // moby leaves HostPort empty when no host port is assigned (a routed binding).
    (out[key] ??= []).push({ HostIp: m.hostIp, HostPort: m.hostPort ? String(m.hostPort) : '' });
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

/**
 * Binds the host port (TCP: listen; UDP: bind) so no other process can take it. With `proxyTo`
 * (IPv6 host addresses) the socket relays to the container; IPv6 sockets are IPv6-only, so [::]
 * and 0.0.0.0 are separate bindings as in Docker.
 */
export function reservePort(m: PortMapping, proxyTo?: ProxyTarget): Promise<Reservation> {
  const v6 = m.hostIp.includes(':');
  return new Promise((resolve, reject) => {
    if (m.proto === 'udp') {
      const s: UdpSocket = createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
      s.once('error', (err: NodeJS.ErrnoException) => {
        s.close();
        reject(err.code === 'EADDRINUSE' ? new PortInUseError(m) : err);
      });
      s.bind({ port: m.hostPort, address: m.hostIp, exclusive: true }, () => {
        const stop = proxyTo ? proxyUdp(s, proxyTo) : () => {};
        resolve({
          close: () => {
            stop();
            s.close();
          },
        });
      });
      return;
    }
    if (m.proto === 'sctp') return resolve({ close() {} });
    const srv: Server = proxyTo ? createServer() : createServer((c) => c.destroy());
    const stop = proxyTo ? proxyTcp(srv, proxyTo) : () => {};
    srv.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? new PortInUseError(m) : err));
    srv.listen({ port: m.hostPort, host: m.hostIp, exclusive: true, ipv6Only: v6, backlog: proxyTo ? 511 : 1 }, () => {
      srv.unref();
      resolve({
        close: () => {
          srv.close();
          stop();
        },
      });
    });
  });
}

/** Whether the host can listen on IPv6 (Docker's IsV6Listenable: a socket on [::1]). */
export function ipv6Listenable(): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port: 0, host: '::1', ipv6Only: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * In-memory table of the host ports mapped by containers: 0.0.0.0 conflicts with every IPv4
 * address, :: with every IPv6 address.
 */
export class PortTable {
  private readonly used = new Map<string, string>();

  private key(proto: string, ip: string, port: number): string {
    return `${proto}/${ip}/${port}`;
  }

  isFree(proto: string, ip: string, port: number): boolean {
    if (this.used.has(this.key(proto, ip, port))) return false;
    const v6 = ip.includes(':');
    const wildcard = v6 ? '::' : '0.0.0.0';
    if (ip === wildcard) {
      for (const k of this.used.keys()) {
        const [p, addr, n] = k.split('/');
        if (p === proto && n === String(port) && addr!.includes(':') === v6) return false;
      }
      return true;
    }
    return !this.used.has(this.key(proto, wildcard, port));
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
