/** Network shapes: Docker's NetworkResource at the API, and the records persisted under <data-root>/network/. */
import type { PortMapping, PortRequest } from './ports.js';

export type { NetworkResource, NetworkCreateRequest } from '../api/types.js';
import type { EndpointSettings, NetworkResource } from '../api/types.js';

/** A persisted network (network/networks/<id>.json). */
export interface NetworkRecord extends Omit<NetworkResource, 'Containers'> {
  /** Linux bridge device for bridge networks. */
  bridge?: string;
  mtu?: number;
  /** Port of the embedded DNS on the gateway (user-defined bridge networks). */
  dnsPort?: number;
  /** The IPv6 subnet came from the pools: no static --ip6 on it (Docker's IsStatic). */
  ipv6Auto?: boolean;
  /** A macvlan or ipvlan network's parent and mode (sublink-networks.ts). */
  sublink?: SublinkConfig;
}

export interface SublinkConfig {
  /** The host interface the endpoints' devices hang off. */
  parent: string;
  /** macvlan_mode or ipvlan_mode. */
  mode: string;
  /** ipvlan_flag. */
  flag?: string;
  /** The parent was made for a network (a VLAN subinterface or a dummy): it goes with the last one on it. */
  created: boolean;
  /** No parent was given: the parent is a dummy and the network internal to its driver. */
  noParent: boolean;
}

export interface EndpointRecord {
  networkId: string;
  networkName: string;
  endpointId: string;
  /** Dotted quad, '' on host/none. */
  ip: string;
  prefixLen: number;
  gateway: string;
  mac: string;
  ifname: string;
  hostVeth: string;
  aliases: string[];
  dnsNames: string[];
  requestedIp?: string;
  /** IPv6 address, prefix length and gateway on an IPv6 network. */
  ip6?: string;
  prefixLen6?: number;
  gateway6?: string;
  /** What the client asked for that inspect reports back as given. */
  ipamConfig?: EndpointSettings['IPAMConfig'];
  driverOpts?: Record<string, string>;
  links?: string[];
  /** EndpointSettings.GwPriority, when not 0. */
  gwPriority?: number;
  dns?: { containerIp: string; serverIp: string; udpPort: number; tcpPort: number };
  /** A macvlan or ipvlan endpoint: its device lives in the container's namespace alone. */
  sublink?: boolean;
}

/** A container's network state while it runs (network/endpoints/<container-id>.json). */
export interface SandboxRecord {
  containerId: string;
  containerName: string;
  /** Config.Hostname, one of the endpoints' DNS names. */
  hostname?: string;
  sandboxId: string;
  netnsPath: string;
  endpoints: EndpointRecord[];
  ports: PortMapping[];
  /** Exposed/bound port keys, for NetworkSettings.Ports. */
  portKeys: string[];
  /** The container's --dns servers: where its embedded DNS queries go. */
  dns: string[];
  /**
   * The embedded DNS listens inside the container's namespace: it is on user networks none of
   * which can redirect 127.0.0.11 to the host (macvlan, ipvlan).
   */
  dnsInNetns?: boolean;
  /**
   * What -p/-P asked for, kept so that the ports are published when the container first gets a
   * gateway network (it was only on internal ones) and after its gateway network left.
   */
  portRequests?: PortRequest[];
}
