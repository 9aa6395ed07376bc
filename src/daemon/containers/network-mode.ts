/**
 * `--network container:<id>`: what Docker refuses at create time for a container that joins
 * another's network namespace, and what it takes over from that container at start (its
 * /etc/hostname, /etc/hosts and /etc/resolv.conf, and its hostname and domain name).
 */
import type { ContainerConfig, HostConfig } from '../../api/types.js';
import type { ContainerRecord } from '../../container/container.js';
import { invalidParameter } from '../../lib/errors.js';

export const isContainerMode = (mode: string | undefined): boolean => !!mode?.startsWith('container:');

/**
 * Docker's create-time checks (runconfig validateNetMode) on the request's own config,
 * before the image's config is merged in.
 */
export function validateContainerNetworkMode(config: ContainerConfig, hc: HostConfig): void {
  if (hc.UTSMode === 'host' && config.Hostname) throw invalidParameter('conflicting options: hostname and the UTS mode');
  if (hc.NetworkMode === 'host' && hc.Links?.length) {
    throw invalidParameter("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
  }
  // A network named `container` (no colon) is container mode too, as in moby.
  if (hc.NetworkMode === 'container' || hc.NetworkMode === 'container:') {
    throw invalidParameter('invalid network mode: invalid container format container:<name|id>');
  }
  if (!isContainerMode(hc.NetworkMode)) return;
  if (config.Hostname) throw invalidParameter('conflicting options: hostname and the network mode');
  if (hc.Links?.length) {
    throw invalidParameter("conflicting options: container type network can't be used with links. This would result in undefined behavior");
  }
  if (hc.Dns?.length) throw invalidParameter('conflicting options: dns and the network mode');
  if (hc.ExtraHosts?.length) throw invalidParameter('conflicting options: custom host-to-IP mapping and the network mode');
  if ((config as { MacAddress?: string }).MacAddress) throw invalidParameter('conflicting options: mac-address and the network mode');
  if (Object.keys(hc.PortBindings ?? {}).length || hc.PublishAllPorts) {
    throw invalidParameter('conflicting options: port publishing and the container type network mode');
  }
  if (Object.keys(config.ExposedPorts ?? {}).length) {
    throw invalidParameter('conflicting options: port exposing and the container type network mode');
  }
}

/** Points `rec` at the /etc files and names of the container whose network it joins (Docker's initializeNetworking). */
export function shareNetworkIdentity(rec: ContainerRecord, joined: ContainerRecord): void {
  rec.HostnamePath = joined.HostnamePath;
  rec.HostsPath = joined.HostsPath;
  rec.ResolvConfPath = joined.ResolvConfPath;
  rec.Config.Hostname = joined.Config.Hostname;
  rec.Config.Domainname = joined.Config.Domainname;
}
