/** IPv4 addresses and CIDR prefixes as 32-bit unsigned integers. */

export interface Cidr {
  /** Network address (host bits cleared). */
  base: number;
  bits: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIp(s: string): number | undefined {
  const m = IPV4.exec(s.trim());
  if (!m) return undefined;
  const parts = m.slice(1, 5).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function maskOf(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** Parses `a.b.c.d/n`; `strict` refuses host bits (Docker accepts them for --subnet and clears them). */
export function parseCidr(s: string): { ip: number; cidr: Cidr } | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s.trim());
  if (!m) return undefined;
  const ip = parseIp(m[1]!);
  const bits = Number(m[2]);
  if (ip === undefined || bits > 32) return undefined;
  return { ip, cidr: { base: (ip & maskOf(bits)) >>> 0, bits } };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.base)}/${c.bits}`;
}

export function size(c: Cidr): number {
  return 2 ** (32 - c.bits);
}

export function contains(c: Cidr, ip: number): boolean {
  return ((ip & maskOf(c.bits)) >>> 0) === c.base;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const bits = Math.min(a.bits, b.bits);
  const m = maskOf(bits);
  return ((a.base & m) >>> 0) === ((b.base & m) >>> 0);
}

/** Last address of the prefix (the broadcast address for prefixes shorter than /31). */
export function lastIp(c: Cidr): number {
  return (c.base + size(c) - 1) >>> 0;
}

/** Docker's legacy MAC for an IPv4 endpoint: 02:42 followed by the four address bytes. */
export function macForIp(ip: number): string {
  const bytes = [0x02, 0x42, ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/**
 * A MAC-48 address as `ip link` takes it (lower case, colons), from the colon or dash form Go's
 * ParseMAC accepts; undefined for anything else, since it is written into an `ip -batch` line.
 */
export function normalizeMac(s: string): string | undefined {
  if (!/^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(?:\1[0-9a-fA-F]{2}){4}$/.test(s)) return undefined;
  return s.toLowerCase().replaceAll('-', ':');
}

/** Whether the kernel takes `mac` (normalized) as an interface's address: neither multicast nor all zeros. */
export const isAssignableMac = (mac: string): boolean => (parseInt(mac.slice(0, 2), 16) & 1) === 0 && /[1-9a-f]/.test(mac);
