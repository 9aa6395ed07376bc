/**
 * The registry configuration as /info reports it (Docker's registry.ServiceConfig): the
 * insecure CIDRs (loopback always), an IndexConfig per named insecure registry and for
 * docker.io with its mirrors, and the mirrors with Docker's trailing slash.
 */
import { isIP } from 'node:net';

export interface IndexInfo {
  Name: string;
  Mirrors: string[];
  Secure: boolean;
  Official: boolean;
}

export interface RegistryServiceConfig {
  InsecureRegistryCIDRs: string[];
  IndexConfigs: Record<string, IndexInfo>;
  Mirrors: string[];
}

/** A CIDR in its masked form (`10.1.2.3/8` → `10.0.0.0/8`), or null when `s` is not one. */
function maskedCidr(s: string): string | null {
  const slash = s.indexOf('/');
  if (slash < 0) return null;
  const ip = s.slice(0, slash);
  const bits = Number(s.slice(slash + 1));
  if (isIP(ip) !== 4 || !Number.isInteger(bits) || bits < 0 || bits > 32) return isIP(ip) === 6 ? s : null;
  const n = ip.split('.').reduce((acc, o) => (acc << 8) + Number(o), 0) >>> 0;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  const m = (n & mask) >>> 0;
  return `${[m >>> 24, (m >>> 16) & 255, (m >>> 8) & 255, m & 255].join('.')}/${bits}`;
}

export function registryServiceConfig(insecureRegistries: readonly string[], registryMirrors: readonly string[]): RegistryServiceConfig {
  const mirrors = [...new Set(registryMirrors.map((m) => m.replace(/\/+$/, '') + '/'))];
  const cidrs = new Set<string>();
  const indexConfigs: Record<string, IndexInfo> = {};
  for (const raw of [...insecureRegistries, '::1/128', '127.0.0.0/8']) {
    const r = raw.replace(/^https?:\/\//i, '');
    const cidr = maskedCidr(r);
    if (cidr) cidrs.add(cidr);
    else indexConfigs[r] = { Name: r, Mirrors: [], Secure: false, Official: false };
  }
  indexConfigs['docker.io'] = { Name: 'docker.io', Mirrors: mirrors, Secure: true, Official: true };
  return { InsecureRegistryCIDRs: [...cidrs], IndexConfigs: indexConfigs, Mirrors: mirrors };
}
