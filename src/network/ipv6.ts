/** IPv6 addresses and prefixes as 128-bit bigints, formatted as Go's netip does (RFC 5952). */
import { isIP } from 'node:net';

export interface Cidr6 {
  /** Network address (host bits cleared). */
  base: bigint;
  bits: number;
}

const ALL = (1n << 128n) - 1n;

/** Parses an IPv6 address (no zone, no brackets); undefined for anything else, IPv4 included. */
export function parseIp6(s: string): bigint | undefined {
  if (s !== s.trim() || isIP(s) !== 6 || s.includes('%')) return undefined;
  let text = s.toLowerCase();
  const tail: number[] = [];
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const parts = v4[2]!.split('.').map(Number);
    tail.push((parts[0]! << 8) | parts[1]!, (parts[2]! << 8) | parts[3]!);
    text = v4[1]!.endsWith('::') ? v4[1]! : v4[1]!.slice(0, -1);
  }
  const [head, rest] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const groups = (x: string) => (x ? x.split(':').map((g) => parseInt(g, 16)) : []);
  const left = groups(head);
  const right = [...(rest === undefined ? [] : groups(rest)), ...tail];
  const fill = rest === undefined ? 0 : 8 - left.length - right.length;
  const all = rest === undefined ? [...left, ...right] : [...left, ...Array<number>(fill).fill(0), ...right];
  if (all.length !== 8) return undefined;
  return all.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

export function formatIp6(n: bigint): string {
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  // The longest run of two or more zero groups is written as "::" (the first one on a tie).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i >= 2 && j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

export function maskOf6(bits: number): bigint {
  return bits === 0 ? 0n : (ALL << BigInt(128 - bits)) & ALL;
}

/** Parses `addr/n`: the address as written and the prefix with host bits cleared. */
export function parseCidr6(s: string): { ip: bigint; cidr: Cidr6 } | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const ip = parseIp6(m[1]!);
  const bits = Number(m[2]);
  if (ip === undefined || bits > 128 || String(bits) !== m[2]) return undefined;
  return { ip, cidr: { base: ip & maskOf6(bits), bits } };
}

export function formatCidr6(c: Cidr6): string {
  return `${formatIp6(c.base)}/${c.bits}`;
}

export function contains6(c: Cidr6, ip: bigint): boolean {
  return (ip & maskOf6(c.bits)) === c.base;
}

export function overlaps6(a: Cidr6, b: Cidr6): boolean {
  const m = maskOf6(Math.min(a.bits, b.bits));
  return (a.base & m) === (b.base & m);
}

export function lastIp6(c: Cidr6): bigint {
  return c.base | (ALL >> BigInt(c.bits));
}

/** The 16 bytes of an address, for DNS AAAA records. */
export function ip6Bytes(n: bigint): Buffer {
  const b = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) b[i] = Number((n >> BigInt((15 - i) * 8)) & 0xffn);
  return b;
}

/** `ip:port` with brackets around IPv6 addresses, as Go's net.JoinHostPort writes it. */
export function joinHostPort(ip: string, port: number | string): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
