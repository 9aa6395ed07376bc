/**
 * Create-time checks of the strings in a create request that end up in a file format, a text
 * protocol or a command line: /etc/hosts, /etc/resolv.conf, /etc/hostname, sysctl paths, mount
 * options, the runtime's device list. Docker's daemon refuses most of these with the texts used
 * here; where only the Docker CLI checks (DNS, sysctl names, device modes), its texts are used,
 * so that an API client cannot slip past what the CLI refuses. Pure: no disk, no processes.
 */
import { isIP } from 'node:net';
import type { ContainerConfig, HostConfig } from '../../api/types.js';
import { invalidParameter } from '../../lib/errors.js';
import { parseDeviceCgroupRule, validateDeviceMappings } from '../../runtime/devices.js';
import { cleanPath } from '../../volume/mount-parser.js';
import { normalizeMac } from '../../network/ipv4.js';

/** Whitespace or a control character: what may end a line, a field or a list item. */
const SEPARATOR = /[\s\x00-\x1f\x7f]/;

/** Go's %q for the texts Docker prints with it (ASCII control characters escaped). */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** Docker's ValidateExtraHost (`name:ip`, ip an address or `host-gateway`); a name is one /etc/hosts field. */
export function validateExtraHost(entry: string): void {
  const i = entry.indexOf(':');
  const name = i < 0 ? '' : entry.slice(0, i);
  const ip = i < 0 ? '' : entry.slice(i + 1);
  if (!name || SEPARATOR.test(name)) throw invalidParameter(`bad format for add-host: ${goQuote(entry)}`);
  if (ip !== 'host-gateway' && (!isIP(ip) || SEPARATOR.test(ip))) {
    throw invalidParameter(`invalid IP address in add-host: ${goQuote(ip)}`);
  }
}

/** A hostname or domain name: one field of /etc/hosts, at most what sethostname(2) takes. */
function validateHostname(name: string | undefined, what: 'hostname' | 'domainname'): void {
  if (!name) return;
  if (SEPARATOR.test(name) || name.length > 255 || (what === 'hostname' && name.length > 64)) {
    throw invalidParameter(`invalid ${what} format: ${goQuote(name)}`);
  }
}

/** The Docker CLI's ValidateDNSSearch: a domain with a letter, or `.` (no search domain). */
export function validateDnsSearch(domain: string): void {
  if (domain === '.') return;
  const label = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
  const ok = /[a-zA-Z]/.test(domain) && new RegExp(`^${label}(?:\\.${label})*\\.?$`).test(domain);
  if (!ok) throw invalidParameter(`${domain} is not a valid domain`);
  if (domain.length > 255) throw invalidParameter(`${domain} is not a valid domain: longer than 255 characters`);
}

/** The Docker CLI's namespaced sysctls (opts.ValidateSysctl); net.* needs a network namespace of its own. */
const IPC_SYSCTLS = new Set([
  'kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

export function validateSysctl(name: string, value: string, networkMode: string): void {
  const namespaced = IPC_SYSCTLS.has(name) || name.startsWith('net.') || name.startsWith('fs.mqueue.');
  // A name is a path under /proc/sys: nothing that could climb out of it or split a line.
  if (!namespaced || SEPARATOR.test(name) || /[/=]/.test(name) || name.split('.').includes('')) {
    throw invalidParameter(`sysctl '${name}=${value}' is not allowed`);
  }
  if (name.startsWith('net.') && networkMode === 'host') {
    throw invalidParameter(`sysctl ${goQuote(name)} not allowed in host network namespace`);
  }
}

/** Options of a `--tmpfs` mount that would make it something else than a tmpfs. */
const NOT_TMPFS_OPTIONS = new Set(['bind', 'rbind', 'remount', 'move']);

function validateTmpfs(tmpfs: Record<string, string>): void {
  for (const [dest, opts] of Object.entries(tmpfs)) {
    // Docker's ValidateTmpfsMountDestination (not root, absolute), its own texts.
    if (cleanPath(dest.replaceAll('\\', '/')) === '/') throw invalidParameter("invalid specification: destination can't be '/'");
    if (!dest.replaceAll('\\', '/').startsWith('/')) {
      throw invalidParameter(`invalid mount path: '${dest}' mount path must be absolute`);
    }
    if (/[\0\n]/.test(dest)) throw invalidParameter(`invalid mount path: ${goQuote(dest)}`);
    for (const o of (opts ?? '').split(',')) {
      const opt = o.trim();
      if (NOT_TMPFS_OPTIONS.has(opt) || /[\0\n]/.test(opt)) throw invalidParameter(`invalid tmpfs option ${goQuote(opt)}`);
    }
  }
}

/** A MAC address for `ip link … address` (network/ipv4.ts normalizeMac). */
export function validateMacAddress(mac: string | undefined): void {
  if (mac && !normalizeMac(mac)) throw invalidParameter(`invalid MAC address ${mac}`);
}

/** Every check above over one create request (Config + HostConfig). */
export function validateCreateStrings(config: ContainerConfig, hc: HostConfig): void {
  validateHostname(config.Hostname, 'hostname');
  validateHostname(config.Domainname, 'domainname');
  validateMacAddress((config as { MacAddress?: string }).MacAddress);
  // Docker's ValidateEnv: a variable has a name.
  for (const e of config.Env ?? []) {
    if (e.split('=', 1)[0] === '' || e.includes('\0')) throw invalidParameter(`invalid environment variable: ${e}`);
  }
  for (const h of hc.ExtraHosts ?? []) validateExtraHost(h);
  for (const ip of hc.Dns ?? []) {
    if (!isIP(ip) || SEPARATOR.test(ip)) throw invalidParameter(`${ip} is not an ip address`);
  }
  for (const d of hc.DnsSearch ?? []) validateDnsSearch(d);
  for (const o of hc.DnsOptions ?? []) {
    if (!o || SEPARATOR.test(o)) throw invalidParameter(`invalid DNS option ${goQuote(o)}`);
  }
  const networkMode = hc.NetworkMode ?? '';
  for (const [k, v] of Object.entries(hc.Sysctls ?? {})) validateSysctl(k, v, networkMode);
  validateTmpfs(hc.Tmpfs ?? {});
  if (hc.CgroupParent && /[\x00-\x1f\x7f:]/.test(hc.CgroupParent)) {
    throw invalidParameter(`invalid cgroup parent ${goQuote(hc.CgroupParent)}`);
  }
  validateDeviceMappings(hc.Devices);
  for (const rule of hc.DeviceCgroupRules ?? []) parseDeviceCgroupRule(rule);
  for (const k of Object.keys(hc.Annotations ?? {})) {
    if (k === '') throw invalidParameter('invalid Annotations: the empty string is not permitted as an annotation key');
  }
}
