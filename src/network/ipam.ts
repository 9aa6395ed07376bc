/**
 * Address management: choosing a subnet for a new network from the address pools (skipping what
 * the host and other networks already use, as Docker does) and leasing addresses inside it.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { invalidParameter } from '../lib/errors.js';
import { parseResolvConf } from '../lib/resolv-conf.js';
import { contains, formatCidr, formatIp, lastIp, maskOf, overlaps, parseCidr, parseIp, size, type Cidr } from './ipv4.js';
import { contains6, formatCidr6, formatIp6, lastIp6, overlaps6, parseCidr6, parseIp6, type Cidr6 } from './ipv6.js';

export interface AddressPool {
  /** e.g. "172.17.0.0/16" */
  base: string;
  /** prefix length of each subnet carved from base */
  size: number;
}

/** Docker's predefined local pools: 172.17-172.31 as /16s, then 192.168.0.0/16 as /20s. */
export const DEFAULT_ADDRESS_POOLS: AddressPool[] = [
  { base: '172.17.0.0/16', size: 16 },
  { base: '172.18.0.0/16', size: 16 },
  { base: '172.19.0.0/16', size: 16 },
  { base: '172.20.0.0/14', size: 16 },
  { base: '172.24.0.0/14', size: 16 },
  { base: '172.28.0.0/14', size: 16 },
  { base: '192.168.0.0/16', size: 20 },
];

/** Every subnet the pools offer, in order. */
export function* poolSubnets(pools: AddressPool[]): Generator<Cidr> {
  for (const p of pools) {
    if (isV6Pool(p)) continue;
    const parsed = parseCidr(p.base);
    if (!parsed || p.size < parsed.cidr.bits || p.size > 30) throw invalidParameter(`invalid address pool ${p.base} with size ${p.size}`);
    const step = 2 ** (32 - p.size);
    for (let n = parsed.cidr.base; n < parsed.cidr.base + size(parsed.cidr); n += step) yield { base: n >>> 0, bits: p.size };
  }
}

/** The first pool subnet that overlaps neither `inUse` (host routes, other networks). */
export function pickSubnet(pools: AddressPool[], inUse: Cidr[]): Cidr | undefined {
  for (const c of poolSubnets(pools)) if (!inUse.some((u) => overlaps(u, c))) return c;
  return undefined;
}

/** The host's IPv4 routes other than default routes (/proc/net/route, main table). */
export async function hostRoutes(path = '/proc/net/route'): Promise<Array<{ iface: string; cidr: Cidr }>> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const out: Array<{ iface: string; cidr: Cidr }> = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const dest = leHex(f[1]!);
    const mask = leHex(f[7]!);
    if (mask === 0) continue;
    const bits = 32 - zeroBits(mask);
    out.push({ iface: f[0]!, cidr: { base: (dest & maskOf(bits)) >>> 0, bits } });
  }
  return out;
}

function leHex(h: string): number {
  const n = parseInt(h, 16) >>> 0;
  return (((n & 255) << 24) | (((n >>> 8) & 255) << 16) | (((n >>> 16) & 255) << 8) | (n >>> 24)) >>> 0;
}

function zeroBits(mask: number): number {
  let zeros = 0;
  for (let i = 0; i < 32; i++) if (((mask >>> i) & 1) === 0) zeros++;
  return zeros;
}

export interface SubnetSpec {
  cidr: Cidr;
  gateway: number;
  /** Where container addresses are allocated from; the whole subnet when no --ip-range. */
  range: Cidr;
}

/** Validates --subnet/--gateway/--ip-range with Docker's messages. */
export function subnetSpec(subnet: string, gateway?: string, ipRange?: string): SubnetSpec {
  const s = parseCidr(subnet);
  if (!s) throw invalidParameter(`invalid CIDR address: ${subnet}`);
  if (s.cidr.bits > 30) throw invalidParameter(`invalid subnet ${subnet}: it leaves no room for addresses`);
  let range = s.cidr;
  if (ipRange) {
    const r = parseCidr(ipRange);
    if (!r) throw invalidParameter(`invalid CIDR address: ${ipRange}`);
    if (r.cidr.bits < s.cidr.bits || !contains(s.cidr, r.cidr.base)) {
      throw invalidParameter(`Invalid pool request: Invalid range ${ipRange} for subnet ${subnet}`);
    }
    range = r.cidr;
  }
  let gw: number;
  if (gateway) {
    const g = parseIp(gateway);
    if (g === undefined) throw invalidParameter(`invalid IP address: ${gateway}`);
    if (!contains(s.cidr, g)) throw invalidParameter(`no matching subnet for gateway ${gateway}`);
    gw = g;
  } else {
    gw = (s.cidr.base + 1) >>> 0;
  }
  return { cidr: s.cidr, gateway: gw, range };
}

/** Lowest free address in the range: not the network or broadcast address, not the gateway, not leased. */
export function allocateIp(spec: SubnetSpec, leased: Set<number>): number | undefined {
  const first = Math.max(spec.range.base, spec.cidr.base + 1);
  const last = Math.min(lastIp(spec.range), lastIp(spec.cidr) - 1);
  for (let ip = first; ip <= last; ip++) {
    if (ip !== spec.gateway && !leased.has(ip >>> 0)) return ip >>> 0;
  }
  return undefined;
}

/** Checks a requested address (--ip) with Docker's texts. */
export function checkRequestedIp(spec: SubnetSpec, ip: number, leased: Set<number>, text: string): void {
  if (!contains(spec.cidr, ip) || ip === spec.cidr.base || ip === lastIp(spec.cidr)) {
    throw invalidParameter(`no configured subnet or ip-range contain the IP address ${text}`);
  }
  if (ip === spec.gateway || leased.has(ip)) throw invalidParameter(`Address already in use`);
}


// ---- IPv6 ------------------------------------------------------------------------------

export interface SubnetSpec6 {
  cidr: Cidr6;
  gateway: bigint;
  range: Cidr6;
}

type IpamConfigLike = { Subnet?: string; IPRange?: string; Gateway?: string; AuxiliaryAddresses?: Record<string, string> };

/** One address family as ValidateIPAM needs it: parse, print, contain; `other` tells the wrong family. */
interface Family<A, C extends { bits: number; base: A }> {
  name: 'IPv4' | 'IPv6';
  parseCidr(s: string): { ip: A; cidr: C } | undefined;
  parseIp(s: string): A | undefined;
  formatIp(a: A): string;
  formatCidr(c: C): string;
  contains(c: C, a: A): boolean;
  overlaps(a: C, b: C): boolean;
  other: { parseCidr(s: string): unknown; parseIp(s: string): unknown };
}

/**
 * Docker's ValidateIPAM for one IPAMConfig of a family: a subnet in canonical form, an ip-range
 * and addresses (gateway, auxiliary) of the same family inside it; messages joined by ipamConfigError.
 */
function ipamErrors<A, C extends { bits: number; base: A }>(f: Family<A, C>, c: IpamConfigLike): string[] {
  const subnet = c.Subnet ?? '';
  const s = f.parseCidr(subnet);
  if (!s) return [`invalid subnet ${subnet}: invalid CIDR block notation`];
  const errs: string[] = [];
  const shown = `${f.formatIp(s.ip)}/${s.cidr.bits}`;
  if (s.ip !== s.cidr.base) errs.push(`invalid subnet ${shown}: it should be ${f.formatCidr(s.cidr)}`);
  if (c.IPRange) {
    const r = f.parseCidr(c.IPRange);
    if (!r) {
      errs.push(f.other.parseCidr(c.IPRange) ? `invalid ip-range ${c.IPRange}: parent subnet is an ${f.name} block` : `invalid ip-range ${c.IPRange}: invalid CIDR block notation`);
    } else {
      if (r.cidr.bits < s.cidr.bits) errs.push(`invalid ip-range ${c.IPRange}: CIDR block is bigger than its parent subnet ${shown}`);
      if (r.ip !== r.cidr.base) errs.push(`invalid ip-range ${f.formatIp(r.ip)}/${r.cidr.bits}: it should be ${f.formatCidr(r.cidr)}`);
      if (!f.overlaps(r.cidr, s.cidr)) errs.push(`invalid ip-range ${c.IPRange}: parent subnet ${shown} doesn't contain ip-range`);
    }
  }
  const addrErr = (a: string): string | undefined => {
    const ip = f.parseIp(a);
    if (ip === undefined) return f.other.parseIp(a) === undefined ? 'invalid address' : `parent subnet is an ${f.name} block`;
    return f.contains(s.cidr, ip) ? undefined : `parent subnet ${shown} doesn't contain this address`;
  };
  if (c.Gateway) {
    const e = addrErr(c.Gateway);
    if (e) errs.push(`invalid gateway ${c.Gateway}: ${e}`);
  }
  for (const [name, a] of Object.entries(c.AuxiliaryAddresses ?? {})) {
    const e = addrErr(a);
    if (e) errs.push(`invalid auxiliary address ${name}: ${e}`);
  }
  return errs;
}

const IPV4: Family<number, Cidr> = { name: 'IPv4', parseCidr, parseIp, formatIp, formatCidr, contains, overlaps, other: { parseCidr: parseCidr6, parseIp: parseIp6 } };
const IPV6: Family<bigint, Cidr6> = {
  name: 'IPv6',
  parseCidr: parseCidr6,
  parseIp: parseIp6,
  formatIp: formatIp6,
  formatCidr: formatCidr6,
  contains: contains6,
  overlaps: overlaps6,
  other: { parseCidr, parseIp },
};

/** ValidateIPAM's faults of an IPv4 IPAMConfig. */
export function ipamErrors4(c: IpamConfigLike): string[] {
  return ipamErrors(IPV4, c);
}

/** ValidateIPAM's faults of an IPv6 IPAMConfig. */
export function ipamErrors6(c: IpamConfigLike): string[] {
  return ipamErrors(IPV6, c);
}

/** Docker's joinError under "invalid network config:". */
export function ipamConfigError(errs: string[]): string {
  return `invalid network config:\n${errs.length === 1 ? errs[0] : errs.map((e) => `* ${e}`).join('\n')}`;
}

/** A validated IPv6 IPAMConfig (see ipamErrors6); the gateway defaults to the subnet's first address. */
export function subnetSpec6(subnet: string, gateway?: string, ipRange?: string): SubnetSpec6 {
  const s = parseCidr6(subnet);
  if (!s) throw invalidParameter(`invalid subnet ${subnet}: invalid CIDR block notation`);
  const range = ipRange ? parseCidr6(ipRange)?.cidr ?? s.cidr : s.cidr;
  const gw = gateway ? parseIp6(gateway) : undefined;
  return { cidr: s.cidr, gateway: gw ?? s.cidr.base + 1n, range };
}

/** Lowest free address of the range: not the subnet's first (anycast) address, not the gateway, not leased. */
export function allocateIp6(spec: SubnetSpec6, leased: Set<bigint>): bigint | undefined {
  const first = spec.range.base > spec.cidr.base ? spec.range.base : spec.cidr.base + 1n;
  const endRange = lastIp6(spec.range);
  const endSubnet = lastIp6(spec.cidr);
  const last = endRange < endSubnet ? endRange : endSubnet;
  // Leases are few: at most leased.size + 2 candidates are ever looked at.
  for (let ip = first; ip <= last; ip++) if (ip !== spec.gateway && !leased.has(ip)) return ip;
  return undefined;
}

export function checkRequestedIp6(spec: SubnetSpec6, ip: bigint, leased: Set<bigint>, text: string): void {
  if (!contains6(spec.cidr, ip) || ip === spec.cidr.base) throw invalidParameter(`no configured subnet or ip-range contain the IP address ${text}`);
  if (ip === spec.gateway || leased.has(ip)) throw invalidParameter(`Address already in use`);
}

export function isV6Pool(p: AddressPool): boolean {
  return p.base.includes(':');
}

/**
 * Docker's per-host ULA pool, added when no IPv6 pool is configured: fd00::/8 with 40 bits of
 * sha256(engine ID) as Global ID (RFC 4193 §3.2.2, loosely), a /48 split into /64s.
 */
export function ulaPool(hostId: string): AddressPool {
  const sha = createHash('sha256').update(hostId).digest();
  const gid = sha.readBigUInt64BE(0) & ((1n << 40n) - 1n);
  return { base: formatCidr6({ base: (0xfdn << 120n) | (gid << 80n), bits: 48 }), size: 64 };
}

/** The first IPv6 pool subnet overlapping nothing in `inUse`. */
export function pickSubnet6(pools: AddressPool[], inUse: Cidr6[]): Cidr6 | undefined {
  for (const p of pools) {
    const parsed = parseCidr6(p.base);
    if (!parsed || p.size < parsed.cidr.bits || p.size > 128) throw invalidParameter(`invalid address pool ${p.base} with size ${p.size}`);
    const step = 1n << BigInt(128 - p.size);
    const end = lastIp6(parsed.cidr);
    for (let n = parsed.cidr.base; n <= end; n += step) {
      const c = { base: n, bits: p.size };
      // A pool of 2^64 subnets: skip past a whole overlapping block instead of walking it.
      const hit = inUse.find((u) => overlaps6(u, c));
      if (!hit) return c;
      if (hit.bits < p.size) n = lastIp6(hit) + 1n - step;
    }
  }
  return undefined;
}

/** IPv6 nameservers of the host's resolv.conf: what Docker keeps IPv6 pools away from. */
export async function hostNameservers6(path = '/etc/resolv.conf'): Promise<Cidr6[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const out: Cidr6[] = [];
  for (const ns of parseResolvConf(text).nameservers) {
    const ip = parseIp6(ns);
    if (ip !== undefined) out.push({ base: ip, bits: 128 });
  }
  return out;
}
