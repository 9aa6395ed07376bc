/**
 * GET /plugins/privileges as moby 28 answers it (plugin/backend_linux.go Privileges): the
 * plugin's manifest and config are fetched from its registry and the config's requests are
 * listed as computePrivileges lists them. A fetch that fails for any reason (registry out of
 * reach, no such repository or tag) answers an empty list, as moby's does; a manifest whose
 * config is not a plugin's is an error naming the reference.
 */
import type { PluginPrivilege } from '../api/types.js';
import { systemError } from '../lib/errors.js';
import { fullString, type Reference } from '../image/reference.js';
import type { Credentials } from './auth-config.js';
import { fetchBlobBuffer } from './blob-download.js';
import type { RegistryClient } from './client.js';
import { fetchManifest } from './pull.js';

export const MEDIA_PLUGIN_CONFIG = 'application/vnd.docker.plugin.v1+json';

/** A plugin config is small; moby reads it whole too. */
const MAX_PLUGIN_CONFIG = 1 << 20;

interface PluginConfigShape {
  Network?: { Type?: string };
  IpcHost?: boolean;
  PidHost?: boolean;
  Mounts?: Array<{ Source?: string | null }> | null;
  Linux?: { Devices?: Array<{ Path?: string | null }> | null; AllowAllDevices?: boolean; Capabilities?: string[] | null };
}

/** moby's computePrivileges; null (Go's nil slice) when the plugin asks for nothing. */
export function computePrivileges(c: PluginConfigShape): PluginPrivilege[] | null {
  const out: PluginPrivilege[] = [];
  const net = c.Network?.Type ?? '';
  if (net !== 'null' && net !== 'bridge' && net !== '') out.push({ Name: 'network', Description: 'permissions to access a network', Value: [net] });
  if (c.IpcHost) out.push({ Name: 'host ipc namespace', Description: 'allow access to host ipc namespace', Value: ['true'] });
  if (c.PidHost) out.push({ Name: 'host pid namespace', Description: 'allow access to host pid namespace', Value: ['true'] });
  for (const m of c.Mounts ?? []) {
    if (typeof m.Source === 'string') out.push({ Name: 'mount', Description: 'host path to mount', Value: [m.Source] });
  }
  for (const d of c.Linux?.Devices ?? []) {
    if (typeof d.Path === 'string') out.push({ Name: 'device', Description: 'host device to access', Value: [d.Path] });
  }
  if (c.Linux?.AllowAllDevices) out.push({ Name: 'allow-all-devices', Description: "allow 'rwm' access to all devices", Value: ['true'] });
  const caps = c.Linux?.Capabilities ?? [];
  if (caps.length > 0) out.push({ Name: 'capabilities', Description: 'list of additional capabilities required', Value: caps });
  return out.length > 0 ? out : null;
}

/** The privileges the plugin `ref` (tagged or pinned) asks for; `[]` when it cannot be fetched. */
export async function pluginPrivileges(client: RegistryClient, ref: Reference, creds: Credentials | undefined): Promise<PluginPrivilege[] | null> {
  let config: PluginConfigShape | undefined;
  try {
    const groups = await client.endpointGroups(ref.domain);
    const session = await client.open(groups[groups.length - 1]!, creds, [{ repo: ref.path, actions: ['pull'] }]);
    const { manifest } = await fetchManifest(session, ref.path, ref.digest ?? ref.tag ?? 'latest');
    if (manifest.kind === 'manifest' && manifest.config.mediaType === MEDIA_PLUGIN_CONFIG) {
      if (manifest.config.size > MAX_PLUGIN_CONFIG) return [];
      const parsed = JSON.parse((await fetchBlobBuffer(session, ref.path, manifest.config)).toString('utf8')) as unknown;
      // Go unmarshals JSON null into the zero config; anything but an object is its unmarshal error.
      if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) return [];
      config = (parsed ?? {}) as PluginConfigShape;
    }
  } catch {
    return [];
  }
  if (!config) throw systemError(`did not find plugin config for specified reference ${fullString(ref)}`);
  return computePrivileges(config);
}
