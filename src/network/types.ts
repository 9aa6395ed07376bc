/** Network shapes: Docker's NetworkResource at the API, and the records persisted under <data-root>/network/. */
import type { Labels } from '../api/types.js';
import type { PortMapping } from './ports.js';

export interface IpamConfig {
  Subnet: string;
  Gateway?: string;
  IPRange?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

/** GET /networks/{id} (Containers filled in for inspect, {} in lists). */
export interface NetworkResource {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: string;
  EnableIPv4: boolean;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: IpamConfig[] | null };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }>;
  Options: Record<string, string>;
  Labels: Labels;
}

/** POST /networks/create body. */
export interface NetworkCreateRequest {
  Name: string;
  CheckDuplicate?: boolean;
  Driver?: string;
  Scope?: string;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  ConfigOnly?: boolean;
  ConfigFrom?: { Network: string } | null;
  EnableIPv4?: boolean;
  EnableIPv6?: boolean;
  IPAM?: { Driver?: string; Options?: Record<string, string> | null; Config?: IpamConfig[] | null } | null;
  Options?: Record<string, string> | null;
  Labels?: Labels | null;
}

/** A persisted network (network/networks/<id>.json). */
export interface NetworkRecord extends Omit<NetworkResource, 'Containers'> {
  /** Linux bridge device for bridge networks. */
  bridge?: string;
  mtu?: number;
  /** Port of the embedded DNS on the gateway (user-defined bridge networks). */
  dnsPort?: number;
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
  dns?: { containerIp: string; serverIp: string; udpPort: number; tcpPort: number };
}

/** A container's network state while it runs (network/endpoints/<container-id>.json). */
export interface SandboxRecord {
  containerId: string;
  containerName: string;
  sandboxId: string;
  netnsPath: string;
  endpoints: EndpointRecord[];
  ports: PortMapping[];
  /** Exposed/bound port keys, for NetworkSettings.Ports. */
  portKeys: string[];
  /** The container's --dns servers: where its embedded DNS queries go. */
  dns: string[];
}
