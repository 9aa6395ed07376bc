/**
 * `--network` of run/create as the Docker CLI parses it (its opts/network.go and
 * container/opts.go): a network name, or the long form `name=n,alias=a,ip=…,ip6=…,mac-address=…,
 * link-local-ip=…,driver-opt=k=v,gw-priority=N`; the older flags (`--network-alias`, `--ip`, `--ip6`,
 * `--mac-address`, `--link-local-ip`, `--link`) apply to the first network and may not repeat
 * what its long form sets. Addresses are the daemon's to check, as with the Docker CLI 28.
 */
import type { EndpointSettings } from '../api/types.js';
import { FlagError } from './cli-context.js';

interface Attachment {
  target: string;
  aliases: string[];
  links: string[];
  driverOpts?: Record<string, string>;
  ipv4?: string;
  ipv6?: string;
  linkLocalIps: string[];
  mac?: string;
  gwPriority: number;
}

/** The flags that apply to the first network. */
export interface LegacyEndpointFlags {
  aliases: string[];
  links: string[];
  ip: string;
  ip6: string;
  mac: string;
  linkLocalIps: string[];
}

/** One `--network` value; errors as pflag reports a value its Set refused. */
function attachment(target: string): Attachment {
  return { target, aliases: [], links: [], linkLocalIps: [], gwPriority: 0 };
}

function parseAttachment(value: string): Attachment {
  const a = attachment('');
  // The Docker CLI's test for the long form (unanchored, so any `word=word` in the value).
  if (!/\w+=\w+(,\w+=\w+)*/.test(value)) return attachment(value);
  const refuse = (why: string): never => {
    throw new FlagError(`invalid argument "${value}" for "--network" flag: ${why}`);
  };
  for (const field of value.split(',')) {
    // As the Docker CLI does, the whole field is lowercased, the value too.
    const lower = field.toLowerCase();
    const eq = lower.indexOf('=');
    if (eq <= 0) refuse(`invalid field ${field}`);
    const key = lower.slice(0, eq).trim();
    const val = lower.slice(eq + 1).trim();
    try {
      switch (key) {
        case 'name':
          a.target = val;
          break;
        case 'alias':
          a.aliases.push(val);
          break;
        case 'ip':
          a.ipv4 = val;
          break;
        case 'ip6':
          a.ipv6 = val;
          break;
        case 'mac-address':
          a.mac = val;
          break;
        case 'link-local-ip':
          a.linkLocalIps.push(val);
          break;
        case 'driver-opt': {
          const sep = val.indexOf('=');
          if (sep <= 0) throw new Error('invalid key value pair format in driver options');
          (a.driverOpts ??= {})[val.slice(0, sep).trim()] = val.slice(sep + 1).trim();
          break;
        }
        case 'gw-priority':
          if (!/^[+-]?\d+$/.test(val)) throw new Error(`invalid gw-priority (${val}): invalid syntax`);
          a.gwPriority = Number(val);
          break;
        default:
          throw new Error(`invalid field key ${key}`);
      }
    } catch (err) {
      refuse((err as Error).message);
    }
  }
  if (!a.target) refuse('network name/id is not specified');
  return a;
}

/** Puts the older flags on the first network, refusing what its long form set already. */
function applyLegacy(a: Attachment, f: LegacyEndpointFlags): void {
  const both = (what: string) => new Error(`conflicting options: cannot specify both ${what}`);
  if (a.aliases.length && f.aliases.length) throw both('--network-alias and per-network alias');
  if (a.links.length && f.links.length) throw both('--link and per-network links');
  if (a.ipv4 && f.ip) throw both('--ip and per-network IPv4 address');
  if (a.ipv6 && f.ip6) throw both('--ip6 and per-network IPv6 address');
  if (a.mac && f.mac) throw both('--mac-address and per-network MAC address');
  if (a.linkLocalIps.length && f.linkLocalIps.length) throw both('--link-local-ip and per-network link-local IP addresses');
  if (f.aliases.length) a.aliases = [...f.aliases];
  // On the default bridge --link is a legacy link (HostConfig.Links), on a user network an alias.
  if (f.links.length && isUserDefined(a.target)) a.links = [...f.links];
  if (f.ip) a.ipv4 = f.ip;
  if (f.ip6) a.ipv6 = f.ip6;
  if (f.mac) a.mac = f.mac;
  if (f.linkLocalIps.length) a.linkLocalIps = [...f.linkLocalIps];
}

/** A MAC address as the Docker CLI takes it (net.ParseMAC's 6-byte forms); Docker's error otherwise. */
export function checkMacAddress(mac: string): string {
  if (!/^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(mac.trim())) throw new Error(`${mac} is not a valid mac address`);
  return mac.trim();
}

function isUserDefined(mode: string): boolean {
  return !['default', 'bridge', 'host', 'none'].includes(mode) && !mode.startsWith('container:');
}

function endpointSettings(a: Attachment): EndpointSettings {
  const ep: EndpointSettings = {};
  if (a.aliases.length) ep.Aliases = a.aliases;
  if (a.ipv4 || a.ipv6 || a.linkLocalIps.length) {
    ep.IPAMConfig = {
      ...(a.ipv4 ? { IPv4Address: a.ipv4 } : {}),
      ...(a.ipv6 ? { IPv6Address: a.ipv6 } : {}),
      ...(a.linkLocalIps.length ? { LinkLocalIPs: a.linkLocalIps } : {}),
    };
  }
  if (a.mac) ep.MacAddress = checkMacAddress(a.mac);
  if (a.links.length) ep.Links = a.links;
  if (a.driverOpts) ep.DriverOpts = a.driverOpts;
  if (a.gwPriority) ep.GwPriority = a.gwPriority;
  return ep;
}

/**
 * The network mode and the endpoints a create sends for `--network` values `values`. A single
 * network with nothing to configure sends no endpoint (the daemon makes it anyway).
 */
export function networkEndpoints(values: string[], legacy: LegacyEndpointFlags): { mode: string; endpoints: Record<string, EndpointSettings> } {
  const endpoints: Record<string, EndpointSettings> = {};
  if (values.length === 0) {
    // No --network: the older flags go on the default network's endpoint, sent only when it
    // carries an alias or an address.
    const a = attachment('default');
    applyLegacy(a, legacy);
    if (a.aliases.length || a.ipv4 || a.ipv6) endpoints.default = endpointSettings(a);
    return { mode: 'default', endpoints };
  }
  const attachments = values.map(parseAttachment);
  attachments.forEach((a, i) => {
    if (i === 0) applyLegacy(a, legacy);
    if (Object.hasOwn(endpoints, a.target)) throw new Error(`network "${a.target}" is specified multiple times`);
    const ep = endpointSettings(a);
    if (attachments.length > 1 || Object.keys(ep).length) endpoints[a.target] = ep;
  });
  return { mode: attachments[0]!.target, endpoints };
}
