/**
 * The options of macvlan and ipvlan networks, checked as libnetwork's drivers check them at
 * create (parseNetworkOptions, and createNetwork's rules for networks sharing a parent), with
 * their words. What a network keeps of them is its `sublink` record (types.ts).
 */
import { systemError } from '../lib/errors.js';
import { dummyParentName, IPVLAN_FLAGS, IPVLAN_MODES, MACVLAN_MODES, type SublinkDriver } from './sublinks.js';
import type { NetworkRecord, SublinkConfig } from './types.js';

export function isSublinkDriver(driver: string): driver is SublinkDriver {
  return driver === 'macvlan' || driver === 'ipvlan';
}

/** A network whose endpoints are macvlan or ipvlan devices. */
export function sublinkOf(n: NetworkRecord): SublinkConfig | undefined {
  return isSublinkDriver(n.Driver) ? n.sublink : undefined;
}

/**
 * The configuration of a new network of `driver` with driver options `options`, against the
 * networks that exist (`others`); `created` is still false (the parent is made afterwards).
 */
export function sublinkConfig(driver: SublinkDriver, networkId: string, options: Record<string, string>, others: NetworkRecord[]): SublinkConfig {
  let mode: string;
  let flag: string | undefined;
  if (driver === 'macvlan') {
    mode = options.macvlan_mode || 'bridge';
    if (!MACVLAN_MODES.includes(mode)) throw systemError(`requested macvlan mode '${mode}' is not valid, 'bridge' mode is the macvlan driver default`);
  } else {
    mode = options.ipvlan_mode || 'l2';
    if (!IPVLAN_MODES.includes(mode)) throw systemError(`requested ipvlan mode '${mode}' is not valid, 'l2' mode is the ipvlan driver default`);
    flag = options.ipvlan_flag || 'bridge';
    if (!IPVLAN_FLAGS.includes(flag)) throw systemError(`requested ipvlan flag '${flag}' is not valid, 'bridge' is the ipvlan driver default`);
  }
  if (options.parent === 'lo') throw systemError(`loopback interface is not a valid ${driver} parent link`);
  const noParent = !options.parent;
  const parent = options.parent || dummyParentName(driver, networkId);
  for (const o of others) {
    const other = o.Driver === driver ? o.sublink : undefined;
    if (!other || other.parent !== parent) continue;
    if (driver === 'ipvlan') throw systemError(`network ${dummyParentName('ipvlan', o.Id)} is already using parent interface ${parent}`);
    if (mode === 'passthru') throw systemError(`cannot use mode passthru, macvlan network ${o.Id} is already using parent interface ${parent}`);
    if (other.mode === 'passthru') throw systemError(`macvlan network ${o.Id} is already using parent interface ${parent} in mode passthru`);
  }
  return { parent, mode, ...(flag ? { flag } : {}), created: false, noParent };
}

/**
 * Whether a network's endpoints have no gateway: an internal one, or one without a parent
 * (libnetwork makes such a network internal to its driver).
 */
export function sublinkIsolated(n: NetworkRecord, s: SublinkConfig): boolean {
  return n.Internal || s.noParent;
}
