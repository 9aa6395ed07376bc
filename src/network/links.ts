/**
 * Links: the bridges and the veth pairs that put containers on them. A container's pair is made,
 * configured and enslaved over rtnetlink by the spawn helper (src/native/netlink-links.c; with
 * iproute2's `ip` when the daemon runs without the helper), and deleted the same way; the DNS
 * redirect of a user-defined network is iptables-restore inside the namespace. Bridges and the
 * rarer changes use `ip`.
 */
import { randomBytes } from 'node:crypto';
import { access, readFile, writeFile } from 'node:fs/promises';
import { helperSyscall, spawnHelperInUse } from '../lib/spawner.js';
import { run, ipBatch, runInNetns, writeSysctlInNetns } from './exec.js';

export async function linkExists(name: string): Promise<boolean> {
  return access(`/sys/class/net/${name}`).then(
    () => true,
    () => false,
  );
}

/** /sys/class/net/<dev>/addr_assign_type of an address set by the user (NET_ADDR_SET). */
const ADDR_SET = '3';

async function readSys(dev: string, file: string): Promise<string> {
  return (await readFile(`/sys/class/net/${dev}/${file}`, 'utf8')).trim();
}

/** A random locally administered unicast MAC address. */
export function randomMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0]! & 0xfc) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

async function sysctl(path: string, value: string): Promise<void> {
  await writeFile(path, value).catch(() => {});
}

/**
 * Creates the bridge when missing, with the gateway address, up; route_localnet for 127.0.0.1
 * ports. With `gateway6Cidr` (an IPv6 network) IPv6 is enabled on it and the IPv6 gateway added
 * without duplicate address detection (Docker's NODAD: usable at once, e.g. by the DNS server).
 * An IPv6-only network's bridge (no `gatewayCidr`) gets no IPv4 address and no IPv4 switch.
 */
export async function ensureBridge(name: string, gatewayCidr: string | undefined, mtu: number, gateway6Cidr?: string): Promise<void> {
  let lines: string[] = [];
  // A bridge whose MAC address nobody set takes its lowest port's, so it changed whenever a
  // container left or joined, and the others' neighbour entry for the gateway went stale: DNS and
  // routed traffic stalled for seconds. Set once, as libnetwork sets a random one (kept on restart).
  if (!(await linkExists(name))) lines.push(`link add name ${name} address ${randomMac()} mtu ${mtu} type bridge`);
  else if ((await readSys(name, 'addr_assign_type')) !== ADDR_SET) lines.push(`link set dev ${name} address ${await readSys(name, 'address')}`);
  if (gateway6Cidr) {
    // The bridge's IPv6 switch exists once the bridge does.
    if (lines.length) await ipBatch(lines);
    await writeFile(`/proc/sys/net/ipv6/conf/${name}/disable_ipv6`, '0\n');
    lines = [`addr replace ${gateway6Cidr} dev ${name} nodad`];
  }
  if (gatewayCidr) lines.push(`addr replace ${gatewayCidr} dev ${name}`);
  lines.push(`link set dev ${name} up`);
  await ipBatch(lines);
  if (!gatewayCidr) return;
  await sysctl(`/proc/sys/net/ipv4/conf/${name}/route_localnet`, '1');
  await sysctl('/proc/sys/net/ipv4/ip_forward', '1');
}

/** Removes a device's global IPv6 addresses (its IPv6 configuration changed). */
export async function flushIpv6Addresses(name: string): Promise<void> {
  if (await linkExists(name)) await run('ip', ['-6', 'addr', 'flush', 'dev', name, 'scope', 'global']).catch(() => {});
}

export async function deleteLink(name: string): Promise<void> {
  if (!(await linkExists(name))) return;
  const ok = spawnHelperInUse()
    ? helperSyscall({ op: 'linkdel', target: name }, `ip link del dev ${name}`, 'ip')
    : run('ip', ['link', 'del', 'dev', name]);
  await ok.catch(() => {});
}

export interface VethSpec {
  netnsPath: string;
  hostVeth: string;
  bridge: string;
  /** Interface name inside the container (eth0, eth1, …). */
  ifname: string;
  /** a.b.c.d/len; none on an IPv6-only network. */
  address?: string;
  /** IPv6 address/len on an IPv6 network; without it IPv6 is disabled on the interface, as Docker does. */
  address6?: string;
  /** IPv6 default route through this gateway (the container's first IPv6 network). */
  defaultGateway6?: string;
  mac: string;
  mtu: number;
  /** Default route through this gateway (the container's first network). */
  defaultGateway?: string;
  /** Redirect 127.0.0.11:53 to the embedded DNS on the gateway (user-defined networks). */
  dns?: { containerIp: string; serverIp: string; udpPort: number; tcpPort: number };
}

function dnsRedirect(d: NonNullable<VethSpec['dns']>): string {
  const lines = ['*nat'];
  for (const [proto, port] of [['udp', d.udpPort], ['tcp', d.tcpPort]] as const) {
    lines.push(`-A OUTPUT -d 127.0.0.11/32 -p ${proto} -m ${proto} --dport 53 -j DNAT --to-destination ${d.serverIp}:${port}`);
    lines.push(`-A POSTROUTING -s 127.0.0.0/8 -d ${d.serverIp}/32 -p ${proto} -m ${proto} --dport ${port} -j SNAT --to-source ${d.containerIp}`);
  }
  lines.push('COMMIT');
  return lines.join('\n');
}

/**
 * Creates the pair from inside the container's namespace (so that a path such as
 * /proc/<pid>/ns/net is enough), the peer going straight to the daemon's namespace, configures
 * the inside end, then enslaves the host end: the namespace is complete before the host end joins
 * the bridge. On failure the pair is gone.
 */
export async function addVeth(v: VethSpec): Promise<void> {
  try {
    if (spawnHelperInUse()) {
      // The DNS redirect first (its rules name no interface), then the rest in one helper call.
      if (v.dns) await redirectDns(v.netnsPath, v.dns);
      await addVethByNetlink(v);
    } else {
      await addVethByIp(v);
    }
  } catch (err) {
    // The host end is made with the pair: deleting it deletes the inside end too.
    await deleteLink(v.hostVeth);
    if (v.dns) await removeDnsRedirect(v.netnsPath, v.dns).catch(() => {});
    throw err;
  }
}

/**
 * Both ends without a transmit queue length and the IPv4 address with its broadcast, as Docker's
 * netlink library makes them; the inside end's IPv6 switch is set before it goes up (no
 * link-local address, no multicast groups on an IPv4-only network).
 */
function createArgs(v: VethSpec): string[] {
  const mtu = String(v.mtu);
  return ['link', 'add', v.ifname, 'mtu', mtu, 'txqueuelen', '0', 'address', v.mac, 'type', 'veth', 'peer', 'name', v.hostVeth, 'mtu', mtu, 'txqueuelen', '0', 'netns', String(process.pid)];
}

/** What addVethByIp does, over rtnetlink in a forked copy of the spawn helper (netlink-links.c). */
function addVethByNetlink(v: VethSpec): Promise<void> {
  const q = {
    netns: v.netnsPath,
    ifname: v.ifname,
    peer: v.hostVeth,
    mac: v.mac,
    mtu: v.mtu,
    bridge: v.bridge,
    addr4: v.address ?? '',
    addr6: v.address6 ?? '',
    gw4: v.defaultGateway ?? '',
    gw6: v.defaultGateway6 ?? '',
  };
  return helperSyscall({ op: 'veth', ...q }, `ip ${createArgs(v).join(' ')}`, 'ip');
}

/**
 * The `ip -batch` lines that address an interface inside the container's namespace and bring it
 * and lo up, with the default routes through the gateways it has (a veth's or a macvlan/ipvlan
 * device's alike).
 */
export function interfaceUpLines(ifname: string, a: { address?: string; address6?: string; defaultGateway?: string; defaultGateway6?: string }): string[] {
  const lines = a.address ? [`addr add ${a.address} brd + dev ${ifname}`] : [];
  if (a.address6) lines.push(`addr add ${a.address6} dev ${ifname} nodad`);
  lines.push('link set lo up', `link set ${ifname} up`);
  if (a.defaultGateway) lines.push(`route replace default via ${a.defaultGateway} dev ${ifname}`);
  if (a.defaultGateway6) lines.push(`route replace default via ${a.defaultGateway6} dev ${ifname}`);
  return lines;
}

/** The daemon without its spawn helper: iproute2, three processes. */
async function addVethByIp(v: VethSpec): Promise<void> {
  const inner = interfaceUpLines(v.ifname, v);
  await runInNetns(v.netnsPath, 'ip', createArgs(v));
  // Skipped when the kernel has no IPv6.
  await writeSysctlInNetns(v.netnsPath, `/proc/sys/net/ipv6/conf/${v.ifname}/disable_ipv6`, v.address6 ? '0' : '1', { ifPresent: true });
  await ipBatch(inner, { netns: v.netnsPath });
  if (v.dns) await redirectDns(v.netnsPath, v.dns);
  await ipBatch([`link set dev ${v.hostVeth} master ${v.bridge} up`]);
}

/** Redirects the namespace's 127.0.0.11:53 to the embedded DNS listener `dns` names. */
export async function redirectDns(netnsPath: string, dns: NonNullable<VethSpec['dns']>): Promise<void> {
  await writeSysctlInNetns(netnsPath, '/proc/sys/net/ipv4/conf/all/route_localnet', '1');
  await runInNetns(netnsPath, 'iptables-restore', ['--noflush'], dnsRedirect(dns) + '\n');
}

/** Replaces the namespace's default route (IPv4 or IPv6, after the gateway's family). */
export async function replaceDefaultRoute(netnsPath: string, gateway: string, ifname: string): Promise<void> {
  const family = gateway.includes(':') ? ['-6'] : [];
  await runInNetns(netnsPath, 'ip', [...family, 'route', 'replace', 'default', 'via', gateway, 'dev', ifname]);
}

export async function removeDnsRedirect(netnsPath: string, d: NonNullable<VethSpec['dns']>): Promise<void> {
  const text = dnsRedirect(d).replace(/^-A /gm, '-D ');
  await runInNetns(netnsPath, 'iptables-restore', ['--noflush'], text + '\n');
}

/** Host-side veths enslaved to a bridge. */
export async function bridgePorts(bridge: string): Promise<string[]> {
  const out = await run('ip', ['-o', 'link', 'show', 'master', bridge]).catch(() => '');
  return out
    .split('\n')
    .map((l) => /^\d+:\s+([^@:]+)/.exec(l)?.[1])
    .filter((x): x is string => !!x);
}
