/**
 * What the container lifecycle needs from the stores beside it. The daemon wiring
 * (daemon/daemon.ts) hands in the real image service, layer store, container store and
 * runtime; keeping the needs narrow here keeps the lifecycle independent of their internals.
 */
import type { SysInfo } from '../sysinfo.js';
import type { ContainerConfig, EndpointSettings, HostConfig, ImageConfigFile, NetworkSettings } from '../../api/types.js';
import type { ContainerRecord } from '../../container/container.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { OciMount } from '../../runtime/oci-spec.js';
import type { AttachRequest, AttachResult, RunningEndpoints } from '../../network/manager.js';
import type { EventSink } from '../events.js';
import type { DnsOverrides } from './etc-files.js';

export interface ResolvedImage {
  /** sha256:… */
  id: string;
  config: ImageConfigFile;
  /** Chain ID of the top layer, or null for an image without layers. */
  topChainId: string | null;
}

export interface ImageResolver {
  /** The image `ref` names; with `platform`, Docker's NotFound when the image is for another one. */
  resolve(ref: string, platform?: string): Promise<ResolvedImage>;
  /** resolve() with the image's layers kept from removal until `release()` (create, until its RW layer holds them). */
  resolveForUse(ref: string, platform?: string): Promise<{ image: ResolvedImage; release: () => void }>;
  /** The ID `ref` names now (Docker's GetImage); throws NotFound. */
  lookup(ref: string): Promise<string>;
  /** The images built on `id` (their Parent chain leads to it), any depth: `ps --filter ancestor`. */
  descendants(id: string): Promise<string[]>;
}

export interface RWLayers {
  createRWLayer(containerId: string, parentChainId: string | null, opts?: { bare?: boolean }): Promise<void>;
  /** `volatile`: the container is removed when it ends (overlay2.ts). */
  mountRW(containerId: string, opts?: { volatile?: boolean }): Promise<string>;
  unmountRW(containerId: string): Promise<void>;
  /** `fn` on a read-only view of a container's (unmounted) rootfs, at the path its mount would have. */
  withRootfsView<T>(containerId: string, fn: (rootfs: string) => Promise<T>): Promise<T>;
  removeRWLayer(containerId: string): Promise<void>;
  rwGraphDriverData(containerId: string): Promise<Record<string, string>>;
  rwSize(containerId: string): Promise<number>;
  rwSizes(containerId: string): Promise<{ sizeRw: number; sizeRootFs: number }>;
}

export interface RecordStore {
  save(record: ContainerRecord, opts?: { durable?: boolean }): Promise<void>;
  remove(id: string): Promise<void>;
  dir(id: string): string;
}

export interface NameRegistry {
  /** Reserves `name` (no leading slash) for `id`; Conflict with Docker's text when taken. */
  reserve(name: string, id: string): void;
  /** Frees `name` if `id` holds it. */
  release(name: string, id: string): void;
  /** A free random name. */
  generate(): string;
  /** Full ID for a full ID, a name, or a unique ID prefix; NotFound `No such container: ref` otherwise. */
  resolve(ref: string): string;
  /** The ID holding exactly this name (with or without slash), if any. */
  idOf(name: string): string | undefined;
}

/** The network manager as the lifecycle uses it (network/manager.ts). */
export interface NetworkLink {
  validate(hostConfig: HostConfig, endpointsConfig?: Record<string, EndpointSettings> | null): void;
  attach(req: AttachRequest): Promise<AttachResult>;
  /** `vethsInBackground`: the container's process is gone; its host veths are deleted after this returns. */
  detach(containerId: string, opts?: { vethsInBackground?: boolean }): Promise<void>;
  /** Resolves once the host veths of the container's last detach are gone. */
  vethsDeleted(containerId: string): Promise<void>;
  /** Called once at daemon start with the containers still running (and their networks), before any attach. */
  restore(running: Iterable<string>, endpoints?: RunningEndpoints[]): Promise<void>;
  /** The container's new name (no leading slash) for its endpoints and DNS names; their settings, if it has any. */
  rename(containerId: string, name: string): Promise<NetworkSettings | undefined>;
  /** The daemon runs with `bridge: none`: no default bridge, its containers get loopback alone. */
  readonly bridgeDisabled: boolean;
  /** What `--add-host x:host-gateway` stands for: the default bridge's IPv4 gateway ('' without one). */
  hostGatewayIp(): string;
}

/** The volume service as the lifecycle uses it (daemon/volumes.ts). */
export interface VolumeLink {
  /** Create: binds, --mount, --volumes-from and Config.Volumes into mount points; volumes are created and referenced. */
  register(
    id: string,
    config: ContainerConfig,
    hostConfig: HostConfig,
    lookup: (ref: string) => ContainerRecord,
    opts?: { readOnlyNonRecursive?: boolean },
  ): Promise<ContainerRecord['MountPoints']>;
  /** The destinations of the registered volumes that come from Config.Volumes (image VOLUME, `-v /path`). */
  volumesOverImage(config: ContainerConfig, points: ContainerRecord['MountPoints']): string[];
  /** Create: refuses, with Docker's error, any of `destinations` that is not a directory in `rootfs`. */
  refuseVolumesOverFiles(rootfs: string, destinations: string[]): Promise<void>;
  /** Start, rootfs mounted: mounts volumes, makes missing `-v` bind sources, copies image content into new volumes. */
  setup(rec: ContainerRecord, rootfs: string): Promise<{ mounts: OciMount[]; rootfsPropagation?: string }>;
  /** Exit or failed start: the container stops using its volumes (the last user unmounts). */
  teardown(rec: ContainerRecord): Promise<void>;
  /** Remove: drops the container's references; with removeAnonymous its anonymous volumes go too. */
  release(rec: ContainerRecord, removeAnonymous: boolean): Promise<void>;
  /** Daemon start, before exits are reconciled: references of all containers, mounts of the running ones. */
  restore(records: ContainerRecord[]): Promise<void>;
}

/** Told when containers start and stop running. Called with the container's lock held: must not block. */
export interface ContainerObserver {
  /** It runs now (`restored`: found running at daemon start); called before its state is saved. */
  started(rec: ContainerRecord, restored: boolean): void;
  /** It stopped running; called before its exit is saved. */
  stopped(rec: ContainerRecord): void;
}

export interface LifecycleSettings {
  execRoot: string;
  cgroupParent?: string;
  cgroupVersion: '1' | '2';
  /** Static init binary for `--init`, when one is installed. */
  initPath?: string;
  ncpu: number;
  /** The daemon's `log-driver` and `log-opts`, merged into each new container's LogConfig. */
  logDefaults?: { Type: string; Config: Record<string, string> };
  /** The runtime every container runs with (recorded as HostConfig.Runtime), and the configured names. */
  defaultRuntime?: string;
  runtimes?: string[];
  /** What the host's cgroups can limit; everything when absent. */
  sysInfo?: SysInfo;
  /** The daemon's `dns`, `dns-search` and `dns-opts`: each for the containers that set none of their own. */
  dnsDefaults?: DnsOverrides;
}

export interface ContainerDeps {
  images: ImageResolver;
  layers: RWLayers;
  store: RecordStore;
  names: NameRegistry;
  runtime: Runtime;
  network: NetworkLink;
  settings: LifecycleSettings;
  log: (msg: string) => void;
  /** Where lifecycle actions are reported (GET /events). */
  events: EventSink;
  /** Volumes and mounts; without it containers get no binds or volumes. */
  volumes?: VolumeLink;
  /** Told of starts and exits (health monitors). */
  observers?: ContainerObserver[];
  /** The container's live exec instances, for inspect's ExecIDs. */
  execIds?: (containerId: string) => string[];
}

export type { ContainerConfig };
