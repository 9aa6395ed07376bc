/**
 * What POST /containers/create does differently for older API versions, as Docker's router
 * does it before the backend sees the request: fields a version did not have are dropped or
 * refused, and the container-wide MacAddress (deprecated in 1.44) moves to the endpoint of the
 * container's main network. Returns the warnings Docker returns for the request.
 */
import { invalidParameter } from '../lib/errors.js';
import type { ContainerCreateBody, EndpointSettings } from './types.js';
import { versionAtLeast } from './version.js';

const NOT_USER_NETWORKS = new Set(['', 'default', 'bridge', 'host', 'none']);

/** `bridge`, `default`, '' or a user-defined network: the modes that have an endpoint of their own. */
function hasOwnEndpoint(mode: string): boolean {
  return mode === '' || mode === 'default' || mode === 'bridge' || !(NOT_USER_NETWORKS.has(mode) || mode.startsWith('container:'));
}

/** The endpoint config of the main network, made when there is none (Docker's epConfigForNetMode). */
function mainEndpoint(body: ContainerCreateBody, version: string): EndpointSettings {
  const mode = body.HostConfig?.NetworkMode || 'default';
  const name = mode === 'default' ? 'bridge' : mode;
  const networking = (body.NetworkingConfig ??= {});
  const endpoints = (networking.EndpointsConfig ??= {});
  const present = Object.values(endpoints).filter((e): e is EndpointSettings => !!e);
  if (present.length === 0) return (endpoints[name] = {});
  // Below 1.44 there is at most one entry, and it is the main network's.
  if (!versionAtLeast(version, '1.44')) return present[0]!;
  const ep = endpoints[name] ?? endpoints[mode];
  if (!ep) throw invalidParameter('HostConfig.NetworkMode must match the identity of a network in NetworkSettings.Networks');
  return ep;
}

export function adaptCreateBody(body: ContainerCreateBody, version: string): string[] {
  const warnings: string[] = [];
  const hc = body.HostConfig;
  const endpoints = body.NetworkingConfig?.EndpointsConfig ?? {};
  if (!versionAtLeast(version, '1.43') && hc) hc.Annotations = null;
  // moby: 0 and any negative number mean unlimited, kept as no limit at all (null).
  if (hc && typeof hc.PidsLimit === 'number' && hc.PidsLimit <= 0) hc.PidsLimit = null;
  // Up to 1.24 the client removed --rm containers itself.
  if (!versionAtLeast(version, '1.25') && hc) hc.AutoRemove = false;
  if (!versionAtLeast(version, '1.40')) {
    const old = (body.HostConfig ??= {});
    for (const m of old.Mounts ?? []) if (m.BindOptions) m.BindOptions.NonRecursive = false;
    // Older clients expect a shareable IPC namespace by default.
    if (!old.IpcMode) old.IpcMode = 'shareable';
  }
  if (!versionAtLeast(version, '1.44')) {
    if (body.Healthcheck) body.Healthcheck.StartInterval = 0;
    const names = Object.keys(endpoints);
    if (names.length > 1) throw invalidParameter(`Container cannot be created with multiple network endpoints: ${names.join(', ')}`);
  }
  if (!versionAtLeast(version, '1.44') && hc?.Mounts?.some((m) => m.Type === 'bind' && m.BindOptions?.ReadOnlyForceRecursive)) {
    // Refused rather than ignored: a client asking for it expects recursive read-only enforced.
    throw invalidParameter('BindOptions.ReadOnlyForceRecursive needs API v1.44 or newer');
  }
  if (!versionAtLeast(version, '1.45')) {
    for (const m of hc?.Mounts ?? []) {
      if ((m as { VolumeOptions?: { Subpath?: string } }).VolumeOptions?.Subpath) throw invalidParameter('VolumeOptions.Subpath needs API v1.45 or newer');
    }
  }
  if (!versionAtLeast(version, '1.48')) {
    for (const ep of Object.values(endpoints)) if (ep) ep.GwPriority = 0;
    if (hc?.Mounts?.some((m) => m.Type === 'image')) throw invalidParameter('Mount type "Image" needs API v1.48 or newer');
  } else if (hc?.VolumeDriver && hc.Mounts?.some((m) => m.Type === 'volume' && !m.VolumeOptions?.DriverConfig?.Name)) {
    // The daemon's warning from 1.48 on (the CLI gave it before): --volume-driver does not reach --mount volumes.
    warnings.push("WARNING: the container-wide volume-driver configuration is ignored for volumes specified via 'mount'. Use '--mount type=volume,volume-driver=...' instead");
  }

  const mac = body.MacAddress ?? '';
  const mode = hc?.NetworkMode ?? '';
  if (!versionAtLeast(version, '1.44')) {
    if (!mac) {
      // The old API ignored endpoint MAC addresses.
      for (const ep of Object.values(endpoints)) if (ep) ep.MacAddress = '';
      return warnings;
    }
    if (!hasOwnEndpoint(mode)) throw invalidParameter('conflicting options: mac-address and the network mode');
    mainEndpoint(body, version).MacAddress = mac;
    return warnings;
  }
  if (!mac) return warnings;
  if (hasOwnEndpoint(mode)) {
    let ep: EndpointSettings;
    try {
      ep = mainEndpoint(body, version);
    } catch (err) {
      throw invalidParameter(`unable to migrate container-wide MAC address to a specific network: ${(err as Error).message}`);
    }
    if (!ep.MacAddress) ep.MacAddress = mac;
    else if (ep.MacAddress !== mac) {
      throw invalidParameter('the container-wide MAC address must match the endpoint-specific MAC address for the main network, or be left empty');
    }
  }
  warnings.push('The container-wide MacAddress field is now deprecated. It should be specified in EndpointsConfig instead.');
  body.MacAddress = '';
  return warnings;
}
