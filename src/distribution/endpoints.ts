/**
 * Where a registry host is reached and how: scheme, TLS (per-registry CA, client certificate
 * from <certs.d>/<host:port>/), insecure registries (https without verification, then plain
 * http, as Docker falls back), and registry mirrors for docker.io.
 */
import { readdir, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { DEFAULT_DOMAIN } from '../image/reference.js';

export const DEFAULT_CERTS_DIR = '/etc/wharf/certs.d';
/** docker.io's API host and the key Docker stores its credentials under. */
export const DOCKER_HUB_API = 'registry-1.docker.io';

export interface RegistryOptions {
  /** daemon.json "insecure-registries": host[:port] names or CIDRs. */
  insecureRegistries?: string[];
  /** daemon.json "registry-mirrors": URLs of docker.io mirrors, tried first. */
  registryMirrors?: string[];
  /** Root of the per-registry certificate dirs (default /etc/wharf/certs.d). */
  certsDir?: string;
  /** Treat 127.0.0.0/8 (and ::1) as insecure, as Docker does by default (default true). */
  insecureLoopback?: boolean;
}

export interface TlsSettings {
  ca?: Buffer[];
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
}

export interface Endpoint {
  /** `https://host:port` or `http://host:port` (no trailing slash). */
  base: string;
  /** host[:port] as written in the reference (the key for auth and certs.d). */
  host: string;
  tls: TlsSettings | null;
  mirror: boolean;
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
}

function inCidr(ip: string, cidr: string): boolean {
  const [net, bitsText] = cidr.split('/');
  if (!net || bitsText === undefined || isIP(net) !== 4 || isIP(ip) !== 4) return false;
  const bits = Number(bitsText);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (ipv4ToInt(ip) & mask) === (ipv4ToInt(net) & mask);
}

function hostnameOf(hostPort: string): string {
  if (hostPort.startsWith('[')) return hostPort.slice(1, hostPort.indexOf(']'));
  const i = hostPort.lastIndexOf(':');
  return i === -1 ? hostPort : hostPort.slice(0, i);
}

export class EndpointResolver {
  private readonly insecure: string[];
  private readonly mirrors: string[];
  readonly certsDir: string;
  private readonly loopback: boolean;

  constructor(opts: RegistryOptions = {}) {
    this.insecure = opts.insecureRegistries ?? [];
    this.mirrors = (opts.registryMirrors ?? []).map((m) => m.replace(/\/+$/, ''));
    this.certsDir = opts.certsDir ?? DEFAULT_CERTS_DIR;
    this.loopback = opts.insecureLoopback ?? true;
  }

  /** Docker's isSecureIndex: listed names, listed CIDRs, loopback. */
  isInsecure(hostPort: string): boolean {
    const name = hostnameOf(hostPort);
    if (this.insecure.includes(hostPort) || this.insecure.includes(name)) return true;
    const ip = name === 'localhost' ? '127.0.0.1' : name;
    if (this.loopback && (inCidr(ip, '127.0.0.0/8') || ip === '::1')) return true;
    return this.insecure.some((c) => c.includes('/') && inCidr(ip, c));
  }

  /** CA bundle and client certificate from <certsDir>/<host:port>/ (*.crt CAs, *.cert + *.key pair). */
  async tlsFor(hostPort: string, insecure: boolean): Promise<TlsSettings> {
    const dir = join(this.certsDir, hostPort);
    const tls: TlsSettings = { rejectUnauthorized: !insecure };
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const n of names.sort()) {
      if (n.endsWith('.crt')) (tls.ca ??= []).push(await readFile(join(dir, n)));
      else if (n.endsWith('.cert')) {
        const key = n.slice(0, -'.cert'.length) + '.key';
        if (names.includes(key)) {
          tls.cert = await readFile(join(dir, n));
          tls.key = await readFile(join(dir, key));
        }
      }
    }
    return tls;
  }

  /** Endpoints to try for a registry domain, in order. */
  async endpoints(domain: string): Promise<Endpoint[]> {
    const out: Endpoint[] = [];
    if (domain === DEFAULT_DOMAIN) {
      for (const m of this.mirrors) {
        const u = new URL(m);
        const insecure = this.isInsecure(u.host);
        out.push({ base: `${u.protocol}//${u.host}`, host: u.host, tls: u.protocol === 'https:' ? await this.tlsFor(u.host, insecure) : null, mirror: true });
      }
      out.push({ base: `https://${DOCKER_HUB_API}`, host: DOCKER_HUB_API, tls: await this.tlsFor(DOCKER_HUB_API, false), mirror: false });
      return out;
    }
    const insecure = this.isInsecure(domain);
    out.push({ base: `https://${domain}`, host: domain, tls: await this.tlsFor(domain, insecure), mirror: false });
    if (insecure) out.push({ base: `http://${domain}`, host: domain, tls: null, mirror: false });
    return out;
  }
}
