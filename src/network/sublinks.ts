/**
 * The links of macvlan and ipvlan networks (libnetwork's drivers of those names). A network hangs
 * off a parent: an interface of the host, a VLAN subinterface `eth0.10` made for it when missing,
 * or a dummy `dm-<id>` (macvlan) / `di-<id>` (ipvlan) when no parent is given. Each endpoint is a
 * macvlan or ipvlan device of its own, made on the parent in the host's namespace and moved into
 * the container's, where it is renamed and configured. Nothing of it stays in the host's
 * namespace: the device goes with the container's namespace.
 */
import { randomBytes } from 'node:crypto';
import { systemError } from '../lib/errors.js';
import { CommandError, ipBatch, run, runInNetns, writeSysctlInNetns } from './exec.js';
import { interfaceUpLines, linkExists } from './links.js';

export type SublinkDriver = 'macvlan' | 'ipvlan';

export const MACVLAN_MODES = ['bridge', 'private', 'vepa', 'passthru'];
export const IPVLAN_MODES = ['l2', 'l3', 'l3s'];
export const IPVLAN_FLAGS = ['bridge', 'private', 'vepa'];

/** A name the kernel could have given an interface: lookups of any other find nothing, as netlink's. */
function validIfname(name: string): boolean {
  return /^[^/\s:]{1,15}$/.test(name) && name !== '.' && name !== '..';
}

/** Whether `name` is an interface in the daemon's namespace. */
export async function parentExists(name: string): Promise<boolean> {
  return validIfname(name) && (await linkExists(name));
}

/** The parent made for a network created without one. */
export function dummyParentName(driver: SublinkDriver, networkId: string): string {
  return `${driver === 'macvlan' ? 'dm' : 'di'}-${networkId.slice(0, 12)}`;
}

/** What the kernel said, as Go's netlink errors read (iproute2 prefixes its own words). */
function kernelWords(err: unknown): string {
  const text = err instanceof CommandError ? err.stderr.trim() : (err as Error).message;
  const first = text.split('\n')[0] ?? '';
  const words = first.replace(/^RTNETLINK answers:\s*/, '').replace(/^Error:\s*/, '').replace(/\.$/, '');
  // iproute2's own words for the kernel's EOPNOTSUPP on a link kind it does not have.
  if (/^unknown device type$/i.test(words)) return 'operation not supported';
  return words.charAt(0).toLowerCase() + words.slice(1);
}

/** libnetwork's parseVlan: `name.vid` with an existing `name`. */
async function parseVlan(parent: string): Promise<{ master: string; vid: number }> {
  const parts = parent.split('.');
  if (parts.length !== 2) throw systemError(`required interface name format is: name.vlan_id, ex. eth0.10 for vlan 10, instead received ${parent}`);
  const [master, vidText] = parts as [string, string];
  // Go's strconv.Atoi: an optional sign and decimal digits.
  if (!/^[+-]?\d+$/.test(vidText) || !Number.isSafeInteger(Number(vidText))) {
    throw systemError(`unable to parse a valid vlan id from: ${vidText} (ex. eth0.10 for vlan 10)`);
  }
  if (!(await parentExists(master))) throw systemError(`-o parent interface was not found on the host: ${master}`);
  return { master, vid: Number(vidText) };
}

/**
 * Makes a network's parent when the host lacks it, as libnetwork's createNetwork does: the dummy
 * of a network without a parent, else a VLAN subinterface. A failure leaves nothing of it.
 */
export async function ensureParent(driver: SublinkDriver, parent: string, networkId: string): Promise<void> {
  if (await parentExists(parent)) return;
  if (parent === dummyParentName(driver, networkId)) {
    try {
      await ipBatch([`link add ${parent} type dummy`, `link set ${parent} up`]);
    } catch (err) {
      await run('ip', ['link', 'del', 'dev', parent]).catch(() => {});
      // libnetwork returns netlink's error as it is.
      throw systemError(kernelWords(err));
    }
    return;
  }
  if (!parent.includes('.')) throw systemError(`invalid subinterface vlan name ${parent}, example formatting is eth0.10`);
  const { master, vid } = await parseVlan(parent);
  if (vid < 1 || vid > 4094) throw systemError(`vlan id must be between 1-4094, received: ${vid}`);
  try {
    await run('ip', ['link', 'add', 'link', master, 'name', parent, 'type', 'vlan', 'id', String(vid)]);
  } catch (err) {
    throw systemError(`failed to create ${parent} vlan link: ${kernelWords(err)}`);
  }
  try {
    await run('ip', ['link', 'set', 'dev', parent, 'up']);
  } catch (err) {
    await run('ip', ['link', 'del', 'dev', parent]).catch(() => {});
    throw systemError(`failed to enable ${parent} the ${driver} parent link ${kernelWords(err)}`);
  }
}

/** Deletes a parent this daemon made (a VLAN subinterface or a dummy); gone already is fine. */
export async function deleteParent(parent: string): Promise<void> {
  if (await parentExists(parent)) await run('ip', ['link', 'del', 'dev', parent]).catch(() => {});
}

export interface SublinkSpec {
  driver: SublinkDriver;
  parent: string;
  /** macvlan_mode, or ipvlan_mode. */
  mode: string;
  /** ipvlan_flag. */
  flag?: string;
  netnsPath: string;
  /** The name inside the container (eth0, eth1, …). */
  ifname: string;
  /** macvlan only: ipvlan devices share their parent's address. */
  mac?: string;
  /** a.b.c.d/len; none on a network without IPv4. */
  address?: string;
  address6?: string;
  /** Default routes: through a gateway, or (ipvlan l3) straight out of the device. */
  defaultGateway?: string;
  defaultGateway6?: string;
  defaultDevice?: boolean;
}

/**
 * Makes the endpoint's device on the parent under a temporary name, moves it into the
 * namespace, and there names it, gives it its addresses and routes and brings it and lo up. On
 * failure nothing is left in either namespace.
 */
export async function addSublink(s: SublinkSpec): Promise<void> {
  const tmp = `${s.driver === 'macvlan' ? 'mv' : 'iv'}${randomBytes(4).toString('hex').slice(0, 7)}`;
  const type = s.driver === 'macvlan' ? ['type', 'macvlan', 'mode', s.mode] : ['type', 'ipvlan', 'mode', s.mode, s.flag ?? 'bridge'];
  if (!(await parentExists(s.parent))) throw systemError(`the requested parent interface ${s.parent} was not found on the Docker host`);
  try {
    await run('ip', ['link', 'add', tmp, 'link', s.parent, ...type]);
  } catch (err) {
    throw systemError(`failed to create the ${s.driver} port: ${kernelWords(err)}`);
  }
  let moved = false;
  try {
    await run('ip', ['link', 'set', 'dev', tmp, 'netns', s.netnsPath]);
    moved = true;
    const lines = [`link set dev ${tmp} name ${s.ifname}`];
    if (s.mac) lines.push(`link set dev ${s.ifname} address ${s.mac}`);
    await ipBatch(lines, { netns: s.netnsPath });
    // Skipped when the kernel has no IPv6.
    await writeSysctlInNetns(s.netnsPath, `/proc/sys/net/ipv6/conf/${s.ifname}/disable_ipv6`, s.address6 ? '0' : '1', { ifPresent: true });
    const inner = interfaceUpLines(s.ifname, s);
    if (s.defaultDevice) {
      // A default route per family the device has an address of, as libnetwork's ipvlan L3 join.
      if (s.address) inner.push(`route replace default dev ${s.ifname}`);
      if (s.address6) inner.push(`route replace ::/0 dev ${s.ifname}`);
    }
    await ipBatch(inner, { netns: s.netnsPath });
  } catch (err) {
    if (moved) await deleteSublink(s.netnsPath, [tmp, s.ifname]);
    else await run('ip', ['link', 'del', 'dev', tmp]).catch(() => {});
    throw err;
  }
}

/** Deletes an endpoint's device from the container's namespace (a disconnect; an exit takes it with the namespace). */
export async function deleteSublink(netnsPath: string, names: string[]): Promise<void> {
  for (const name of names) await runInNetns(netnsPath, 'ip', ['link', 'del', 'dev', name]).catch(() => {});
}
