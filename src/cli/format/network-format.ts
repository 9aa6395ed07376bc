/**
 * Pure pieces of the network commands: the `network ls` row context (Docker's NetworkContext),
 * `network create`'s subnet/range/gateway consolidation, and `port`'s output lines.
 */
import type { NetworkIpamConfig, NetworkResource, PortBinding } from '../../api/types.js';
import type { TemplateStruct } from '../../lib/go-template.js';
import { goTimeString } from './formatter.js';
import { truncateId } from './units.js';

export const NETWORK_HEADERS: Record<string, string> = {
  ID: 'NETWORK ID',
  Name: 'NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  IPv4: 'IPV4',
  IPv6: 'IPV6',
  Internal: 'INTERNAL',
  Labels: 'LABELS',
  CreatedAt: 'CREATED AT',
};

export const DEFAULT_NETWORK_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';

/** Go's time.Time.String() of an RFC 3339 timestamp, fractional seconds kept (trailing zeros dropped). */
export function goTimeFromRfc3339(ts: string): string {
  const ms = Date.parse(ts);
  if (Number.isNaN(ms)) return ts;
  const base = goTimeString(Math.floor(ms / 1000));
  const frac = /\.(\d+)/.exec(ts)?.[1]?.replace(/0+$/, '');
  return frac ? base.replace(/^(\S+ \S+)/, `$1.${frac}`) : base;
}

/** One `network ls` row. */
export class NetworkRow implements TemplateStruct {
  constructor(
    private readonly n: NetworkResource,
    private readonly trunc: boolean,
  ) {}

  templateTypeName(): string {
    return '*network.networkContext';
  }

  ID(): string {
    return this.trunc ? truncateId(this.n.Id) : this.n.Id;
  }

  Name(): string {
    return this.n.Name;
  }

  Driver(): string {
    return this.n.Driver;
  }

  Scope(): string {
    return this.n.Scope;
  }

  IPv4(): string {
    return String(this.n.EnableIPv4 ?? true);
  }

  IPv6(): string {
    return String(!!this.n.EnableIPv6);
  }

  Internal(): string {
    return String(!!this.n.Internal);
  }

  Labels(): string {
    return Object.entries(this.n.Labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
  }

  Label(name: string): string {
    return this.n.Labels?.[name] ?? '';
  }

  CreatedAt(): string {
    return goTimeFromRfc3339(this.n.Created);
  }

  toJSON(): Record<string, unknown> {
    return {
      CreatedAt: this.CreatedAt(),
      Driver: this.Driver(),
      ID: this.ID(),
      IPv4: this.IPv4(),
      IPv6: this.IPv6(),
      Internal: this.Internal(),
      Labels: this.Labels(),
      Name: this.Name(),
      Scope: this.Scope(),
    };
  }
}

/** Natural ("version") order as Docker's sortorder.NaturalLess: digit runs compare as numbers. */
export function naturalLess(a: string, b: string): boolean {
  const re = /(\d+|\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === y) continue;
    const dx = /^\d/.test(x!);
    const dy = /^\d/.test(y!);
    if (dx && dy) {
      const nx = BigInt(x!);
      const ny = BigInt(y!);
      if (nx !== ny) return nx < ny;
      return x!.length < y!.length;
    }
    return x! < y!;
  }
  return pa.length < pb.length;
}

export const naturalCompare = (a: string, b: string): number => (naturalLess(a, b) ? -1 : naturalLess(b, a) ? 1 : 0);

interface Cidr {
  base: number;
  bits: number;
}

function parseCidrOrIp(s: string): Cidr | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(s.trim());
  if (!m) return undefined;
  const o = m.slice(1, 5).map(Number);
  if (o.some((x) => x > 255)) return undefined;
  const bits = m[5] === undefined ? 32 : Number(m[5]);
  if (bits > 32) return undefined;
  const ip = ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { base: (ip & mask) >>> 0, bits };
}

/** Docker's subnetMatches: does `data` (an address or CIDR) fall inside `subnet`. */
function subnetMatches(subnet: string, data: string): boolean {
  const s = parseCidrOrIp(subnet);
  if (!s || !/\//.test(subnet)) throw new Error(`invalid subnet ${subnet}`);
  const d = parseCidrOrIp(data);
  if (!d) throw new Error(`invalid address ${data}`);
  const mask = s.bits === 0 ? 0 : (0xffffffff << (32 - s.bits)) >>> 0;
  return ((d.base & mask) >>> 0) === s.base;
}

/** Docker's consolidateIpam: pairs each --ip-range / --gateway / --aux-address with its --subnet. */
export function consolidateIpam(
  subnets: string[],
  ranges: string[],
  gateways: string[],
  aux: Record<string, string>,
): NetworkIpamConfig[] {
  if (subnets.length < ranges.length || subnets.length < gateways.length) {
    throw new Error('every ip-range or gateway must have a corresponding subnet');
  }
  const data = new Map<string, NetworkIpamConfig>();
  for (const s of subnets) {
    for (const k of data.keys()) {
      if (subnetMatches(s, k) || subnetMatches(k, s)) throw new Error('multiple overlapping subnet configuration is not supported');
    }
    data.set(s, { Subnet: s, AuxiliaryAddresses: {} });
  }
  for (const r of ranges) {
    let match = false;
    for (const s of subnets) {
      if (!subnetMatches(s, r)) continue;
      const d = data.get(s)!;
      if (d.IPRange) throw new Error(`cannot configure multiple ranges (${r}, ${d.IPRange}) on the same subnet (${s})`);
      d.IPRange = r;
      match = true;
    }
    if (!match) throw new Error(`no matching subnet for range ${r}`);
  }
  for (const g of gateways) {
    let match = false;
    for (const s of subnets) {
      if (!subnetMatches(s, g)) continue;
      const d = data.get(s)!;
      if (d.Gateway) throw new Error(`cannot configure multiple gateways (${g}, ${d.Gateway}) for the same subnet (${s})`);
      d.Gateway = g;
      match = true;
    }
    if (!match) throw new Error(`no matching subnet for gateway ${g}`);
  }
  for (const [key, addr] of Object.entries(aux)) {
    let match = false;
    for (const s of subnets) {
      if (!subnetMatches(s, addr)) continue;
      data.get(s)!.AuxiliaryAddresses![key] = addr;
      match = true;
    }
    if (!match) throw new Error(`no matching subnet for aux-address ${addr}`);
  }
  return [...data.values()];
}

const joinHostPort = (ip: string, port: string) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

/**
 * `docker port` output lines from NetworkSettings.Ports: every mapping as `80/tcp -> 0.0.0.0:8080`,
 * or, for one private port (`80`, `80/udp`), its host addresses; naturally sorted.
 */
export function portLines(ports: Record<string, PortBinding[] | null> | null | undefined, container: string, privatePort?: string): string[] {
  const out: string[] = [];
  if (privatePort !== undefined && privatePort !== '') {
    const slash = privatePort.indexOf('/');
    const port = slash < 0 ? privatePort : privatePort.slice(0, slash);
    const proto = slash < 0 || privatePort.slice(slash + 1) === '' ? 'tcp' : privatePort.slice(slash + 1);
    if (!/^\d+$/.test(port) || Number(port) > 65535) {
      throw new Error(`Error: invalid port (${port}): strconv.ParseUint: parsing ${JSON.stringify(port)}: ${/^\d+$/.test(port) ? 'value out of range' : 'invalid syntax'}`);
    }
    const frontends = ports?.[`${port}/${proto}`];
    if (!frontends) throw new Error(`Error: No public port '${privatePort}' published for ${container}`);
    for (const f of frontends) out.push(joinHostPort(f.HostIp ?? '', f.HostPort ?? ''));
  } else {
    for (const [from, frontends] of Object.entries(ports ?? {})) {
      for (const f of frontends ?? []) out.push(`${from} -> ${joinHostPort(f.HostIp ?? '', f.HostPort ?? '')}`);
    }
  }
  return out.sort(naturalCompare);
}
