/** POST /containers/create: merges the image's config, names the container, makes its RW layer and record. */
import { mkdir, rm } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type { ContainerCreateBody, ContainerCreateResponse, EndpointSettings, HostConfig } from '../../api/types.js';
import type { ContainerCreateOptions } from '../../api/backend.js';
import { initialState, type ContainerRecord } from '../../container/container.js';
import { rfc3339NanoNow } from '../../lib/wall-clock.js';
import { invalidParameter } from '../../lib/errors.js';
import { generateId, shortId } from '../../lib/ids.js';
import { validateLogConfig, withDaemonLogDefaults } from '../log-config.js';
import { adaptHostConfig, commandOf, effectiveNetworkMode, mergeImageConfig, validateContainerConfig, validateHostConfig } from './config.js';
import type { ContainerCore } from './core.js';
import type { ResolvedImage } from './deps.js';
import { validateCreateStrings } from './create-strings.js';
import { etcPaths } from './etc-files.js';
import { createImageMounts, removeImageMounts } from './image-mounts.js';
import { containerActor } from './events.js';
import { validateContainerNetworkMode } from './network-mode.js';

export async function createContainer(
  c: ContainerCore,
  name: string | undefined,
  body: ContainerCreateBody,
  platform?: string,
  opts: ContainerCreateOptions = {},
): Promise<ContainerCreateResponse> {
  const { HostConfig: hostConfigIn, NetworkingConfig: networkingConfig, ...userConfig } = body;
  const hostConfig: HostConfig = { ...(hostConfigIn ?? {}) };
  if (!userConfig.Image) {
    // moby creates without an image and then finds nothing to run; one with a command it would
    // run in an empty root, which Wharf refuses.
    const noCommand = !userConfig.Cmd?.length && !userConfig.Entrypoint?.filter((e) => e !== '').length;
    throw invalidParameter(noCommand ? 'no command specified' : 'Config cannot be empty in order to create a container');
  }
  validateContainerConfig(userConfig);
  const warnings = validateHostConfig(hostConfig, c.deps.settings.ncpu, c.deps.settings.sysInfo);
  validateCreateStrings(userConfig, hostConfig);
  // An image delete racing this create must not take the layers the new RW layer is made on.
  const { image, release } = await c.deps.images.resolveForUse(userConfig.Image, platform);
  try {
    return await createFromImage(c, name, userConfig, hostConfig, networkingConfig, image, warnings, opts);
  } finally {
    release();
  }
}

async function createFromImage(
  c: ContainerCore,
  name: string | undefined,
  userConfig: ContainerCreateBody,
  hostConfig: HostConfig,
  networkingConfig: ContainerCreateBody['NetworkingConfig'],
  image: ResolvedImage,
  warnings: string[],
  opts: ContainerCreateOptions,
): Promise<ContainerCreateResponse> {
  const config = mergeImageConfig(userConfig, image.config.config);
  const { path, args } = commandOf(config);
  hostConfig.NetworkMode = effectiveNetworkMode(hostConfig);
  const settings = c.deps.settings;
  const defaultRuntime = settings.defaultRuntime ?? 'runc';
  adaptHostConfig(hostConfig, { cgroupVersion: settings.cgroupVersion, defaultRuntime, runtimes: settings.runtimes ?? [defaultRuntime] });
  validateContainerNetworkMode(userConfig, hostConfig);
  const links = c.links.resolve(hostConfig, (ref) => c.get(ref));
  joinedByContainerId(hostConfig, (ref) => {
    try {
      return c.get(ref);
    } catch {
      return undefined;
    }
  });
  const endpoints = initialEndpoints(hostConfig.NetworkMode, networkingConfig?.EndpointsConfig);
  c.deps.network.validate(hostConfig, endpoints);
  hostConfig.RestartPolicy ??= { Name: 'no', MaximumRetryCount: 0 };
  if (!hostConfig.RestartPolicy.Name) hostConfig.RestartPolicy = { Name: 'no', MaximumRetryCount: 0 };
  hostConfig.LogConfig = withDaemonLogDefaults(hostConfig.LogConfig, c.deps.settings.logDefaults ?? { Type: 'json-file', Config: {} });
  validateLogConfig(hostConfig.LogConfig, { values: false });

  const id = generateId();
  const containerName = name ? name.replace(/^\//, '') : c.deps.names.generate();
  c.deps.names.reserve(containerName, id);
  const dir = c.deps.store.dir(id);
  let layerMade = false;
  let imageMountsMade = false;
  let mountPoints: ContainerRecord['MountPoints'] | undefined;
  try {
    mountPoints = c.deps.volumes ? await c.deps.volumes.register(id, config, hostConfig, (ref) => c.get(ref), opts) : {};
    await createImageMounts(c.deps.images, c.deps.layers, id, mountPoints);
    imageMountsMade = true;
    if (!config.Hostname) config.Hostname = hostConfig.NetworkMode === 'host' ? osHostname() : shortId(id);
    config.Image = userConfig.Image;
    // Both settle before any cleanup, so a failed mkdir cannot race a layer still being made.
    const [dirMade, layer] = await Promise.allSettled([
      mkdir(dir, { recursive: true, mode: 0o710 }),
      c.deps.layers.createRWLayer(id, image.topChainId),
    ]);
    layerMade = layer.status === 'fulfilled';
    if (dirMade.status === 'rejected') throw dirMade.reason;
    if (layer.status === 'rejected') throw layer.reason;
    // Docker stats each Config.Volumes destination in the new rootfs: a volume over a file fails
    // the create (and a build's VOLUME step), not a later start.
    const overImage = c.deps.volumes?.volumesOverImage(config, mountPoints) ?? [];
    if (overImage.length) await c.deps.layers.withRootfsView(id, (rootfs) => c.deps.volumes!.refuseVolumesOverFiles(rootfs, overImage));
    // Config.NetworkDisabled: no networking at all (moby sets up no sandbox, so no /etc files either).
    const networkOff = !!config.NetworkDisabled;
    const etc = networkOff ? { resolvConf: '', hostname: '', hosts: '' } : etcPaths(dir);
    const rec: ContainerRecord = {
      ID: id,
      Name: '/' + containerName,
      Created: rfc3339NanoNow(),
      Path: path,
      Args: args,
      Config: config,
      Image: image.id,
      State: initialState(),
      NetworkSettings: {
        Bridge: '',
        SandboxID: '',
        SandboxKey: '',
        Ports: {},
        Networks: networkOff ? {} : endpoints,
      },
      MountPoints: mountPoints,
      // conmon writes it in the CRI format (k8s-file), not Docker's json-file: named for what it is.
      LogPath: join(dir, `${id}.log`),
      ResolvConfPath: etc.resolvConf,
      HostnamePath: etc.hostname,
      HostsPath: etc.hosts,
      RestartCount: 0,
      HasBeenManuallyStopped: false,
      HasBeenStartedBefore: false,
      Driver: 'overlay2',
      Platform: 'linux',
      HostConfig: hostConfig,
    };
    await c.deps.store.save(rec);
    if (opts.processEnv?.length) c.processEnv.set(id, opts.processEnv);
    c.records.set(id, rec);
    c.links.set(id, links);
    c.deps.events.log('container', 'create', containerActor(rec));
  } catch (err) {
    c.deps.names.release(containerName, id);
    const undo = (what: string) => (undoErr: unknown) => c.deps.log(`create ${id} failed; ${what}: ${undoErr}`);
    if (mountPoints) await c.deps.volumes?.release({ ID: id, MountPoints: mountPoints } as ContainerRecord, true).catch(undo('releasing volumes'));
    if (layerMade) await c.deps.layers.removeRWLayer(id).catch(undo('removing its layer'));
    if (imageMountsMade) await removeImageMounts(c.deps.layers, mountPoints).catch(undo('removing its image mounts'));
    await rm(dir, { recursive: true, force: true }).catch(undo('removing its directory'));
    throw err;
  }
  return { Id: id, Warnings: warnings };
}

/**
 * moby's adaptContainerSettings: a `container:<name>` network, IPC or PID mode names the joined
 * container by its ID when it exists now. One that does not is left as given and fails at start,
 * as in Docker: a 404 from create would make the Docker CLI try to pull the image.
 */
function joinedByContainerId(hc: HostConfig, find: (ref: string) => ContainerRecord | undefined): void {
  for (const key of ['NetworkMode', 'IpcMode', 'PidMode'] as const) {
    const mode = hc[key];
    if (!mode?.startsWith('container:')) continue;
    const joined = find(mode.slice('container:'.length));
    if (joined) hc[key] = `container:${joined.ID}`;
  }
}

/** NetworkSettings.Networks of a new container: its primary network plus the create request's endpoints. */
function initialEndpoints(mode: string, requested: Record<string, EndpointSettings> | null | undefined): Record<string, EndpointSettings> {
  const out: Record<string, EndpointSettings> = {};
  if (!mode.startsWith('container:')) out[mode] = {};
  for (const [name, ep] of Object.entries(requested ?? {})) out[name === 'default' ? mode : name] = { ...(ep ?? {}) };
  return out;
}
