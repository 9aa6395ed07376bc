/**
 * NetworkManager: the networks (default `bridge`, `host`, `none`, user-defined bridges), their
 * address leases, and each running container's endpoints, ports and DNS names. State lives under
 * <data-root>/network/ (networks/<id>.json, endpoints/<container-id>.json, written atomically);
 * the endpoint record is written before anything is created on the host, so that after a crash
 * `restore` knows what to remove. Firewall chains are rebuilt from that state at `restore`.
 */
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerConfig, EndpointSettings, HostConfig, NetworkIpamConfig, NetworkSettings, PortBinding } from '../api/types.js';
import { readJsonIfExists, writeJsonAtomic } from '../lib/atomic-file.js';
import { conflict, forbidden, invalidParameter, notFound, systemError } from '../lib/errors.js';
import { generateId, shortId } from '../lib/ids.js';
import { KeyedMutex } from '../lib/mutex.js';
import { rfc3339NanoNow } from '../lib/wall-clock.js';
import { EmbeddedDns } from './dns-server.js';
import { enableBridgeNetfilter, enableIpv6Forwarding, Firewall, networkRules, openPortRules, portRules, type GatewayMode, type Rule } from './iptables.js';
import {
  allocateIp,
  allocateIp6,
  checkRequestedIp,
  checkRequestedIp6,
  DEFAULT_ADDRESS_POOLS,
  hostNameservers6,
  hostRoutes,
  ipamConfigError,
  ipamErrors4,
  ipamErrors6,
  isV6Pool,
  pickSubnet,
  pickSubnet6,
  subnetSpec,
  subnetSpec6,
  ulaPool,
  type AddressPool,
  type SubnetSpec,
  type SubnetSpec6,
} from './ipam.js';
import { contains6, formatCidr6, formatIp6, joinHostPort, overlaps6, parseCidr6, parseIp6, type Cidr6 } from './ipv6.js';
import { contains, formatCidr, formatIp, isAssignableMac, macForIp, normalizeMac, overlaps, parseCidr, parseIp, type Cidr } from './ipv4.js';
import { addVeth, deleteLink, ensureBridge, flushIpv6Addresses, linkExists, randomMac, redirectDns, removeDnsRedirect, replaceDefaultRoute } from './links.js';
import type { ProxyTarget } from './port-proxy.js';
import { isSublinkDriver, sublinkConfig, sublinkIsolated, sublinkOf } from './sublink-networks.js';
import { addSublink, deleteParent, deleteSublink, ensureParent, parentExists } from './sublinks.js';
import { PendingVethDeletes } from './veth-deletes.js';
import {
  ephemeralRange,
  hostAddress,
  ipv6Listenable,
  portRequests,
  portsMap,
  PortInUseError,
  PortTable,
  reservePort,
  type PortMapping,
  type PortRequest,
  type Reservation,
} from './ports.js';
import type { EndpointRecord, NetworkCreateRequest, NetworkRecord, NetworkResource, SandboxRecord, SublinkConfig } from './types.js';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { parseGoBool } from '../lib/go-bool.js';
import { canBindInNetns } from '../lib/netns-socket.js';

export interface NetworkManagerOptions {
  dataRoot: string;
  /** daemon.json "bip": gateway address and prefix of the default bridge, e.g. "172.26.0.1/16". */
  bip?: string;
  /** daemon.json "ip": where the default bridge's ports published without an address listen (default 0.0.0.0). */
  defaultBindIp?: string;
  /** daemon.json "default-address-pools". */
  defaultAddressPools?: AddressPool[];
  /** daemon.json "mtu" (default 1500). */
  mtu?: number;
  /** Default bridge device (default "wharf0"); "none" disables the default bridge network, as in Docker. */
  bridgeName?: string;
  /** Prefix of our iptables chains (default "WHARF"); tests use their own. */
  chainPrefix?: string;
  /** Prefix of user-defined bridge devices (default "wh-"), followed by 12 hex digits of the ID. */
  userBridgePrefix?: string;
  /** Upstream resolvers of the embedded DNS (`ip` or `ip:port`); default: the host's resolv.conf. */
  dnsUpstreams?: string[];
  /** daemon.json "ipv6": IPv6 on the default bridge. */
  ipv6?: boolean;
  /** daemon.json "fixed-cidr-v6": the default bridge's IPv6 subnet (else one from the pools). */
  fixedCidrV6?: string;
  /** The engine ID: Docker derives the host's ULA pool from it (used when no IPv6 pool is configured). */
  hostId?: string;
  /** daemon.json "allow-direct-routing": no drop of packets routed directly to nat networks' containers. */
  allowDirectRouting?: boolean;
  log?: (msg: string) => void;
}

export interface AttachRequest {
  containerId: string;
  /** Without the leading slash. */
  containerName: string;
  /** Config.Hostname: the embedded DNS answers it too, as Docker's endpoint DNS names. */
  hostname?: string;
  /** The container's network namespace, e.g. /proc/<pid>/ns/net between runc create and start. */
  netnsPath: string;
  hostConfig: HostConfig;
  /** Config.ExposedPorts (for -P and NetworkSettings.Ports). */
  exposedPorts?: ContainerConfig['ExposedPorts'];
  /** NetworkingConfig.EndpointsConfig from create (plus later connects while stopped). */
  endpointsConfig?: Record<string, EndpointSettings> | null;
}

/** What the lead needs for /etc/hosts and /etc/resolv.conf. */
export interface EtcInputs {
  /** The container's addresses for /etc/hosts: each network's IPv4, then its IPv6 (none for none/host). */
  addresses: string[];
  /** ['127.0.0.11'] on user-defined networks (the embedded DNS), otherwise undefined (use --dns / the host's). */
  nameservers?: string[];
  /** Address for `--add-host name:host-gateway`. */
  hostGateway: string;
  /** The default bridge's IPv6 gateway, when it has IPv6: host-gateway also names it. */
  hostGateway6?: string;
}

/** A running container's NetworkSettings.Networks, for restore to find its host or none endpoint. */
export interface RunningEndpoints {
  containerId: string;
  containerName: string;
  networks: Record<string, EndpointSettings | undefined>;
}

export interface AttachResult {
  settings: NetworkSettings;
  etc: EtcInputs;
}

const PREDEFINED = new Set(['bridge', 'host', 'none']);
const ACTIVE_ENDPOINTS = (n: NetworkRecord) => `error while removing network: network ${n.Name} id ${n.Id} has active endpoints`;

const IFNAME_OPTION = 'com.docker.network.endpoint.ifname';
export const CONFIG_ONLY_ENDPOINT = 'cannot create endpoint on configuration-only network';
const ICC_OPTION = 'com.docker.network.bridge.enable_icc';
/** The source addresses outbound traffic is SNATed to, instead of masqueraded (libnetwork's HostIPv4/HostIPv6). */
const HOST_IPV4_OPTION = 'com.docker.network.host_ipv4';
const HOST_IPV6_OPTION = 'com.docker.network.host_ipv6';
/** The address a port published without one listens on (libnetwork's DefaultBindingIP). */
const HOST_BINDING_OPTION = 'com.docker.network.bridge.host_binding_ipv4';
const MASQUERADE_OPTION = 'com.docker.network.bridge.enable_ip_masquerade';
const GATEWAY_MODE_IPV4 = 'com.docker.network.bridge.gateway_mode_ipv4';
const GATEWAY_MODE_IPV6 = 'com.docker.network.bridge.gateway_mode_ipv6';
const GATEWAY_MODES: readonly string[] = ['nat', 'nat-unprotected', 'routed', 'isolated'] satisfies GatewayMode[];
/** Host interfaces whose packets may reach a nat network's containers directly (`:`-separated). */
const TRUSTED_INTERFACES_OPTION = 'com.docker.network.bridge.trusted_host_interfaces';

/**
 * A network's trusted host interfaces, refused unless each is a plain interface name (they go
 * into iptables-restore lines); a trailing `+` matches every name it begins, as in iptables.
 */
function trustedInterfaces(options: Record<string, string>): string[] {
  const names = (options[TRUSTED_INTERFACES_OPTION] ?? '').split(':').filter((i) => i !== '');
  for (const name of names) {
    if (!/^[a-zA-Z0-9_.-]{1,15}\+?$/.test(name)) throw invalidParameter(`invalid interface name ${JSON.stringify(name)} in ${TRUSTED_INTERFACES_OPTION}`);
  }
  return names;
}

/** The bridge driver's gateway modes (iptables.ts says what each does), checked as moby checks them. */
function checkGatewayModes(options: Record<string, string>, internal: boolean): void {
  for (const key of [GATEWAY_MODE_IPV4, GATEWAY_MODE_IPV6]) {
    const mode = options[key];
    if (mode === undefined || mode === '') continue;
    if (!GATEWAY_MODES.includes(mode)) throw invalidParameter(`unknown gateway mode ${JSON.stringify(mode)}`);
    if (mode === 'isolated' && !internal) throw systemError(`gateway mode 'isolated' can only be used for an internal network`);
  }
}

/** A bridge network's gateway mode for one address family: nat unless its option says otherwise. */
function gatewayMode(n: NetworkRecord, v6 = false): GatewayMode {
  const mode = n.Driver === 'bridge' ? n.Options[v6 ? GATEWAY_MODE_IPV6 : GATEWAY_MODE_IPV4] : undefined;
  return mode && GATEWAY_MODES.includes(mode) ? (mode as GatewayMode) : 'nat';
}

/**
 * The gateway of a subnet without one (an isolated network's, when none was asked for): no
 * address, so that the subnet's first address goes to a container, as moby allocates it.
 */
const NO_GATEWAY = -1;
const NO_GATEWAY6 = -1n;

/**
 * The interface names of new endpoints in a namespace whose interfaces are `taken`, as libnetwork
 * gives them: the name an endpoint asks for (its `com.docker.network.endpoint.ifname` driver
 * option), else the lowest free `<prefix>N`, the prefix being its network's
 * `container_iface_prefix` (`eth` without one). A name the kernel would refuse, or one already
 * taken (lo included), fails the start or connect with libnetwork's words. Quotes, backslashes and
 * `#` (which iproute2's batch input would read) and `%` (which the kernel would replace with a
 * number) are refused as well.
 */
function interfaceNames(taken: string[], cfgs: Array<EndpointSettings | undefined>, prefixes: Array<string | undefined> = []): string[] {
  const used = new Set(['lo', ...taken]);
  const refuse = (name: string, why: string) => systemError(`failed to set up container networking: error renaming interface to ${JSON.stringify(name)}: ${why}`);
  const bad = (name: string) => Buffer.byteLength(name) > 15 || name === '.' || name === '..' || /[\s/:"'\\#%\x00-\x1f\x7f]/.test(name);
  const wanted = cfgs.map((cfg) => cfg?.DriverOpts?.[IFNAME_OPTION] || undefined);
  for (const name of wanted) {
    if (name === undefined) continue;
    if (bad(name)) throw refuse(name, 'invalid argument');
    if (used.has(name)) throw refuse(name, 'file exists');
    used.add(name);
  }
  return wanted.map((name, k) => {
    if (name !== undefined) return name;
    const prefix = prefixes[k] || 'eth';
    let i = 0;
    while (used.has(`${prefix}${i}`)) i++;
    const made = `${prefix}${i}`;
    if (bad(made)) throw refuse(made, 'invalid argument');
    used.add(made);
    return made;
  });
}

/**
 * A network's SNAT source addresses (host_ipv4, host_ipv6), in the family each table takes and
 * written as iptables writes them (an address of the other family is left out).
 */
function snatAddresses(options: Record<string, string>): { snat?: string; snat6?: string } {
  const v4 = hostAddress(options[HOST_IPV4_OPTION] ?? '');
  const v6 = hostAddress(options[HOST_IPV6_OPTION] ?? '');
  return { ...(v4 && !v4.includes(':') ? { snat: v4 } : {}), ...(v6?.includes(':') ? { snat6: v6 } : {}) };
}

/**
 * Whether a new network has an address family: the request's EnableIPv4/EnableIPv6, else its
 * driver option `key` (a Go bool), else `dflt`. The request's field wins, and Docker then drops
 * the option from Options.
 */
function ipFamilyEnabled(field: boolean | null | undefined, options: Record<string, string>, key: string, dflt: boolean): boolean {
  if (field !== undefined && field !== null) {
    delete options[key];
    return field;
  }
  if (options[key] === undefined) return dflt;
  const v = parseGoBool(options[key]);
  if (v === undefined) throw invalidParameter(`driver-opt ${JSON.stringify(key)} is not a valid bool`);
  return v;
}

/**
 * The IPv4 configs of a network with IPv4 disabled: nothing is allocated from them (nor checked
 * against other networks), but inspect shows them as given, as Docker's does.
 */
function unallocatedConfigs(cfgs: NetworkIpamConfig[]): NetworkIpamConfig[] {
  return cfgs.map((c) => ({
    Subnet: c.Subnet,
    ...(c.IPRange ? { IPRange: c.IPRange } : {}),
    ...(c.Gateway ? { Gateway: c.Gateway } : {}),
    ...(c.AuxiliaryAddresses && Object.keys(c.AuxiliaryAddresses).length ? { AuxiliaryAddresses: { ...c.AuxiliaryAddresses } } : {}),
  }));
}

/** The key of a container's own DNS listeners (inside its namespace) in the embedded DNS. */
const netnsDnsKey = (containerId: string): string => `netns:${containerId}`;

/** A network's `com.docker.network.container_iface_prefix`: the name its endpoints' interfaces start with. */
const ifacePrefix = (n: NetworkRecord): string | undefined => n.Options['com.docker.network.container_iface_prefix'] || undefined;

/** The entry of a network the container is on without an endpoint there. */
function emptyEndpointSettings(): EndpointSettings {
  return {
    IPAMConfig: null,
    Links: null,
    Aliases: null,
    MacAddress: '',
    DriverOpts: null,
    GwPriority: 0,
    NetworkID: '',
    EndpointID: '',
    Gateway: '',
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    DNSNames: null,
  };
}

/** An endpoint's addresses as /etc/hosts lists them: IPv4, then IPv6. */
function endpointAddresses(ep: EndpointRecord): string[] {
  return [ep.ip, ep.ip6].filter((a): a is string => !!a);
}

/** EndpointSettings.Links (`name[:alias]`) as alias -> name; malformed entries are skipped. */
function dnsLinks(links: string[] | undefined): Record<string, string> | undefined {
  if (!links?.length) return undefined;
  const out: Record<string, string> = {};
  for (const l of links) {
    const parts = l.split(':');
    if (parts.length > 2 || !parts[0]) continue;
    const name = parts[0].replace(/^\//, '');
    const alias = parts.length === 2 ? parts[1]!.split('/').pop()! : name;
    if (alias) out[alias] = name;
  }
  return out;
}

export class NetworkManager {
  private readonly dir: string;
  private readonly networks = new Map<string, NetworkRecord>();
  private readonly sandboxes = new Map<string, SandboxRecord>();
  /** Endpoints on the host and none networks, by container: no sandbox, listed by network inspect. */
  private readonly plain = new Map<string, { containerName: string; networkId: string; endpointId: string }>();
  private readonly reservations = new Map<string, Reservation[]>();
  private readonly leases = new Map<string, Set<number>>();
  private readonly leases6 = new Map<string, Set<bigint>>();
  private readonly vethDeletes = new PendingVethDeletes();
  /** Whether the host can listen on IPv6: published ports then also bind [::]. */
  private v6Ports = false;
  private readonly portTable = new PortTable();
  private readonly firewall: Firewall;
  private readonly dns: EmbeddedDns;
  private readonly lock = new KeyedMutex();
  /** Networks an attach or connect is joining right now: removing them waits for no one, it refuses. */
  private readonly joining = new Map<string, number>();
  /** Networks being destroyed: no longer found, so nothing new joins them. */
  private readonly removing = new Set<string>();
  private readonly mtu: number;
  private portCursor = 0;
  private restored = false;

  constructor(private readonly opts: NetworkManagerOptions) {
    this.dir = join(opts.dataRoot, 'network');
    this.firewall = new Firewall(opts.chainPrefix ?? 'WHARF');
    this.dns = new EmbeddedDns({ upstreams: opts.dnsUpstreams, log: opts.log });
    this.mtu = opts.mtu ?? 1500;
  }

  private log(msg: string): void {
    this.opts.log?.(msg);
  }

  // ---- persistence -------------------------------------------------------------------

  private netPath(id: string): string {
    return join(this.dir, 'networks', `${id}.json`);
  }
  private sandboxPath(id: string): string {
    return join(this.dir, 'endpoints', `${id}.json`);
  }

  private async loadDir<T>(sub: string): Promise<T[]> {
    const d = join(this.dir, sub);
    const names = await readdir(d).catch(() => [] as string[]);
    const out: T[] = [];
    for (const n of names) {
      if (!n.endsWith('.json') || n.startsWith('.')) continue;
      const v = await readJsonIfExists<T>(join(d, n)).catch(() => undefined);
      if (v) out.push(v);
    }
    return out;
  }

  // ---- start-up ----------------------------------------------------------------------

  /**
   * Loads the state, creates the predefined networks, and reconciles with the containers that are
   * still running (`running`: their IDs). Endpoints of any other container are torn down; the
   * firewall chains are rebuilt from what remains. Call once at daemon start, before any attach.
   */
  async restore(running: Iterable<string>, endpoints: RunningEndpoints[] = []): Promise<void> {
    const keep = new Set(running);
    await this.dropOldChains();
    for (const n of await this.loadDir<NetworkRecord>('networks')) this.networks.set(n.Id, n);
    this.v6Ports = await ipv6Listenable();
    await this.ensurePredefined();
    for (const r of endpoints) {
      for (const [name, ep] of Object.entries(r.networks)) {
        const n = this.find(name);
        if (keep.has(r.containerId) && n && (n.Driver === 'host' || n.Driver === 'null') && ep?.EndpointID) {
          this.plain.set(r.containerId, { containerName: r.containerName, networkId: n.Id, endpointId: ep.EndpointID });
        }
      }
    }
    for (const n of this.networks.values()) {
      const sub = sublinkOf(n);
      if (sub) {
        // A parent made for the network is made again when the host lost it (a reboot), as libnetwork does.
        if (sub.created) await ensureParent(n.Driver as 'macvlan' | 'ipvlan', sub.parent, n.Id).catch((err: Error) => this.log(`network ${n.Name}: ${err.message}`));
        this.dns.register(n.Id, n.Name, !!n.Internal);
      }
      if (n.Driver !== 'bridge') continue;
      await this.setUpBridge(n);
      if (!this.isDefaultBridge(n)) await this.startDns(n);
    }
    for (const sb of await this.loadDir<SandboxRecord>('endpoints')) {
      if (keep.has(sb.containerId)) {
        // Endpoints on a default bridge that `bridge: none` has just removed.
        sb.endpoints = sb.endpoints.filter((ep) => this.networks.has(ep.networkId));
        this.sandboxes.set(sb.containerId, sb);
        this.claim(sb);
        const res: Reservation[] = [];
        for (const m of sb.ports) {
          if (m.routed) continue;
          try {
            res.push(await reservePort(m, this.proxyTarget(sb, m)));
          } catch (err) {
            this.log(`network: cannot re-reserve ${m.hostIp}:${m.hostPort}/${m.proto} of ${sb.containerId}: ${(err as Error).message}`);
          }
        }
        this.reservations.set(sb.containerId, res);
        this.registerDns(sb);
        await this.listenInNamespace(sb);
      } else {
        for (const ep of sb.endpoints) if (ep.hostVeth) await deleteLink(ep.hostVeth);
        await rm(this.sandboxPath(sb.containerId), { force: true });
      }
    }
    await this.firewall.rebuild(this.allRules(), (msg) => this.log(msg));
    this.restored = true;
  }

  /**
   * The chains a previous start made under another prefix (the daemon's default bridge was renamed,
   * or became `none`) go: every rule is made again below in the current ones. The prefix in use is
   * kept in network/chains, which `wharfd --cleanup` and the tests' cleanup read too.
   */
  private async dropOldChains(): Promise<void> {
    const file = join(this.dir, 'chains');
    const prefix = this.firewall.chains.dnat;
    const old = (await readFile(file, 'utf8').catch(() => '')).trim();
    if (old === prefix) return;
    if (/^[A-Z0-9]{1,20}$/.test(old)) await new Firewall(old).destroy();
    await mkdir(this.dir, { recursive: true });
    await writeFile(file, `${prefix}\n`);
  }

  /** The bridge device of a network with its gateways; IPv6 forwarding for an IPv6 network. */
  private async setUpBridge(n: NetworkRecord): Promise<void> {
    const spec = this.config4(n) && this.spec(n);
    const spec6 = this.spec6(n);
    // An isolated network's bridge has no address of that family.
    const gateway = spec && gatewayMode(n) !== 'isolated' ? `${formatIp(spec.gateway)}/${spec.cidr.bits}` : undefined;
    const gateway6 = spec6 && gatewayMode(n, true) !== 'isolated' ? `${formatIp6(spec6.gateway)}/${spec6.cidr.bits}` : undefined;
    await ensureBridge(n.bridge!, gateway, n.mtu ?? this.mtu, gateway6);
    if (spec6) await enableIpv6Forwarding();
    if (parseGoBool(n.Options[ICC_OPTION] ?? 'true') === false) await enableBridgeNetfilter(!!spec6);
  }

  /** Closes the DNS listeners and port reservations (the daemon is exiting; containers keep running). */
  async close(): Promise<void> {
    await this.vethDeletes.settled();
    await this.dns.closeAll();
    for (const list of this.reservations.values()) for (const r of list) r.close();
    this.reservations.clear();
  }

  /** `bridge: none`: no default bridge network; containers in its mode get loopback alone (start.ts). */
  get bridgeDisabled(): boolean {
    return this.opts.bridgeName === 'none';
  }

  private isDefaultBridge(n: NetworkRecord): boolean {
    return n.Name === 'bridge';
  }

  private async ensurePredefined(): Promise<void> {
    const byName = (name: string) => [...this.networks.values()].find((n) => n.Name === name);
    for (const [name, driver] of [['host', 'host'], ['none', 'null']] as const) {
      if (byName(name)) continue;
      const rec = this.newRecord(name, driver, { Config: [] }, {}, {}, false);
      this.networks.set(rec.Id, rec);
      await writeJsonAtomic(this.netPath(rec.Id), rec);
    }
    let bridge = byName('bridge');
    if (this.bridgeDisabled) {
      // moby deletes its default bridge network and device at every start, and makes them again
      // only while the bridge is enabled.
      if (bridge) {
        this.networks.delete(bridge.Id);
        await rm(this.netPath(bridge.Id), { force: true });
        if (bridge.bridge) await deleteLink(bridge.bridge);
      }
      return;
    }
    const bridgeName = this.opts.bridgeName ?? 'wharf0';
    const cfg4 = bridge ? this.config4(bridge) : undefined;
    const want = this.opts.bip ? parseCidr(this.opts.bip) : undefined;
    const bipChanged = !!this.opts.bip && (!want || cfg4?.Gateway !== formatIp(want.ip) || cfg4?.Subnet !== formatCidr(want.cidr));
    // fixed-cidr-v6 counts only with ipv6 on, as in Docker.
    const v6Changed =
      !!bridge && (bridge.EnableIPv6 !== !!this.opts.ipv6 || (!!this.opts.ipv6 && !!this.opts.fixedCidrV6 && this.config6(bridge)?.Subnet !== this.fixedCidrV6()));
    if (bridge && (bipChanged || v6Changed)) {
      this.networks.delete(bridge.Id);
      await rm(this.netPath(bridge.Id), { force: true });
      // The old IPv6 gateway would stay on the device (containers on it keep their veths).
      if (v6Changed && bridge.bridge) await flushIpv6Addresses(bridge.bridge);
      bridge = undefined;
    }
    if (bridge) {
      // The daemon's mtu and ip may have changed since the record was written; the network follows them.
      const bindIp = this.opts.defaultBindIp ?? '0.0.0.0';
      if (bridge.Options['com.docker.network.driver.mtu'] !== String(this.mtu) || bridge.Options[HOST_BINDING_OPTION] !== bindIp) {
        bridge.Options['com.docker.network.driver.mtu'] = String(this.mtu);
        bridge.Options[HOST_BINDING_OPTION] = bindIp;
        await writeJsonAtomic(this.netPath(bridge.Id), bridge);
      }
      return;
    }
    let subnet: Cidr;
    let gateway: number;
    if (this.opts.bip) {
      const p = parseCidr(this.opts.bip);
      if (!p) throw invalidParameter(`invalid bip ${this.opts.bip}`);
      subnet = p.cidr;
      gateway = p.ip === p.cidr.base ? p.cidr.base + 1 : p.ip;
    } else {
      const inUse = await this.usedSubnets(bridgeName);
      const c = pickSubnet(this.opts.defaultAddressPools?.length ? this.opts.defaultAddressPools : DEFAULT_ADDRESS_POOLS, inUse);
      if (!c) throw systemError('could not find a free address pool for the default bridge network');
      subnet = c;
      gateway = c.base + 1;
    }
    const config: NetworkRecord['IPAM']['Config'] = [{ Subnet: formatCidr(subnet), Gateway: formatIp(gateway >>> 0) }];
    if (this.opts.ipv6) {
      const fixed = this.opts.fixedCidrV6 ? parseCidr6(this.opts.fixedCidrV6) : undefined;
      const c6 = fixed ? fixed.cidr : await this.pickPool6();
      if (!c6) throw systemError('could not find a free IPv6 address pool for the default bridge network');
      config.push({ Subnet: formatCidr6(c6), Gateway: formatIp6(c6.base + 1n) });
    }
    const rec = this.newRecord(
      'bridge',
      'bridge',
      { Config: config },
      {
        'com.docker.network.bridge.default_bridge': 'true',
        'com.docker.network.bridge.enable_icc': 'true',
        'com.docker.network.bridge.enable_ip_masquerade': 'true',
        [HOST_BINDING_OPTION]: this.opts.defaultBindIp ?? '0.0.0.0',
        'com.docker.network.bridge.name': bridgeName,
        'com.docker.network.driver.mtu': String(this.mtu),
      },
      {},
      false,
    );
    rec.bridge = bridgeName;
    rec.EnableIPv6 = !!this.opts.ipv6;
    this.networks.set(rec.Id, rec);
    await writeJsonAtomic(this.netPath(rec.Id), rec);
  }

  /** fixed-cidr-v6 in canonical form (host bits cleared). */
  private fixedCidrV6(): string | undefined {
    const p = this.opts.fixedCidrV6 ? parseCidr6(this.opts.fixedCidrV6) : undefined;
    return p && formatCidr6(p.cidr);
  }

  /** An IPv6 /64 from the configured IPv6 pools, or the host's ULA pool when none is configured. */
  private async pickPool6(): Promise<Cidr6 | undefined> {
    const configured = (this.opts.defaultAddressPools ?? []).filter(isV6Pool);
    const pools = configured.length ? configured : [ulaPool(this.opts.hostId ?? '')];
    const inUse = [...(await hostNameservers6()), ...this.subnets6()];
    return pickSubnet6(pools, inUse);
  }

  /** The networks whose subnets are taken: a configuration-only network holds none (its users do). */
  private addressed(): NetworkRecord[] {
    return [...this.networks.values()].filter((n) => !n.ConfigOnly);
  }

  private subnets6(): Cidr6[] {
    return this.addressed().flatMap((n) => {
      const c = this.config6(n);
      const p = c && parseCidr6(c.Subnet);
      return p ? [p.cidr] : [];
    });
  }

  /** Subnets taken on the host (routes, except those of `ownBridge`) and by our networks. */
  private async usedSubnets(ownBridge?: string): Promise<Cidr[]> {
    const routes = (await hostRoutes()).filter((r) => r.iface !== ownBridge).map((r) => r.cidr);
    const nets = this.addressed().flatMap((n) => [parseCidr(this.config4(n)?.Subnet ?? '')?.cidr].filter((c): c is Cidr => !!c));
    return [...routes, ...nets];
  }

  private newRecord(
    name: string,
    driver: string,
    ipam: { Config: NetworkRecord['IPAM']['Config']; Options?: Record<string, string> | null },
    options: Record<string, string>,
    labels: Record<string, string>,
    internal: boolean,
  ): NetworkRecord {
    return {
      Name: name,
      Id: generateId(),
      Created: rfc3339NanoNow(),
      Scope: 'local',
      Driver: driver,
      EnableIPv4: true,
      EnableIPv6: false,
      IPAM: { Driver: 'default', Options: ipam.Options ?? null, Config: ipam.Config },
      Internal: internal,
      Attachable: false,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Options: options,
      Labels: labels,
    };
  }

  /** The IPv4 IPAMConfig of a network with IPv4; undefined for an IPv6-only one (whose given IPv4 subnet inspect still shows, as Docker's). */
  private config4(n: NetworkRecord): NonNullable<NetworkRecord['IPAM']['Config']>[number] | undefined {
    return n.EnableIPv4 === false ? undefined : this.given4(n);
  }

  private given4(n: NetworkRecord): NonNullable<NetworkRecord['IPAM']['Config']>[number] | undefined {
    return n.IPAM.Config?.find((c) => !c.Subnet.includes(':'));
  }

  private config6(n: NetworkRecord): NonNullable<NetworkRecord['IPAM']['Config']>[number] | undefined {
    return n.EnableIPv6 ? n.IPAM.Config?.find((c) => c.Subnet.includes(':')) : undefined;
  }

  private spec(n: NetworkRecord): SubnetSpec {
    const c = this.config4(n);
    if (!c) throw systemError(`network ${n.Name} has no IPv4 subnet`);
    const spec = subnetSpec(c.Subnet, c.Gateway, c.IPRange);
    return c.Gateway || gatewayMode(n) !== 'isolated' ? spec : { ...spec, gateway: NO_GATEWAY };
  }

  /** The IPv6 subnet of an IPv6 network; undefined for IPv4-only networks. */
  private spec6(n: NetworkRecord): SubnetSpec6 | undefined {
    const c = this.config6(n);
    const spec = c && subnetSpec6(c.Subnet, c.Gateway, c.IPRange);
    return spec && !c.Gateway && gatewayMode(n, true) === 'isolated' ? { ...spec, gateway: NO_GATEWAY6 } : spec;
  }

  private async startDns(n: NetworkRecord): Promise<void> {
    // No IPv4 gateway to listen on (IPv6-only or isolated): its containers get listeners inside their namespaces.
    if (!this.config4(n) || gatewayMode(n) === 'isolated') {
      this.dns.register(n.Id, n.Name, !!n.Internal);
      return;
    }
    const spec = this.spec(n);
    const gw = formatIp(spec.gateway);
    try {
      const port = await this.dns.listen(n.Id, gw, n.dnsPort ?? 0, n.Name, !!n.Internal, spec.cidr);
      if (port !== n.dnsPort) {
        n.dnsPort = port;
        await writeJsonAtomic(this.netPath(n.Id), n);
      }
    } catch (err) {
      this.log(`network ${n.Name}: embedded DNS cannot listen on ${gw}:${n.dnsPort}: ${(err as Error).message}`);
    }
  }

  // ---- rules and leases ---------------------------------------------------------------

  private netRules(n: NetworkRecord): Rule[] {
    if (n.Driver !== 'bridge') return [];
    const spec = this.config4(n) && this.spec(n);
    const spec6 = this.spec6(n);
    return networkRules(this.firewall.chains, {
      bridge: n.bridge!,
      ...(spec ? { subnet: formatCidr(spec.cidr) } : {}),
      internal: n.Internal,
      icc: parseGoBool(n.Options[ICC_OPTION] ?? 'true') !== false,
      masquerade: parseGoBool(n.Options[MASQUERADE_OPTION] ?? 'true') !== false,
      ...(spec6 ? { subnet6: formatCidr6(spec6.cidr) } : {}),
      ...snatAddresses(n.Options),
      gatewayMode: gatewayMode(n),
      gatewayMode6: gatewayMode(n, true),
      ...(this.opts.allowDirectRouting
        ? {}
        : {
            directAccess: {
              ...(spec ? { gateway: formatIp(spec.gateway) } : {}),
              ...(spec6 ? { gateway6: formatIp6(spec6.gateway) } : {}),
              trusted: trustedInterfaces(n.Options),
            },
          }),
    });
  }

  /**
   * The gateway endpoint when it can publish ports: a bridge network's. libnetwork programs
   * external connectivity on the gateway endpoint alone, and the macvlan and ipvlan drivers
   * publish nothing.
   */
  private portsEndpoint(sb: SandboxRecord, v6 = false): EndpointRecord | undefined {
    const ep = this.gatewayEndpoint(sb, v6);
    return ep?.sublink ? undefined : ep;
  }

  /** The container address a published port goes to: its IPv6 address for an IPv6 host binding when it has one. */
  private portTarget(sb: SandboxRecord, m: PortMapping): string | undefined {
    const v6 = m.hostIp.includes(':') ? this.portsEndpoint(sb, true) : undefined;
    return v6?.ip6 ?? this.portsEndpoint(sb)?.ip;
  }

  /**
   * A container on user networks with none that redirects 127.0.0.11 to the host's listener (all
   * macvlan, ipvlan, IPv6-only or isolated bridges, whose endpoints have no IPv4 path to the host)
   * has the embedded DNS inside its namespace.
   */
  private needsDnsInNetns(sb: SandboxRecord): boolean {
    const isolated = (e: EndpointRecord) => gatewayMode(this.networks.get(e.networkId)!) === 'isolated';
    return sb.endpoints.some((e) => e.sublink || (e.dnsNames.length > 0 && (!e.ip || isolated(e)))) && !sb.endpoints.some((e) => e.dns);
  }

  /**
   * Points 127.0.0.11 at the listener of another user bridge the container is on, after the one
   * it pointed at was disconnected (Docker's resolver lives in the namespace and keeps answering).
   * A failure is logged: the container is left without names, as when a listener cannot open.
   */
  private async moveDnsRedirect(sb: SandboxRecord): Promise<void> {
    for (const e of sb.endpoints) {
      const dns = this.dnsRedirectOf(e, this.networks.get(e.networkId)!);
      if (!dns) continue;
      e.dns = dns;
      await redirectDns(sb.netnsPath, dns).catch((err: Error) => this.log(`network: no embedded DNS for ${sb.containerName}: ${err.message}`));
      return;
    }
  }

  /** Where an endpoint's 127.0.0.11 goes when it holds the redirect: its user bridge's listener on the gateway. */
  private dnsRedirectOf(ep: EndpointRecord, n: NetworkRecord): EndpointRecord['dns'] {
    if (!n.dnsPort || !ep.ip || !ep.gateway || ep.sublink || this.isDefaultBridge(n)) return undefined;
    return { containerIp: ep.ip, serverIp: ep.gateway, udpPort: n.dnsPort, tcpPort: n.dnsPort };
  }

  /** Opens the container's own DNS listeners when it has them; a failure is logged (no DNS), as for a network's. */
  private async listenInNamespace(sb: SandboxRecord): Promise<void> {
    if (!sb.dnsInNetns) return;
    if (!canBindInNetns()) {
      this.log(`network: no embedded DNS for ${sb.containerName}: the netns socket addon is not built (npm run build)`);
      return;
    }
    await this.dns.listenInNamespace(netnsDnsKey(sb.containerId), sb.containerId, sb.netnsPath).catch((err: Error) => {
      this.log(`network: no embedded DNS for ${sb.containerName}: ${err.message}`);
    });
  }

  /**
   * IPv6 host bindings are served by the daemon's proxy (for [::1], and for IPv4-only containers).
   * The target is read at each new connection, so it follows the gateway endpoint when a connect
   * or disconnect moves it.
   */
  private proxyTarget(sb: SandboxRecord, m: PortMapping): ProxyTarget | undefined {
    if (!m.hostIp.includes(':')) return undefined;
    const target = (): string => this.portTarget(sb, m) ?? '';
    return {
      get ip() {
        return target();
      },
      port: m.containerPort,
    };
  }

  private sandboxRules(sb: SandboxRecord): Rule[] {
    return sb.ports.flatMap((p) => {
      if (p.routed) return this.openPortRules(sb, p);
      const containerIp = this.portTarget(sb, p);
      if (!containerIp) return [];
      const dnat = portRules(this.firewall.chains, { proto: p.proto, hostIp: p.hostIp, hostPort: p.hostPort, containerIp, containerPort: p.containerPort });
      return dnat.length ? [...dnat, ...this.openPortRules(sb, p)] : [];
    });
  }

  /**
   * A binding opens the container's port on the gateway endpoint of its family (none across
   * families), as libnetwork does except on nat-unprotected networks, which accept everything.
   */
  private openPortRules(sb: SandboxRecord, p: PortMapping): Rule[] {
    const v6 = p.hostIp.includes(':');
    const ep = this.portsEndpoint(sb, v6);
    const containerIp = v6 ? ep?.ip6 : ep?.ip;
    const n = ep && this.networks.get(ep.networkId);
    if (!containerIp || !n?.bridge || gatewayMode(n, v6) === 'nat-unprotected') return [];
    return openPortRules(this.firewall.chains, { proto: p.proto, bridge: n.bridge, containerIp, containerPort: p.containerPort });
  }

  /**
   * Whether the container's published ports are routed rather than mapped, per family: its
   * gateway network's mode; for IPv6 that of the network whose address the host's IPv6 ports
   * reach (its IPv4 gateway network's when it has no IPv6 one), as moby decides it.
   */
  private routedFamilies(sb: SandboxRecord): { v4: boolean; v6: boolean } {
    const net = (ep: EndpointRecord | undefined) => (ep ? this.networks.get(ep.networkId) : undefined);
    const n4 = net(this.portsEndpoint(sb));
    const n6 = net(this.portsEndpoint(sb, true)) ?? n4;
    return { v4: !!n4 && gatewayMode(n4) === 'routed', v6: !!n6 && gatewayMode(n6, true) === 'routed' };
  }

  private allRules(): Rule[] {
    return [...[...this.networks.values()].flatMap((n) => this.netRules(n)), ...[...this.sandboxes.values()].flatMap((s) => this.sandboxRules(s))];
  }

  /** The IPv4 addresses taken on a network: endpoints' leases and the IPAM auxiliary addresses. */
  private leaseSet(networkId: string): Set<number> {
    return this.leasesOf(this.leases, networkId, parseIp);
  }

  /** The same for IPv6. */
  private leaseSet6(networkId: string): Set<bigint> {
    return this.leasesOf(this.leases6, networkId, parseIp6);
  }

  private leasesOf<T>(map: Map<string, Set<T>>, networkId: string, parse: (a: string) => T | undefined): Set<T> {
    let s = map.get(networkId);
    if (!s) {
      map.set(networkId, (s = new Set()));
      for (const c of this.networks.get(networkId)?.IPAM.Config ?? []) {
        for (const a of Object.values(c.AuxiliaryAddresses ?? {})) {
          const ip = parse(a);
          if (ip !== undefined) s.add(ip);
        }
      }
    }
    return s;
  }

  private claim(sb: SandboxRecord): void {
    for (const ep of sb.endpoints) {
      if (ep.ip) this.leaseSet(ep.networkId).add(parseIp(ep.ip)!);
      if (ep.ip6) this.leaseSet6(ep.networkId).add(parseIp6(ep.ip6)!);
    }
    for (const p of sb.ports) if (!p.routed) this.portTable.take(p, sb.containerId);
  }

  private releaseEndpoint(ep: EndpointRecord): void {
    if (ep.ip) this.leases.get(ep.networkId)?.delete(parseIp(ep.ip)!);
    if (ep.ip6) this.leases6.get(ep.networkId)?.delete(parseIp6(ep.ip6)!);
  }

  private registerDns(sb: SandboxRecord): void {
    // Without external access the container reaches only its networks' own subnets.
    const internalOnly = !this.gatewayEndpoint(sb) && !this.gatewayEndpoint(sb, true);
    const nets = sb.endpoints.flatMap((e) => this.networks.get(e.networkId) ?? []);
    const reach = internalOnly ? nets.flatMap((n) => parseCidr(this.config4(n)?.Subnet ?? '')?.cidr ?? []) : undefined;
    const reach6 = internalOnly ? nets.flatMap((n) => parseCidr6(this.config6(n)?.Subnet ?? '')?.cidr ?? []) : undefined;
    for (const ep of sb.endpoints) {
      if (!(ep.ip || ep.ip6) || !ep.dnsNames.length) continue;
      const ip6 = ep.ip6 ? parseIp6(ep.ip6) : undefined;
      this.dns.setEndpoint(ep.networkId, sb.containerId, {
        ...(ep.ip ? { ip: parseIp(ep.ip)! } : {}),
        ...(ip6 !== undefined ? { ip6 } : {}),
        names: ep.dnsNames,
        upstreams: sb.dns,
        links: dnsLinks(ep.links),
        ...(reach ? { internalOnly: reach, internalOnly6: reach6 } : {}),
      });
    }
  }

  /** Number of leased addresses (IPv4 and IPv6) per network ID (tests prove nothing leaks). */
  leaseCounts(): Record<string, number> {
    const out: Record<string, number> = Object.fromEntries([...this.leases].map(([k, v]) => [k, v.size]));
    for (const [k, v] of this.leases6) out[k] = (out[k] ?? 0) + v.size;
    return out;
  }

  mappedPortCount(): number {
    return this.portTable.size();
  }

  // ---- lookups ------------------------------------------------------------------------

  /** By full name, full ID or unique ID prefix, as Docker resolves network references. */
  find(ref: string): NetworkRecord | undefined {
    const all = [...this.networks.values()].filter((n) => !this.removing.has(n.Id));
    const byId = all.find((n) => n.Id === ref);
    if (byId) return byId;
    const byName = all.find((n) => n.Name === ref);
    if (byName) return byName;
    const byPrefix = all.filter((n) => n.Id.startsWith(ref));
    return byPrefix.length === 1 ? byPrefix[0] : undefined;
  }

  get(ref: string): NetworkRecord {
    const n = this.find(ref);
    if (n) return n;
    const matches = ref ? [...this.networks.values()].filter((o) => !this.removing.has(o.Id) && o.Id.startsWith(ref)).length : 0;
    if (matches > 1) throw invalidParameter(`network ${ref} is ambiguous (${matches} matches found based on ID prefix)`);
    throw notFound(`network ${ref} not found`);
  }

  all(): NetworkRecord[] {
    return [...this.networks.values()];
  }

  /** What `--add-host x:host-gateway` resolves to: the default bridge's gateways. */
  private hostGateways(): Pick<EtcInputs, 'hostGateway' | 'hostGateway6'> {
    const v6 = this.hostGatewayIp6();
    return { hostGateway: this.hostGatewayIp(), ...(v6 ? { hostGateway6: v6 } : {}) };
  }

  hostGatewayIp6(): string | undefined {
    const b = [...this.networks.values()].find((n) => n.Name === 'bridge');
    const spec6 = b && this.spec6(b);
    return spec6 && formatIp6(spec6.gateway);
  }

  /** The default bridge's IPv4 gateway. */
  hostGatewayIp(): string {
    const b = [...this.networks.values()].find((n) => n.Name === 'bridge');
    return b ? formatIp(this.spec(b).gateway) : '';
  }

  /**
   * Create-time check of NetworkMode and EndpointsConfig, with Docker's texts. A network that does
   * not exist (yet) is no error here, as in moby: start fails on it with a 404, which from create
   * would make the Docker CLI try to pull the image.
   */
  validate(hostConfig: HostConfig, endpointsConfig?: Record<string, EndpointSettings> | null): void {
    const mode = hostConfig.NetworkMode || 'bridge';
    if (mode.startsWith('container:')) return;
    const net = this.find(mode === 'default' ? 'bridge' : mode);
    for (const [name, ep] of Object.entries(endpointsConfig ?? {})) {
      const other = this.find(name);
      if (net && other && (net.Driver === 'host' || (net.Driver === 'null' && !net.ConfigOnly)) && other.Id !== net.Id) {
        throw invalidParameter(`container cannot be connected to multiple networks with one of the networks in private (none) mode`);
      }
      this.checkEndpointConfig(other, ep);
    }
  }

  /** The endpoint settings' own validity, then (for a network that exists) what that network allows. */
  private checkEndpointConfig(n: NetworkRecord | undefined, ep: EndpointSettings | undefined): void {
    const ip = ep?.IPAMConfig?.IPv4Address;
    const ip6 = ep?.IPAMConfig?.IPv6Address;
    if (n && (this.isDefaultBridge(n) || (n.Driver !== 'bridge' && !isSublinkDriver(n.Driver)))) {
      if (ip || ip6) throw invalidParameter('user specified IP address is supported on user defined networks only');
      if (ep?.Aliases?.length) throw invalidParameter('network-scoped alias is supported only for containers in user defined networks');
    }
    if (ip && (parseIp(ip) === undefined || ip !== ip.trim())) throw invalidParameter(`invalid IPv4 address: ${ip}`);
    const ip6Value = ip6 ? parseIp6(ip6) : undefined;
    // Go's rules: an IPv4(-mapped) or the unspecified address is no IPv6 address either.
    if (ip6 && (ip6Value === undefined || ip6Value === 0n || ip6Value >> 32n === 0xffffn)) throw invalidParameter(`invalid IPv6 address: ${ip6}`);
    const mac = ep?.MacAddress;
    if (mac && !normalizeMac(mac)) throw invalidParameter(`invalid MAC address ${mac}`);
    if (!n) return;
    // Docker checks an --ip against the IPv4 subnet given at create, also on a network with IPv4 disabled.
    const subnet4 = this.given4(n);
    if (ip && !subnet4) throw invalidParameter('user specified IP address is supported only when connecting to networks with user configured subnets');
    if (ip6 && (!this.config6(n) || n.ipv6Auto)) throw invalidParameter('user specified IP address is supported only when connecting to networks with user configured subnets');
    // In a subnet of the network, inside its ip-range or not (Docker allows a static address outside it).
    if (ip && !contains(parseCidr(subnet4!.Subnet)!.cidr, parseIp(ip)!)) throw invalidParameter(`no configured subnet or ip-range contain the IP address ${ip}`);
    const spec6 = ip6 ? this.spec6(n) : undefined;
    if (spec6 && ip6Value !== undefined && !contains6(spec6.cidr, ip6Value)) throw invalidParameter(`no configured subnet or ip-range contain the IP address ${ip6}`);
  }

  // ---- attach / detach ----------------------------------------------------------------

  /**
   * Gives a created-but-not-started container its networking: endpoints on its networks (veth,
   * address, route, MTU; embedded DNS on user networks), published ports (reserved host ports and
   * DNAT rules). On failure nothing of it remains.
   */
  async attach(req: AttachRequest): Promise<AttachResult> {
    if (!this.restored) throw systemError('network manager used before restore()');
    return this.lock.run(req.containerId, async () => {
      if (this.sandboxes.has(req.containerId)) await this.detachLocked(req.containerId);
      const hc = req.hostConfig;
      const mode = hc.NetworkMode || 'bridge';
      const emptySettings = (networks: NetworkSettings['Networks']): AttachResult => ({
        settings: { Bridge: '', SandboxID: '', SandboxKey: '', Ports: {}, Networks: networks },
        etc: { addresses: [], ...this.hostGateways() },
      });
      if (mode.startsWith('container:')) return emptySettings({});
      for (const ref of [mode === 'default' ? 'bridge' : mode, ...Object.keys(req.endpointsConfig ?? {})]) {
        if (this.find(ref)?.ConfigOnly) throw forbidden(CONFIG_ONLY_ENDPOINT);
      }
      // As moby's connectToNetwork with the bridge disabled: an empty entry, no endpoint.
      if (this.bridgeDisabled && (mode === 'bridge' || mode === 'default')) return emptySettings({ bridge: emptyEndpointSettings() });
      const primary = this.get(mode === 'default' ? 'bridge' : mode);
      if (primary.Driver === 'host' || primary.Driver === 'null') {
        const epId = generateId();
        this.plain.set(req.containerId, { containerName: req.containerName, networkId: primary.Id, endpointId: epId });
        const set: EndpointSettings = { ...this.endpointSettings(primary, undefined, req.endpointsConfig?.[primary.Name]), EndpointID: epId };
        return emptySettings({ [primary.Name]: set });
      }
      const cfgs = req.endpointsConfig ?? {};
      const order: Array<{ net: NetworkRecord; cfg?: EndpointSettings }> = [{ net: primary, cfg: this.cfgFor(cfgs, primary) }];
      for (const name of Object.keys(cfgs)) {
        const n = this.get(name);
        if (n.Id !== primary.Id && !order.some((o) => o.net.Id === n.Id)) order.push({ net: n, cfg: cfgs[name] });
      }
      const sb: SandboxRecord = {
        containerId: req.containerId,
        containerName: req.containerName,
        ...(req.hostname ? { hostname: req.hostname } : {}),
        sandboxId: generateId(),
        netnsPath: req.netnsPath,
        endpoints: [],
        ports: [],
        portKeys: [...new Set([...Object.keys(req.exposedPorts ?? {}), ...Object.keys(hc.PortBindings ?? {})])],
        dns: hc.Dns ?? [],
      };
      const reservations: Reservation[] = [];
      let persisted = false;
      let rulesAdded: Rule[] = [];
      // Taken before the first await: a network rm from now on refuses, as for an active endpoint.
      const release = this.holdNetworks(order.map((o) => o.net.Id));
      try {
        await this.vethDeletes.settled(order.map((o) => o.net.Id));
        const names = interfaceNames([], order.map((o) => o.cfg), order.map((o) => ifacePrefix(o.net)));
        for (const [i, o] of order.entries()) sb.endpoints.push(this.allocateEndpoint(sb, o.net, o.cfg, names[i]!));
        const gateway = this.portsEndpoint(sb) ?? this.portsEndpoint(sb, true);
        const bindIp = (gateway && this.networks.get(gateway.networkId)?.Options[HOST_BINDING_OPTION]) || '0.0.0.0';
        sb.portRequests = portRequests(hc.PortBindings, req.exposedPorts, !!hc.PublishAllPorts, this.v6Ports, bindIp);
        if (gateway) sb.ports = await this.allocatePorts(sb, reservations);
        sb.dnsInNetns = this.needsDnsInNetns(sb) || undefined;
        this.sandboxes.set(sb.containerId, sb);
        await writeJsonAtomic(this.sandboxPath(sb.containerId), sb);
        persisted = true;
        for (const ep of sb.endpoints) await this.plumb(sb, ep);
        rulesAdded = this.sandboxRules(sb);
        await this.firewall.add(rulesAdded);
        await this.listenInNamespace(sb);
      } catch (err) {
        for (const r of reservations) r.close();
        for (const p of sb.ports) this.portTable.release(p);
        for (const ep of sb.endpoints) {
          this.releaseEndpoint(ep);
          if (ep.hostVeth) await deleteLink(ep.hostVeth);
          if (ep.sublink) await deleteSublink(sb.netnsPath, [ep.ifname]);
        }
        this.sandboxes.delete(sb.containerId);
        if (persisted) await rm(this.sandboxPath(sb.containerId), { force: true });
        throw err instanceof PortInUseError ? this.portError(sb, err.mapping, 'bind') : err;
      } finally {
        release();
      }
      this.reservations.set(sb.containerId, reservations);
      this.registerDns(sb);
      return { settings: this.settingsOf(sb), etc: this.etcOf(sb) };
    });
  }

  private holdNetworks(ids: string[]): () => void {
    for (const id of ids) this.joining.set(id, (this.joining.get(id) ?? 0) + 1);
    return () => {
      for (const id of ids) {
        const left = (this.joining.get(id) ?? 1) - 1;
        if (left > 0) this.joining.set(id, left);
        else this.joining.delete(id);
      }
    };
  }

  private cfgFor(cfgs: Record<string, EndpointSettings>, n: NetworkRecord): EndpointSettings | undefined {
    for (const [k, v] of Object.entries(cfgs)) if (this.find(k)?.Id === n.Id) return v;
    return undefined;
  }

  private portError(sb: SandboxRecord, m: PortMapping, why: 'allocated' | 'bind'): Error {
    const ep = sb.endpoints[0];
    const prefix = `failed to set up container networking: driver failed programming external connectivity on endpoint ${sb.containerName} (${ep?.endpointId ?? ''}): `;
    // Docker's portallocator prints the address bare (`Bind for :::8080`), the binding in brackets.
    if (why === 'allocated') return conflict(`${prefix}Bind for ${m.hostIp}:${m.hostPort} failed: port is already allocated`);
    const target = (m.hostIp.includes(':') && ep?.ip6) || ep?.ip || '';
    return conflict(`${prefix}failed to bind host port for ${joinHostPort(m.hostIp, m.hostPort)}:${joinHostPort(target, m.containerPort)}/${m.proto}: address already in use`);
  }

  /** Picks the address and names of an endpoint and records the lease (synchronously: no races). */
  private allocateEndpoint(sb: SandboxRecord, n: NetworkRecord, cfg: EndpointSettings | undefined, ifname: string): EndpointRecord {
    this.checkEndpointConfig(n, cfg);
    // An IPv6-only network's endpoint has no IPv4 address (an --ip in its disabled subnet is ignored, as by libnetwork).
    const spec = this.config4(n) && this.spec(n);
    const leased = this.leaseSet(n.Id);
    let ip: number | undefined;
    const want = cfg?.IPAMConfig?.IPv4Address;
    if (spec && want) {
      ip = parseIp(want)!;
      checkRequestedIp(spec, ip, leased, want);
    } else if (spec) {
      ip = allocateIp(spec, leased);
      if (ip === undefined) throw systemError(`no available IPv4 addresses on this network's address pools: ${n.Name} (${n.Id})`);
    }
    const sub = sublinkOf(n);
    if (n.Driver === 'ipvlan' && cfg?.MacAddress) throw systemError('ipvlan interfaces do not support custom mac address assignment');
    if (ip !== undefined) leased.add(ip);
    const user = !this.isDefaultBridge(n);
    const aliases = [...new Set(cfg?.Aliases ?? [])];
    const dnsNames = user ? endpointDnsNames(sb, aliases) : [];
    const v6 = this.allocateIp6(n, cfg, () => ip !== undefined && leased.delete(ip));
    // libnetwork's macvlan and ipvlan L2 joins give the gateway only on a network with a way out;
    // ipvlan L3 routes out of the device itself, with no gateway.
    const noGateway = !!sub && (sublinkIsolated(n, sub) || (n.Driver === 'ipvlan' && sub.mode !== 'l2'));
    if (noGateway && v6.gateway6) delete v6.gateway6;
    const ep: EndpointRecord = {
      networkId: n.Id,
      networkName: n.Name,
      endpointId: generateId(),
      ip: ip === undefined ? '' : formatIp(ip),
      prefixLen: spec ? spec.cidr.bits : 0,
      gateway: noGateway || !spec || gatewayMode(n) === 'isolated' ? '' : formatIp(spec.gateway),
      ...v6,
      // An ipvlan device has its parent's address; without an IPv4 one a random one, as Docker 28 gives every endpoint.
      mac: n.Driver === 'ipvlan' ? '' : (cfg?.MacAddress && normalizeMac(cfg.MacAddress)) || (ip === undefined ? randomMac() : macForIp(ip)),
      ifname,
      hostVeth: sub ? '' : `veth${randomBytes(4).toString('hex').slice(0, 7)}`,
      ...(sub ? { sublink: true } : {}),
      aliases,
      dnsNames,
      requestedIp: want || undefined,
      ...(cfg?.IPAMConfig ? { ipamConfig: cfg.IPAMConfig } : {}),
      ...(cfg?.DriverOpts && Object.keys(cfg.DriverOpts).length ? { driverOpts: { ...cfg.DriverOpts } } : {}),
      ...(cfg?.Links?.length ? { links: [...cfg.Links] } : {}),
      ...(cfg?.GwPriority ? { gwPriority: cfg.GwPriority } : {}),
    };
    if (!sb.endpoints.some((e) => e.dns)) {
      const dns = this.dnsRedirectOf(ep, n);
      if (dns) ep.dns = dns;
    }
    return ep;
  }

  /**
   * The IPv6 address of an endpoint on an IPv6 network (leased here; `undo` gives the IPv4 lease
   * back when this fails, so the caller leaks nothing); nothing on an IPv4-only network.
   */
  private allocateIp6(n: NetworkRecord, cfg: EndpointSettings | undefined, undo: () => void): Partial<EndpointRecord> {
    const spec6 = this.spec6(n);
    if (!spec6) return {};
    const leased = this.leaseSet6(n.Id);
    const want = cfg?.IPAMConfig?.IPv6Address;
    let ip: bigint | undefined;
    try {
      if (want) {
        ip = parseIp6(want)!;
        checkRequestedIp6(spec6, ip, leased, want);
      } else {
        ip = allocateIp6(spec6, leased);
        if (ip === undefined) throw systemError(`no available IPv6 addresses on this network's address pools: ${n.Name} (${n.Id})`);
      }
    } catch (err) {
      undo();
      throw err;
    }
    leased.add(ip);
    return { ip6: formatIp6(ip), prefixLen6: spec6.cidr.bits, ...(gatewayMode(n, true) !== 'isolated' ? { gateway6: formatIp6(spec6.gateway) } : {}) };
  }

  /**
   * The endpoint that gives the container its default route and its published ports: libnetwork's
   * gateway endpoint, the first of the sandbox's endpoints that has a gateway (none on an internal
   * network has one) in libnetwork's order: the highest GwPriority first, then one with both an
   * IPv4 and an IPv6 gateway before one with a single one, then by network name. IPv4 and IPv6
   * each have their own.
   */
  private gatewayEndpoint(sb: SandboxRecord, v6 = false): EndpointRecord | undefined {
    const gateways = (ep: EndpointRecord) => (ep.ip ? 1 : 0) + (ep.ip6 ? 1 : 0);
    const before = (a: EndpointRecord, b: EndpointRecord) =>
      (a.gwPriority ?? 0) !== (b.gwPriority ?? 0) ? (a.gwPriority ?? 0) > (b.gwPriority ?? 0)
      : gateways(a) !== gateways(b) ? gateways(a) > gateways(b)
      : a.networkName < b.networkName;
    let best: EndpointRecord | undefined;
    for (const ep of sb.endpoints) {
      if (!(v6 ? ep.ip6 : ep.ip) || this.networks.get(ep.networkId)?.Internal !== false) continue;
      if (ep.sublink && !(v6 ? ep.gateway6 : ep.gateway)) continue;
      if (!best || before(ep, best)) best = ep;
    }
    return best;
  }

  private async plumb(sb: SandboxRecord, ep: EndpointRecord): Promise<void> {
    const n = this.networks.get(ep.networkId)!;
    // moby takes any MAC Go parses; the kernel's refusal of a multicast or zero one fails the start.
    if (ep.mac && !isAssignableMac(ep.mac)) {
      const what = `error setting interface ${JSON.stringify(ep.ifname)} MAC to ${JSON.stringify(ep.mac)}: cannot assign requested address`;
      throw systemError(`failed to set up container networking: failed to add interface ${ep.hostVeth || ep.ifname} to sandbox: ${what}`);
    }
    const sub = sublinkOf(n);
    if (sub) {
      await addSublink({
        driver: n.Driver as 'macvlan' | 'ipvlan',
        parent: sub.parent,
        mode: sub.mode,
        ...(sub.flag ? { flag: sub.flag } : {}),
        netnsPath: sb.netnsPath,
        ifname: ep.ifname,
        ...(ep.mac ? { mac: ep.mac } : {}),
        ...(ep.ip ? { address: `${ep.ip}/${ep.prefixLen}` } : {}),
        ...(ep.ip6 ? { address6: `${ep.ip6}/${ep.prefixLen6}` } : {}),
        defaultGateway: this.gatewayEndpoint(sb) === ep ? ep.gateway : undefined,
        defaultGateway6: this.gatewayEndpoint(sb, true) === ep ? ep.gateway6 : undefined,
        defaultDevice: n.Driver === 'ipvlan' && sub.mode !== 'l2' && !sublinkIsolated(n, sub),
      });
      return;
    }
    await addVeth({
      netnsPath: sb.netnsPath,
      hostVeth: ep.hostVeth,
      bridge: n.bridge!,
      ifname: ep.ifname,
      ...(ep.ip ? { address: `${ep.ip}/${ep.prefixLen}` } : {}),
      ...(ep.ip6 ? { address6: `${ep.ip6}/${ep.prefixLen6}` } : {}),
      mac: ep.mac,
      mtu: n.mtu ?? this.mtu,
      defaultGateway: this.gatewayEndpoint(sb) === ep ? ep.gateway : undefined,
      defaultGateway6: this.gatewayEndpoint(sb, true) === ep ? ep.gateway6 : undefined,
      dns: ep.dns,
    });
  }

  private async allocatePorts(sb: SandboxRecord, reservations: Reservation[]): Promise<PortMapping[]> {
    const requests = sb.portRequests ?? [];
    const out: PortMapping[] = [];
    let eph: [number, number] | undefined;
    const routed = this.routedFamilies(sb);
    for (const r of requests) {
      const { nat: hostIps, routed: routedOnes } = splitRouted({ ...r, hostIps: this.publishedHostIps(sb, r) }, routed);
      if (!hostIps.length) {
        out.push(...routedOnes);
        continue;
      }
      let [lo, hi] = r.hostPorts;
      const ephemeral = lo === 0;
      if (ephemeral) [lo, hi] = eph ??= await ephemeralRange();
      const span = hi - lo + 1;
      const start = ephemeral ? Math.max(0, Math.min(this.portCursor - lo, span - 1)) : 0;
      let done = false;
      let lastErr: PortInUseError | undefined;
      for (let k = 0; k < span && !done; k++) {
        const port = lo + ((start + k) % span);
        // Every address of the request (0.0.0.0 and ::) gets the same port, as in Docker.
        const group: PortMapping[] = hostIps.map((hostIp) => ({ proto: r.proto, containerPort: r.containerPort, hostIp, hostPort: port }));
        const taken = group.find((m) => !this.portTable.isFree(m.proto, m.hostIp, port));
        if (taken) {
          if (span === 1) throw this.portError(sb, taken, 'allocated');
          continue;
        }
        const held: Reservation[] = [];
        try {
          for (const m of group) {
            this.portTable.take(m, sb.containerId);
            held.push(await reservePort(m, this.proxyTarget(sb, m)));
          }
          // IPv4 before IPv6, as moby lists a request's bindings.
          out.push(...[...group, ...routedOnes].sort((a, b) => Number(a.hostIp.includes(':')) - Number(b.hostIp.includes(':'))));
          reservations.push(...held);
          done = true;
          if (ephemeral) this.portCursor = port + 1;
        } catch (err) {
          for (const h of held) h.close();
          for (const m of group) this.portTable.release(m);
          if (!(err instanceof PortInUseError)) throw err;
          lastErr = err;
          if (span === 1) break;
        }
      }
      if (!done) {
        for (const m of out) this.portTable.release(m);
        if (lastErr && span === 1) throw lastErr;
        const m: PortMapping = { proto: r.proto, containerPort: r.containerPort, hostIp: hostIps[0]!, hostPort: lo };
        throw ephemeral ? systemError(`failed to allocate a free port in ${lo}-${hi}`) : this.portError(sb, m, 'allocated');
      }
    }
    return out;
  }

  /**
   * Tears down everything `attach`/`connect` made for the container (no error when nothing is
   * there). With `vethsInBackground` (the container's process is gone) its host veths are
   * deleted after this returns (veth-deletes.ts); `vethsDeleted` waits for them.
   */
  async detach(containerId: string, opts: { vethsInBackground?: boolean } = {}): Promise<void> {
    await this.lock.run(containerId, () => this.detachLocked(containerId));
    if (!opts.vethsInBackground) await this.vethDeletes.settledFor(containerId);
  }

  /** Resolves once the veths of the container's last detach are gone (and their addresses free). */
  vethsDeleted(containerId: string): Promise<void> {
    return this.vethDeletes.settledFor(containerId);
  }

  private async detachLocked(containerId: string): Promise<void> {
    this.plain.delete(containerId);
    const sb = this.sandboxes.get(containerId);
    if (!sb) {
      await rm(this.sandboxPath(containerId), { force: true });
      return;
    }
    await this.firewall.remove(this.sandboxRules(sb));
    for (const r of this.reservations.get(containerId) ?? []) r.close();
    this.reservations.delete(containerId);
    for (const p of sb.ports) this.portTable.release(p);
    await this.dns.close(netnsDnsKey(containerId));
    for (const ep of sb.endpoints) {
      this.dns.removeEndpoint(ep.networkId, containerId);
      // Deleted in the background, the addresses leased until the veth is gone (veth-deletes.ts).
      const veth = ep.hostVeth;
      this.vethDeletes.add(ep.networkId, containerId, () => (veth ? deleteLink(veth) : Promise.resolve()), () => this.releaseEndpoint(ep));
    }
    this.sandboxes.delete(containerId);
    await rm(this.sandboxPath(containerId), { force: true });
  }

  /** Connects a running container (attached before) to one more network. */
  async connect(containerId: string, networkRef: string, cfg?: EndpointSettings): Promise<EndpointSettings> {
    const n = this.get(networkRef);
    const release = this.holdNetworks([n.Id]);
    return this.lock.run(containerId, async () => {
      const sb = this.sandboxes.get(containerId);
      if (!sb) throw conflict(`container ${containerId} is not running with its own network namespace`);
      if (n.Driver !== 'bridge' && !sublinkOf(n)) throw forbidden(`container cannot be disconnected from host network or connected to host network`);
      if (sb.endpoints.some((e) => e.networkId === n.Id)) {
        throw forbidden(`endpoint with name ${sb.containerName} already exists in network ${n.Name}`);
      }
      const [ifname] = interfaceNames(sb.endpoints.map((e) => e.ifname), [cfg], [ifacePrefix(n)]);
      await this.vethDeletes.settled([n.Id]);
      const ep = this.allocateEndpoint(sb, n, cfg, ifname!);
      const oldRules = this.sandboxRules(sb);
      sb.endpoints.push(ep);
      const gateway = this.gatewayEndpoint(sb) === ep || this.gatewayEndpoint(sb, true) === ep;
      try {
        await writeJsonAtomic(this.sandboxPath(containerId), sb);
        await this.plumb(sb, ep);
        if (gateway) await this.updateExternal(sb, oldRules);
        sb.dnsInNetns = sb.dnsInNetns || this.needsDnsInNetns(sb) || undefined;
        await writeJsonAtomic(this.sandboxPath(containerId), sb);
      } catch (err) {
        const rulesNow = this.sandboxRules(sb);
        sb.endpoints.pop();
        this.releaseEndpoint(ep);
        if (ep.sublink) await deleteSublink(sb.netnsPath, [ep.ifname]);
        else await deleteLink(ep.hostVeth);
        if (gateway) {
          // Back to the gateway it had: its route, and the ports where they were (or none).
          await this.routeDefaults(sb).catch(() => {});
          await this.updateExternal(sb, rulesNow).catch(() => {});
        }
        await writeJsonAtomic(this.sandboxPath(containerId), sb).catch(() => {});
        throw err;
      }
      this.registerDns(sb);
      await this.listenInNamespace(sb);
      return this.epSettings(ep, n);
    }).finally(release);
  }

  /**
   * A container's new name (rename): what network inspect lists and the name its user networks'
   * DNS answers follow, as Docker's sandbox rename does; aliases stay. Returns the container's
   * NetworkSettings with the new DNSNames (undefined when it has no sandbox).
   */
  async rename(containerId: string, name: string): Promise<NetworkSettings | undefined> {
    return this.lock.run(containerId, async () => {
      const p = this.plain.get(containerId);
      if (p) p.containerName = name;
      const sb = this.sandboxes.get(containerId);
      if (!sb) return undefined;
      sb.containerName = name;
      for (const ep of sb.endpoints) if (ep.dnsNames.length) ep.dnsNames = endpointDnsNames(sb, ep.aliases);
      this.registerDns(sb);
      await writeJsonAtomic(this.sandboxPath(containerId), sb);
      return this.settingsOf(sb);
    });
  }

  /** Disconnects a running container from one network. */
  async disconnect(containerId: string, networkRef: string): Promise<void> {
    const n = this.get(networkRef);
    await this.lock.run(containerId, async () => {
      const sb = this.sandboxes.get(containerId);
      const ep = sb?.endpoints.find((e) => e.networkId === n.Id);
      // A plain error in moby, so a 500.
      if (!sb || !ep) throw systemError(`container ${containerId} is not connected to network ${n.Name}`);
      const oldRules = this.sandboxRules(sb);
      const gateway = this.gatewayEndpoint(sb) === ep || this.gatewayEndpoint(sb, true) === ep;
      this.dns.removeEndpoint(n.Id, containerId);
      if (ep.dns) await removeDnsRedirect(sb.netnsPath, ep.dns).catch(() => {});
      if (ep.sublink) await deleteSublink(sb.netnsPath, [ep.ifname]);
      else await deleteLink(ep.hostVeth);
      this.releaseEndpoint(ep);
      sb.endpoints = sb.endpoints.filter((e) => e !== ep);
      if (gateway) {
        await this.routeDefaults(sb);
        await this.updateExternal(sb, oldRules);
      }
      // The network that redirected 127.0.0.11 to the host left: another user bridge's listener
      // takes the redirect, else listeners inside the namespace take over.
      if (ep.dns) await this.moveDnsRedirect(sb);
      const netnsDns = !sb.dnsInNetns && this.needsDnsInNetns(sb);
      if (netnsDns) sb.dnsInNetns = true;
      this.registerDns(sb);
      await writeJsonAtomic(this.sandboxPath(containerId), sb);
      if (netnsDns) await this.listenInNamespace(sb);
    });
  }

  /**
   * After a connect or disconnect changed the gateway endpoint: the published ports follow it, as
   * libnetwork moves external connectivity to the new gateway endpoint. They are published when
   * the container gets its first gateway (it was only on internal networks) and dropped when it
   * has none left.
   */
  private async updateExternal(sb: SandboxRecord, oldRules: Rule[]): Promise<void> {
    if (!this.portsEndpoint(sb) && !this.portsEndpoint(sb, true)) {
      await this.firewall.remove(oldRules);
      this.dropPorts(sb);
      return;
    }
    // A family came or went (an IPv6-only network joined or left), or a family's gateway network
    // routes what the old one mapped (or the reverse): the ports are published again for the
    // gateways the container has now, as libnetwork revokes and reprograms them.
    if (!this.portsCurrent(sb) || this.gatewayModeChanged(sb)) {
      this.dropPorts(sb);
      const reservations: Reservation[] = [];
      try {
        sb.ports = await this.allocatePorts(sb, reservations);
      } catch (err) {
        for (const r of reservations) r.close();
        throw err instanceof PortInUseError ? this.portError(sb, err.mapping, 'bind') : err;
      }
      this.reservations.set(sb.containerId, reservations);
    }
    const key = (r: Rule) => JSON.stringify(r);
    const newRules = this.sandboxRules(sb);
    const kept = new Set(newRules.map(key));
    const had = new Set(oldRules.map(key));
    await this.firewall.remove(oldRules.filter((r) => !kept.has(key(r))));
    await this.firewall.add(newRules.filter((r) => !had.has(key(r))));
  }

  /** Whether the ports were published for a gateway network that routed them and the new one maps them, or the reverse. */
  private gatewayModeChanged(sb: SandboxRecord): boolean {
    const routed = this.routedFamilies(sb);
    return sb.ports.some((p) => !!p.routed !== (p.hostIp.includes(':') ? routed.v6 : routed.v4));
  }

  private dropPorts(sb: SandboxRecord): void {
    for (const r of this.reservations.get(sb.containerId) ?? []) r.close();
    this.reservations.delete(sb.containerId);
    for (const p of sb.ports) this.portTable.release(p);
    sb.ports = [];
  }

  /**
   * The host addresses of a port request that the container's gateways can serve, as libnetwork's
   * port mapping: an IPv4 one needs an IPv4 gateway endpoint (nothing maps IPv4 to an IPv6-only
   * container), an IPv6 one an IPv6 gateway endpoint or the proxy to an IPv4 one.
   */
  private publishedHostIps(sb: SandboxRecord, r: PortRequest): string[] {
    return r.hostIps.filter((hostIp) => this.portTarget(sb, { proto: r.proto, containerPort: r.containerPort, hostIp, hostPort: 0 }) !== undefined);
  }

  /** Whether the published ports are those its requests give with the gateways the container has now. */
  private portsCurrent(sb: SandboxRecord): boolean {
    // A sandbox recorded before its requests were kept: what it has is all it knows of them.
    if (!sb.portRequests) return true;
    const key = (proto: string, port: number, hostIp: string) => `${proto}/${port}/${hostIp}`;
    const want = sb.portRequests.flatMap((r) => this.publishedHostIps(sb, r).map((ip) => key(r.proto, r.containerPort, ip)));
    const have = sb.ports.map((m) => key(m.proto, m.containerPort, m.hostIp));
    return want.sort().join('\n') === have.sort().join('\n');
  }

  /** Points the container's default routes at its gateway endpoints (after the old one left). */
  private async routeDefaults(sb: SandboxRecord): Promise<void> {
    const gw4 = this.gatewayEndpoint(sb);
    const gw6 = this.gatewayEndpoint(sb, true);
    if (gw4) await replaceDefaultRoute(sb.netnsPath, gw4.gateway, gw4.ifname);
    if (gw6?.gateway6) await replaceDefaultRoute(sb.netnsPath, gw6.gateway6, gw6.ifname);
  }

  // ---- NetworkSettings -----------------------------------------------------------------

  private endpointSettings(n: NetworkRecord, ep: EndpointRecord | undefined, cfg?: EndpointSettings): EndpointSettings {
    return {
      IPAMConfig: cfg?.IPAMConfig ?? ep?.ipamConfig ?? (ep?.requestedIp ? { IPv4Address: ep.requestedIp } : null),
      Links: cfg?.Links?.length ? cfg.Links : (ep?.links ?? null),
      Aliases: ep?.aliases.length ? ep.aliases : cfg?.Aliases?.length ? cfg.Aliases : null,
      MacAddress: ep?.mac ?? cfg?.MacAddress ?? '',
      DriverOpts: cfg?.DriverOpts && Object.keys(cfg.DriverOpts).length ? cfg.DriverOpts : (ep?.driverOpts ?? null),
      GwPriority: ep ? (ep.gwPriority ?? 0) : (cfg?.GwPriority ?? 0),
      NetworkID: n.Id,
      EndpointID: ep?.endpointId ?? '',
      Gateway: ep?.gateway ?? '',
      IPAddress: ep?.ip ?? '',
      IPPrefixLen: ep?.prefixLen ?? 0,
      IPv6Gateway: ep?.gateway6 ?? '',
      GlobalIPv6Address: ep?.ip6 ?? '',
      GlobalIPv6PrefixLen: ep?.prefixLen6 ?? 0,
      DNSNames: ep?.dnsNames.length ? ep.dnsNames : null,
    };
  }

  private epSettings(ep: EndpointRecord, n = this.networks.get(ep.networkId)!): EndpointSettings {
    return this.endpointSettings(n, ep);
  }

  private settingsOf(sb: SandboxRecord): NetworkSettings {
    const networks: Record<string, EndpointSettings> = {};
    for (const ep of sb.endpoints) networks[this.networks.get(ep.networkId)?.Name ?? ep.networkName] = this.epSettings(ep);
    const bridgeEp = sb.endpoints.find((e) => this.networks.get(e.networkId) && this.isDefaultBridge(this.networks.get(e.networkId)!));
    const ports: Record<string, PortBinding[] | null> = portsMap(Object.fromEntries(sb.portKeys.map((k) => [k, {}])), null, sb.ports);
    return {
      Bridge: '',
      SandboxID: sb.sandboxId,
      SandboxKey: sb.netnsPath,
      Ports: ports,
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      EndpointID: bridgeEp?.endpointId ?? '',
      Gateway: bridgeEp?.gateway ?? '',
      GlobalIPv6Address: bridgeEp?.ip6 ?? '',
      GlobalIPv6PrefixLen: bridgeEp?.prefixLen6 ?? 0,
      IPAddress: bridgeEp?.ip ?? '',
      IPPrefixLen: bridgeEp?.prefixLen ?? 0,
      IPv6Gateway: bridgeEp?.gateway6 ?? '',
      MacAddress: bridgeEp?.mac ?? '',
      Networks: networks,
    };
  }

  private etcOf(sb: SandboxRecord): EtcInputs {
    const user = sb.endpoints.some((e) => e.dns) || !!sb.dnsInNetns;
    return { addresses: sb.endpoints.flatMap(endpointAddresses), nameservers: user ? ['127.0.0.11'] : undefined, ...this.hostGateways() };
  }

  /** The current NetworkSettings of a running container; undefined when it has none here. */
  settings(containerId: string): NetworkSettings | undefined {
    const sb = this.sandboxes.get(containerId);
    return sb && this.settingsOf(sb);
  }

  // ---- networks CRUD -------------------------------------------------------------------

  async create(req: NetworkCreateRequest): Promise<{ Id: string; Warning: string }> {
    return this.lock.run('\0networks', async () => {
      const name = req.Name ?? '';
      if (!name) throw invalidParameter('network name must not be empty');
      // Docker takes any name; control characters are refused because names reach logs and CLI tables.
      if (/[\x00-\x1f\x7f]/.test(name)) throw invalidParameter(`invalid network name ${JSON.stringify(name)}: control characters are not allowed`);
      // moby also refuses the names of the other network modes: default, and container[:<id>].
      if (PREDEFINED.has(name) || name === 'default' || name === 'container' || name.startsWith('container:')) {
        throw forbidden(`${name} is a pre-defined network and cannot be created`);
      }
      if ([...this.networks.values()].some((n) => n.Name === name)) throw conflict(`network with name ${name} already exists`);
      if (req.ConfigOnly) return this.createConfigOnly(name, req);
      let source: NetworkRecord | undefined;
      if (req.ConfigFrom?.Network) {
        source = this.find(req.ConfigFrom.Network);
        if (!source?.ConfigOnly) throw notFound(`configuration network ${JSON.stringify(req.ConfigFrom.Network)} does not exist`);
        if (req.IPAM?.Config?.length || Object.keys(req.Options ?? {}).length || req.EnableIPv6 || req.EnableIPv4 === false) {
          throw forbidden('user specified configurations are not supported if the network depends on a configuration network');
        }
        // libnetwork's applyConfigurationTo: the IPAM, the driver options and (where the request has none of its own) the labels.
        req = {
          ...req,
          IPAM: { ...req.IPAM, Config: (source.IPAM.Config ?? []).map((c) => ({ ...c })), Options: source.IPAM.Options ?? {} },
          Options: { ...source.Options },
          Labels: { ...source.Labels, ...(req.Labels ?? {}) },
          EnableIPv4: source.EnableIPv4 !== false,
          EnableIPv6: source.EnableIPv6,
        };
      }
      const driver = req.Driver || 'bridge';
      const options = { ...(req.Options ?? {}) };
      // dockerd looks an unknown driver up in its plugin store, whose answer this is.
      if (driver !== 'bridge' && !isSublinkDriver(driver)) throw notFound(`plugin ${JSON.stringify(driver)} not found`);
      const bridgeDriver = driver === 'bridge';
      const ipamDriver = req.IPAM?.Driver || 'default';
      if (ipamDriver === 'null') throw systemError('ipv4 pool is empty');
      if (ipamDriver !== 'default') throw notFound(`plugin ${JSON.stringify(ipamDriver)} not found`);
      const ipv4 = ipFamilyEnabled(req.EnableIPv4, options, 'com.docker.network.enable_ipv4', true);
      const ipv6 = ipFamilyEnabled(req.EnableIPv6, options, 'com.docker.network.enable_ipv6', false);
      if (bridgeDriver) this.checkBridgeOptions(options, !!req.Internal);
      const bridgeName = bridgeDriver ? options['com.docker.network.bridge.name'] : undefined;
      // An interface name: it goes into `ip -batch` and iptables-restore lines.
      if (bridgeName !== undefined && (!/^[a-zA-Z0-9_.-]+$/.test(bridgeName) || bridgeName === '.' || bridgeName === '..')) {
        throw invalidParameter(`invalid bridge name ${JSON.stringify(bridgeName)}`);
      }
      const id = generateId();
      const sublink = isSublinkDriver(driver) ? sublinkConfig(driver, id, options, [...this.networks.values()]) : undefined;
      const cfgIn = (req.IPAM?.Config ?? []).filter((c) => !c.Subnet?.includes(':'));
      // Docker's ValidateIPAM looks at every IPv4 config before anything else does.
      const errs4 = cfgIn.flatMap((c) => ipamErrors4(c));
      if (errs4.length) throw invalidParameter(ipamConfigError(errs4));
      // libnetwork's bridge driver; a macvlan or ipvlan network may have no addresses at all.
      if (bridgeDriver && !ipv4 && !ipv6) throw invalidParameter('IPv4 or IPv6 must be enabled');
      let config: NetworkRecord['IPAM']['Config'];
      if (!ipv4) {
        config = unallocatedConfigs(cfgIn);
      } else if (cfgIn.length) {
        if (cfgIn.length > 1) throw invalidParameter('only one IPv4 subnet per network is supported');
        const c = cfgIn[0]!;
        const spec = subnetSpec(c.Subnet!, c.Gateway, c.IPRange);
        for (const other of this.addressed()) {
          const o = parseCidr(this.config4(other)?.Subnet ?? '')?.cidr;
          if (o && overlaps(o, spec.cidr)) throw forbidden('invalid pool request: Pool overlaps with other one on this address space');
        }
        const aux = c.AuxiliaryAddresses ?? {};
        for (const [key, addr] of Object.entries(aux)) {
          const ip = parseIp(addr);
          if (ip === undefined || !contains(spec.cidr, ip)) {
            throw forbidden(`auxiliary address: (${key}:${addr}) must belong to the master pool: ${formatCidr(spec.cidr)}`);
          }
        }
        config = [
          {
            Subnet: formatCidr(spec.cidr),
            Gateway: formatIp(spec.gateway),
            ...(c.IPRange ? { IPRange: c.IPRange } : {}),
            ...(Object.keys(aux).length ? { AuxiliaryAddresses: { ...aux } } : {}),
          },
        ];
      } else {
        const c = pickSubnet(this.pools4(), await this.usedSubnets());
        if (!c) throw forbidden('all predefined address pools have been fully subnetted');
        config = [{ Subnet: formatCidr(c), Gateway: formatIp((c.base + 1) >>> 0) }];
      }
      const config6 = ipv6 ? await this.ipamConfig6(req) : undefined;
      if (config6) config.push(config6);
      if (bridgeDriver) dropIsolatedGateways(config, options, req.IPAM?.Config ?? []);
      // A macvlan or ipvlan network with neither family: Docker's inspect shows no IPAM config at all.
      if (!config.length) config = null;
      const mtuOpt = options['com.docker.network.driver.mtu'];
      const rec = this.newRecord(name, driver, { Config: config, Options: req.IPAM?.Options ?? null }, options, { ...(req.Labels ?? {}) }, !!req.Internal);
      rec.Id = id;
      rec.EnableIPv4 = ipv4;
      rec.EnableIPv6 = ipv6;
      if (config6 && !(req.IPAM?.Config ?? []).some((c) => c.Subnet?.includes(':'))) rec.ipv6Auto = true;
      rec.Attachable = !!req.Attachable;
      if (source) rec.ConfigFrom = { Network: source.Name };
      if (sublink) return this.createSublinkNetwork(rec, sublink);
      rec.bridge = bridgeName || `${this.opts.userBridgePrefix ?? 'wh-'}${id.slice(0, 12)}`;
      if (rec.bridge.length > 15) throw invalidParameter(`bridge name ${rec.bridge} is longer than 15 characters`);
      if (bridgeName && (await linkExists(bridgeName))) throw conflict(`bridge ${bridgeName} already exists on the host`);
      if (mtuOpt) {
        const m = /^\d+$/.test(mtuOpt) ? Number(mtuOpt) : NaN;
        if (!Number.isSafeInteger(m)) throw invalidParameter(`invalid MTU number: ${mtuOpt}`);
        // 0 leaves the kernel's MTU; below the minimum of an Ethernet device the kernel refuses it.
        if (m > 0 && m < 68) throw systemError(`invalid MTU number: ${mtuOpt}: invalid argument`);
        if (m > 0) rec.mtu = m;
      }
      await writeJsonAtomic(this.netPath(id), rec);
      this.networks.set(id, rec);
      try {
        await this.setUpBridge(rec);
        await this.firewall.add(this.netRules(rec));
        await this.startDns(rec);
      } catch (err) {
        await this.destroyNetwork(rec).catch(() => {});
        throw err;
      }
      return { Id: id, Warning: '' };
    });
  }

  /** The bridge driver's own options, checked as libnetwork's bridge driver checks them. */
  private checkBridgeOptions(options: Record<string, string>, internal: boolean): void {
    checkGatewayModes(options, internal);
    trustedInterfaces(options);
    if (options[ICC_OPTION] !== undefined && parseGoBool(options[ICC_OPTION]) === undefined) {
      throw invalidParameter(`invalid value for ${ICC_OPTION}: ${JSON.stringify(options[ICC_OPTION])}: not a bool`);
    }
    if (options[MASQUERADE_OPTION] !== undefined && parseGoBool(options[MASQUERADE_OPTION]) === undefined) {
      throw invalidParameter(`invalid value for ${MASQUERADE_OPTION}: ${JSON.stringify(options[MASQUERADE_OPTION])}: not a bool`);
    }
    // Go's net.ParseIP: an IPv4 or IPv6 address, nothing else.
    for (const key of [HOST_BINDING_OPTION, HOST_IPV4_OPTION, HOST_IPV6_OPTION]) {
      if (options[key] !== undefined && isIP(options[key]) === 0) throw invalidParameter(`failed to parse ${key} value: ${options[key]} (nil ip)`);
    }
  }

  /**
   * A macvlan or ipvlan network: its parent, made when the host lacks it (or marked as made when
   * another network made it), and its endpoints registered with the embedded DNS. No device,
   * rule or listener of its own.
   */
  private async createSublinkNetwork(rec: NetworkRecord, sublink: SublinkConfig): Promise<{ Id: string; Warning: string }> {
    // Recorded as made before it is made: a daemon killed in between makes it again at restore.
    sublink.created =
      !(await parentExists(sublink.parent)) || [...this.networks.values()].some((o) => sublinkOf(o)?.parent === sublink.parent && !!o.sublink?.created);
    rec.sublink = sublink;
    await writeJsonAtomic(this.netPath(rec.Id), rec);
    this.networks.set(rec.Id, rec);
    try {
      await ensureParent(rec.Driver as 'macvlan' | 'ipvlan', sublink.parent, rec.Id);
    } catch (err) {
      // ensureParent leaves nothing of a parent it failed to make; one there now is not ours.
      sublink.created = false;
      await this.destroyNetwork(rec).catch(() => {});
      throw err;
    }
    this.dns.register(rec.Id, rec.Name, !!rec.Internal);
    return { Id: rec.Id, Warning: '' };
  }

  /**
   * A configuration-only network (`--config-only`): a name for an IPAM configuration, driver
   * options and labels that other networks take with ConfigFrom. It has no device, rules or
   * subnet of its own, and no container can have an endpoint on it; moby lists its driver as null.
   */
  private async createConfigOnly(name: string, req: NetworkCreateRequest): Promise<{ Id: string; Warning: string }> {
    const cfgs = (req.IPAM?.Config ?? []).filter((c) => c.Subnet);
    const errs = cfgs.flatMap((c) => (c.Subnet!.includes(':') ? ipamErrors6(c) : ipamErrors4(c)));
    if (errs.length) throw invalidParameter(ipamConfigError(errs));
    const config = cfgs.map((c) => ({ ...c, Subnet: c.Subnet! }));
    const rec = this.newRecord(name, 'null', { Config: config, Options: req.IPAM?.Options ?? {} }, { ...(req.Options ?? {}) }, { ...(req.Labels ?? {}) }, !!req.Internal);
    rec.ConfigOnly = true;
    rec.EnableIPv4 = req.EnableIPv4 !== false;
    rec.EnableIPv6 = !!req.EnableIPv6;
    await writeJsonAtomic(this.netPath(rec.Id), rec);
    this.networks.set(rec.Id, rec);
    return { Id: rec.Id, Warning: '' };
  }

  /** IPv4 pools: the configured ones (IPv6 pools aside), else Docker's. */
  private pools4(): AddressPool[] {
    const configured = (this.opts.defaultAddressPools ?? []).filter((p) => !isV6Pool(p));
    return configured.length ? configured : DEFAULT_ADDRESS_POOLS;
  }

  /**
   * The IPv6 IPAMConfig of a new IPv6 network: the request's (checked as Docker's ValidateIPAM
   * does, and against the other networks' subnets), or a /64 from the pools.
   */
  private async ipamConfig6(req: NetworkCreateRequest): Promise<NonNullable<NetworkRecord['IPAM']['Config']>[number]> {
    if (!this.firewall.v6Available) throw invalidParameter('IPv6 networks are not available: ip6tables does not work on this host');
    const given = (req.IPAM?.Config ?? []).filter((c) => c.Subnet?.includes(':'));
    if (given.length > 1) throw invalidParameter('only one IPv6 subnet per network is supported');
    const c = given[0];
    if (!c) {
      const sub = await this.pickPool6();
      if (!sub) throw forbidden('all predefined address pools have been fully subnetted');
      return { Subnet: formatCidr6(sub), Gateway: formatIp6(sub.base + 1n) };
    }
    const errs = ipamErrors6(c);
    if (errs.length) throw invalidParameter(ipamConfigError(errs));
    const spec = subnetSpec6(c.Subnet!, c.Gateway, c.IPRange);
    // The bridge driver's check: a ::/0 route on the bridge would take the host's IPv6 traffic.
    if (spec.cidr.bits === 0) throw invalidParameter('ipv6 pool is empty');
    if (spec.cidr.bits > 126) throw invalidParameter(`invalid subnet ${c.Subnet}: it leaves no room for addresses`);
    if (this.subnets6().some((o) => overlaps6(o, spec.cidr))) throw forbidden('invalid pool request: Pool overlaps with other one on this address space');
    return {
      Subnet: formatCidr6(spec.cidr),
      Gateway: formatIp6(spec.gateway),
      ...(c.IPRange ? { IPRange: formatCidr6(parseCidr6(c.IPRange)!.cidr) } : {}),
      ...(c.AuxiliaryAddresses && Object.keys(c.AuxiliaryAddresses).length ? { AuxiliaryAddresses: { ...c.AuxiliaryAddresses } } : {}),
    };
  }

  private activeEndpoints(n: NetworkRecord): Array<{ sb: SandboxRecord; ep: EndpointRecord }> {
    const out: Array<{ sb: SandboxRecord; ep: EndpointRecord }> = [];
    for (const sb of this.sandboxes.values()) for (const ep of sb.endpoints) if (ep.networkId === n.Id) out.push({ sb, ep });
    return out;
  }

  async remove(ref: string): Promise<void> {
    await this.lock.run('\0networks', async () => {
      const n = this.get(ref);
      if (PREDEFINED.has(n.Name)) throw forbidden(`${n.Name} is a pre-defined network and cannot be removed`);
      if (this.activeEndpoints(n).length || this.joining.has(n.Id)) throw forbidden(ACTIVE_ENDPOINTS(n));
      if (n.ConfigOnly && [...this.networks.values()].some((o) => o.ConfigFrom?.Network === n.Name)) {
        throw forbidden(`error while removing network: configuration network ${JSON.stringify(n.Name)} is in use`);
      }
      this.removing.add(n.Id);
      try {
        await this.destroyNetwork(n);
      } finally {
        this.removing.delete(n.Id);
      }
    });
  }

  private async destroyNetwork(n: NetworkRecord): Promise<void> {
    await this.vethDeletes.settled([n.Id]);
    await this.dns.close(n.Id);
    await this.firewall.remove(this.netRules(n));
    if (n.bridge) await deleteLink(n.bridge);
    const sub = sublinkOf(n);
    // A parent made for networks goes with the last of them; one the host had stays.
    if (sub?.created && ![...this.networks.values()].some((o) => o.Id !== n.Id && sublinkOf(o)?.parent === sub.parent)) await deleteParent(sub.parent);
    this.networks.delete(n.Id);
    this.leases.delete(n.Id);
    this.leases6.delete(n.Id);
    await rm(this.netPath(n.Id), { force: true });
  }

  /** Removes user-defined networks without endpoints, filtered (`until`, `label`, `label!`). */
  async prune(keep: (n: NetworkRecord) => boolean = () => false): Promise<string[]> {
    const deleted: string[] = [];
    for (const n of [...this.networks.values()]) {
      if (PREDEFINED.has(n.Name) || n.ConfigOnly || keep(n) || this.activeEndpoints(n).length) continue;
      await this.remove(n.Id).then(
        () => deleted.push(n.Name),
        () => {},
      );
    }
    return deleted;
  }

  /** Docker's NetworkResource; `Containers` is filled when `withContainers` (inspect). */
  resource(n: NetworkRecord, withContainers: boolean): NetworkResource {
    const { bridge: _b, mtu: _m, dnsPort: _d, ipv6Auto: _a, sublink: _s, ...pub } = n;
    const containers: NetworkResource['Containers'] = {};
    if (withContainers) {
      for (const { sb, ep } of this.activeEndpoints(n)) {
        containers[sb.containerId] = {
          Name: sb.containerName,
          EndpointID: ep.endpointId,
          MacAddress: ep.mac,
          IPv4Address: ep.ip ? `${ep.ip}/${ep.prefixLen}` : '',
          IPv6Address: ep.ip6 ? `${ep.ip6}/${ep.prefixLen6}` : '',
        };
      }
      for (const [id, p] of this.plain) {
        if (p.networkId === n.Id) containers[id] = { Name: p.containerName, EndpointID: p.endpointId, MacAddress: '', IPv4Address: '', IPv6Address: '' };
      }
    }
    return { ...pub, Containers: containers };
  }

  /** Removes our chains and the predefined bridge (tests; `wharfd --cleanup`). Containers must be detached. */
  async destroyAll(): Promise<void> {
    for (const id of [...this.sandboxes.keys()]) await this.detach(id);
    await this.vethDeletes.settled();
    await this.dns.closeAll();
    for (const n of this.networks.values()) {
      if (n.bridge) await deleteLink(n.bridge);
      if (n.sublink?.created) await deleteParent(n.sublink.parent);
    }
    await this.firewall.destroy();
  }

  /** Our rules as `iptables -S` lines (tests count them). */
  firewallRules(): Promise<string[]> {
    return this.firewall.list();
  }
}

/**
 * An isolated network has no gateway in the families it isolates, unless one was asked for (moby
 * then reserves that address, though the bridge still gets none).
 */
function dropIsolatedGateways(config: NonNullable<NetworkRecord['IPAM']['Config']>, options: Record<string, string>, asked: Array<{ Subnet?: string; Gateway?: string }>): void {
  for (const c of config) {
    const v6 = c.Subnet.includes(':');
    if (options[v6 ? GATEWAY_MODE_IPV6 : GATEWAY_MODE_IPV4] !== 'isolated') continue;
    if (!asked.some((a) => !!a.Subnet?.includes(':') === v6 && a.Gateway)) delete c.Gateway;
  }
}

/**
 * A port request's host addresses on a gateway network that maps them (`nat`), and its bindings
 * on one that routes them: on 0.0.0.0 or ::, whatever address was asked for, with no host port.
 */
function splitRouted(r: PortRequest, routed: { v4: boolean; v6: boolean }): { nat: string[]; routed: PortMapping[] } {
  const isRouted = (ip: string) => (ip.includes(':') ? routed.v6 : routed.v4);
  return {
    nat: r.hostIps.filter((ip) => !isRouted(ip)),
    routed: r.hostIps.filter(isRouted).map((ip) => ({ proto: r.proto, containerPort: r.containerPort, hostIp: ip.includes(':') ? '::' : '0.0.0.0', hostPort: 0, routed: true })),
  };
}

/** The names a user network's DNS answers for an endpoint, in Docker's order: name, aliases, short ID, hostname. */
function endpointDnsNames(sb: SandboxRecord, aliases: string[]): string[] {
  return [...new Set([sb.containerName, ...aliases, shortId(sb.containerId), ...(sb.hostname ? [sb.hostname] : [])])];
}
