/**
 * The per-container /etc/hostname, /etc/hosts and /etc/resolv.conf that Docker bind-mounts
 * into every container. Builders are pure; writeEtcFiles puts them in the container dir.
 */
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hostname as osHostname } from 'node:os';
import { embeddedResolvConf } from '../../network/resolv.js';
import { parseResolvConf } from '../../lib/resolv-conf.js';

/**
 * Whether a string can be one field of these files: create refuses the others
 * (daemon/create-strings.ts); records written before that check are skipped here, never written.
 */
const oneField = (s: string) => s !== '' && !/[\s\x00-\x1f\x7f]/.test(s);

/**
 * The names of a container's own lines in /etc/hosts, as libnetwork writes them: the full name
 * (hostname, then `.domainname`), and the part before its first dot when it has one.
 */
function ownNames(hostname: string, domainname?: string): string | undefined {
  if (!oneField(hostname) || (domainname && !oneField(domainname))) return undefined;
  const fqdn = domainname ? `${hostname}.${domainname}` : hostname;
  const dot = fqdn.indexOf('.');
  return dot > 0 ? `${fqdn} ${fqdn.slice(0, dot)}` : fqdn;
}

export function hostsFile(opts: { hostname: string; domainname?: string; addresses?: string[]; extraHosts?: string[]; links?: string[] }): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::\tip6-localnet',
    'ff00::\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  for (const h of opts.extraHosts ?? []) {
    const i = h.indexOf(':');
    if (i > 0 && oneField(h.slice(0, i)) && oneField(h.slice(i + 1))) lines.push(`${h.slice(i + 1)}\t${h.slice(0, i)}`);
  }
  // Legacy links come after --add-host, as libnetwork appends them to the extra hosts.
  lines.push(...(opts.links ?? []));
  const names = ownNames(opts.hostname, opts.domainname);
  if (names) for (const ip of opts.addresses ?? []) lines.push(`${ip}\t${names}`);
  return lines.join('\n') + '\n';
}

/**
 * A running container's new endpoint (connect) or one it left (disconnect): its addresses' lines
 * are added to or removed from /etc/hosts in place, as libnetwork does on a join or a leave, so
 * that whatever else the file holds (a process's own edits) stays.
 */
export async function updateHostsLines(path: string, change: { add?: string[]; remove?: string[]; hostname: string; domainname?: string }): Promise<void> {
  const text = await readContainerEtcFile(path);
  if (text === undefined) return;
  const gone = new Set(change.remove ?? []);
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const kept = lines.filter((l) => !gone.has(l.split(/\s/)[0]!));
  const names = ownNames(change.hostname, change.domainname);
  if (names) for (const ip of change.add ?? []) kept.push(`${ip}\t${names}`);
  if (kept.length !== lines.length || change.add?.length) await writeFile(path, kept.join('\n') + '\n');
}

/**
 * A legacy link removed from a running container: its line leaves /etc/hosts, whatever else the
 * file holds stays (a file grown past MAX_ETC_FILE is left as it is).
 */
export async function removeHostsLine(path: string, line: string): Promise<void> {
  const text = await readContainerEtcFile(path);
  if (text !== undefined) await writeFile(path, text.split('\n').filter((l) => l !== line).join('\n'));
}

/** What a connect or a link removal reads of a container's hosts or resolv.conf; Docker's own files are a few hundred bytes. */
const MAX_ETC_FILE = 1024 * 1024;

/**
 * A container's /etc/hosts or /etc/resolv.conf, which a process inside it can write: a file grown
 * past MAX_ETC_FILE is left as it is (undefined) rather than read whole into the daemon's memory.
 */
async function readContainerEtcFile(path: string): Promise<string | undefined> {
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return undefined;
  try {
    const buf = Buffer.alloc(MAX_ETC_FILE + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > MAX_ETC_FILE) return undefined;
    }
    return buf.toString('utf8', 0, n);
  } finally {
    await fh.close();
  }
}

const DEFAULT_NAMESERVERS = ['8.8.8.8', '8.8.4.4'];
const isLoopback = (ip: string) => /^127\./.test(ip) || ip === '::1';

/**
 * Docker's resolv.conf for a container that has its own network namespace: the host's file,
 * minus loopback nameservers (they cannot be reached from the container); Google's public
 * resolvers when none remain. --dns / --dns-search / --dns-option replace the host's values.
 */
export function containerResolvConf(
  hostResolv: string,
  overrides: { dns?: string[]; dnsSearch?: string[]; dnsOptions?: string[] } = {},
): string {
  const { nameservers: ns, search, options } = parseResolvConf(hostResolv);
  let servers = overrides.dns?.length ? overrides.dns.filter(oneField) : ns.filter((s) => !isLoopback(s));
  if (servers.length === 0) servers = DEFAULT_NAMESERVERS;
  const searchList = overrides.dnsSearch?.length ? overrides.dnsSearch.filter((s) => s !== '.' && oneField(s)) : search;
  const opts = overrides.dnsOptions?.length ? overrides.dnsOptions.filter(oneField) : options;
  const out = servers.map((s) => `nameserver ${s}`);
  if (searchList.length) out.push(`search ${searchList.join(' ')}`);
  if (opts.length) out.push(`options ${opts.join(' ')}`);
  return out.join('\n') + '\n';
}

/**
 * A connect to a user-defined network gives a container that had the default bridge alone the
 * embedded DNS, as libnetwork does, unless a process in it has changed /etc/resolv.conf since the
 * daemon wrote it (then the file keeps the process's content).
 */
export async function useEmbeddedResolvConf(path: string, overrides: { dns?: string[]; dnsSearch?: string[]; dnsOptions?: string[] }): Promise<void> {
  const [current, hostResolv] = await Promise.all([readContainerEtcFile(path), readFile('/etc/resolv.conf', 'utf8').catch(() => '')]);
  if (current === undefined || current !== containerResolvConf(hostResolv, overrides)) return;
  await writeFile(path, embeddedResolvConf(hostResolv, overrides));
}

export interface DnsOverrides {
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
}

/** A container's --dns, --dns-search and --dns-option, each one it lacks taken from the daemon's. */
export function dnsOverrides(hc: { Dns?: string[] | null; DnsSearch?: string[] | null; DnsOptions?: string[] | null }, defaults: DnsOverrides = {}): DnsOverrides {
  const pick = (own: string[] | null | undefined, daemon: string[] | undefined) => (own?.length ? own : daemon?.length ? daemon : undefined);
  return { dns: pick(hc.Dns, defaults.dns), dnsSearch: pick(hc.DnsSearch, defaults.dnsSearch), dnsOptions: pick(hc.DnsOptions, defaults.dnsOptions) };
}

export interface EtcPaths {
  hostname: string;
  hosts: string;
  resolvConf: string;
}

export function etcPaths(containerDir: string): EtcPaths {
  return {
    hostname: join(containerDir, 'hostname'),
    hosts: join(containerDir, 'hosts'),
    resolvConf: join(containerDir, 'resolv.conf'),
  };
}

/** Makes sure the three files exist (bind-mount sources) without writing their content yet. */
export async function touchEtcFiles(paths: EtcPaths): Promise<void> {
  await Promise.all([paths.hostname, paths.hosts, paths.resolvConf].map((p) => writeFile(p, '', { flag: 'a' })));
}

/**
 * Writes the three files. With the host network the host's own hosts and resolv.conf are used.
 * They are regenerated at every start, so a plain write (no fsync) is enough.
 */
export async function writeEtcFiles(
  paths: EtcPaths,
  opts: {
    hostname: string;
    domainname?: string;
    hostNetwork: boolean;
    extraHosts?: string[];
    dns?: string[];
    dnsSearch?: string[];
    dnsOptions?: string[];
    /** The container's addresses on its networks, once networking is attached (each network's IPv4, then IPv6). */
    addresses?: string[];
    /** The embedded DNS on user-defined networks. */
    nameservers?: string[];
    /** What `--add-host name:host-gateway` resolves to. */
    hostGateway?: string;
    /** The default bridge's IPv6 gateway, when it has IPv6. */
    hostGateway6?: string;
    /** Legacy links' `ip\talias hostname name` lines (daemon/legacy-links.ts). */
    links?: string[];
  },
): Promise<void> {
  const hostResolv = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  // Records created before create filled in the host's name for the host network have none.
  const hostname = opts.hostNetwork ? opts.hostname || osHostname() : opts.hostname;
  // host-gateway is every gateway of the default bridge: IPv4, and IPv6 when it has IPv6 (Docker 28).
  const gateways = [opts.hostGateway, opts.hostGateway6].filter((g): g is string => !!g);
  const extraHosts = opts.extraHosts?.flatMap((h) =>
    gateways.length && h.endsWith(':host-gateway') ? gateways.map((g) => h.replace(/host-gateway$/, g)) : [h],
  );
  // With --add-host, a host-network container's hosts file is not the host's (Docker 28), so that
  // a name in the host's file can be overridden.
  const hosts = opts.hostNetwork && !extraHosts?.length
    ? await readFile('/etc/hosts', 'utf8').catch(() => hostsFile({ hostname }))
    : hostsFile({ hostname, domainname: opts.domainname, extraHosts, links: opts.links, addresses: opts.addresses });
  const resolv = opts.nameservers?.length
    ? embeddedResolvConf(hostResolv, opts)
    : opts.hostNetwork && !opts.dns?.length && !opts.dnsSearch?.length && !opts.dnsOptions?.length
      ? hostResolv
      : containerResolvConf(hostResolv, opts);
  await Promise.all([
    writeFile(paths.hostname, (oneField(hostname) ? hostname : '') + '\n'),
    writeFile(paths.hosts, hosts),
    writeFile(paths.resolvConf, resolv),
  ]);
}
