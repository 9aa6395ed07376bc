/**
 * Links: the bridges and the veth pairs that put containers on them, via iproute2. A container's
 * side is configured by one `nsenter --net=<netns>` process (ip -batch, then the DNS redirect), the
 * host side by one `ip` process.
 */
import { access, writeFile } from 'node:fs/promises';
import { run, ipBatch } from './exec.js';

export async function linkExists(name: string): Promise<boolean> {
  return access(`/sys/class/net/${name}`).then(
    () => true,
    () => false,
  );
}

async function sysctl(path: string, value: string): Promise<void> {
  await writeFile(path, value).catch(() => {});
}

/** Creates the bridge when missing, with the gateway address, up; route_localnet for 127.0.0.1 ports. */
export async function ensureBridge(name: string, gatewayCidr: string, mtu: number): Promise<void> {
  const lines: string[] = [];
  if (!(await linkExists(name))) lines.push(`link add name ${name} mtu ${mtu} type bridge`);
  lines.push(`addr replace ${gatewayCidr} dev ${name}`, `link set ${name} up`);
  await ipBatch(lines);
  await sysctl(`/proc/sys/net/ipv4/conf/${name}/route_localnet`, '1');
  await sysctl('/proc/sys/net/ipv4/ip_forward', '1');
}

export async function deleteLink(name: string): Promise<void> {
  if (await linkExists(name)) await run('ip', ['link', 'del', name]).catch(() => {});
}

export interface VethSpec {
  netnsPath: string;
  hostVeth: string;
  bridge: string;
  /** Interface name inside the container (eth0, eth1, …). */
  ifname: string;
  /** a.b.c.d/len */
  address: string;
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
 * /proc/<pid>/ns/net is enough), the peer going straight to the daemon's namespace, then enslaves
 * the host end. On failure the pair is gone.
 */
export async function addVeth(v: VethSpec): Promise<void> {
  const inner = [
    `link add ${v.ifname} mtu ${v.mtu} address ${v.mac} type veth peer name ${v.hostVeth} mtu ${v.mtu} netns ${process.pid}`,
    `addr add ${v.address} dev ${v.ifname}`,
    'link set lo up',
    `link set ${v.ifname} up`,
  ];
  if (v.defaultGateway) inner.push(`route replace default via ${v.defaultGateway} dev ${v.ifname}`);
  try {
    if (v.dns) {
      // One process for the whole container side: ip, then the DNS redirect.
      const script =
        'ip -batch - <<"WHARF_IP"\n' + inner.join('\n') + '\nWHARF_IP\n' +
        'echo 1 > /proc/sys/net/ipv4/conf/all/route_localnet\n' +
        'iptables-restore --noflush <<"WHARF_NAT"\n' + dnsRedirect(v.dns) + '\nWHARF_NAT\n';
      await run('nsenter', [`--net=${v.netnsPath}`, '--', 'sh', '-e', '-c', script]);
    } else {
      await ipBatch(inner, { netns: v.netnsPath });
    }
    await ipBatch([`link set ${v.hostVeth} master ${v.bridge} up`]);
  } catch (err) {
    await deleteLink(v.hostVeth);
    if (v.dns) await removeDnsRedirect(v.netnsPath, v.dns).catch(() => {});
    await run('nsenter', [`--net=${v.netnsPath}`, '--', 'ip', 'link', 'del', v.ifname]).catch(() => {});
    throw err;
  }
}

export async function removeDnsRedirect(netnsPath: string, d: NonNullable<VethSpec['dns']>): Promise<void> {
  const text = dnsRedirect(d).replace(/^-A /gm, '-D ');
  await run('nsenter', [`--net=${netnsPath}`, '--', 'iptables-restore', '--noflush'], text + '\n');
}

/** Host-side veths enslaved to a bridge. */
export async function bridgePorts(bridge: string): Promise<string[]> {
  const out = await run('ip', ['-o', 'link', 'show', 'master', bridge]).catch(() => '');
  return out
    .split('\n')
    .map((l) => /^\d+:\s+([^@:]+)/.exec(l)?.[1])
    .filter((x): x is string => !!x);
}
