/**
 * Address management: choosing a subnet for a new network from the address pools (skipping what
 * the host and other networks already use, as Docker does) and leasing addresses inside it.
 */
import { readFile } from 'node:fs/promises';
import { invalidParameter } from '../lib/errors.js';
import { contains, lastIp, maskOf, overlaps, parseCidr, parseIp, size, type Cidr } from './ipv4.js';

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
