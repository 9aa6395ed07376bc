/**
 * The volume service: the /volumes endpoints (VolumeBackend) over the volume store, and the
 * container lifecycle's volume needs (VolumeLink): mount points at create, mounts at start,
 * unmounts at exit, references dropped (anonymous volumes removed) at remove.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { walkPool } from '../containerfs/walk-pool.js';
import type { VolumeBackend } from '../api/backend.js';
import type { ContainerConfig, Filters, HostConfig, Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneReport } from '../api/types.js';
import type { ContainerRecord } from '../container/container.js';
import { hasProcess } from '../container/state.js';
import { invalidParameter, isEngineError, systemError } from '../lib/errors.js';
import { filterBool, filterMatches, labelMatches } from '../lib/filters.js';
import { copyUp } from '../volume/copy-up.js';
import { statInRoot } from '../containerfs/root.js';
import { registerMountPoints, type StoredMountPoint } from '../volume/mount-points.js';
import { ociMounts } from '../volume/oci-mounts.js';
import { checkPropagation } from '../volume/propagation.js';
import { ANONYMOUS_LABEL, DEFAULT_DRIVER, VolumeStore, type VolumeRecord } from '../volume/store.js';
import type { RWLayers, VolumeLink } from './containers/deps.js';
import { pinSubpath, unpinSubpath } from './volume-subpath.js';
import type { EventSink } from './events.js';
import { parseGoBool } from '../lib/go-bool.js';

const LIST_FILTERS = new Set(['dangling', 'name', 'driver', 'label']);
const PRUNE_FILTERS = new Set(['label', 'label!', 'all']);

function parseBool(key: string, v: string): boolean {
  const b = parseGoBool(v);
  if (b === undefined) throw invalidParameter(`invalid filter '${key}=${v}'`);
  return b;
}

const mountPointsOf = (rec: ContainerRecord) => Object.values(rec.MountPoints ?? {}) as StoredMountPoint[];

export class VolumeService implements VolumeBackend, VolumeLink {
  readonly store: VolumeStore;
  /** Where volume subpaths are bind-mounted for the runtime (daemon/volume-subpath.ts). */
  private readonly subpathDir: string;
  private readonly subpathMounts = new Map<string, string[]>();

  constructor(
    private readonly dataRoot: string,
    private readonly events: EventSink,
    private readonly log: (msg: string) => void = () => {},
    /** The layers of `--mount type=image` (daemon/containers/image-mounts.ts), mounted at start. */
    private readonly imageLayers?: Pick<RWLayers, 'mountRW' | 'unmountRW'>,
    /** Why read-only mounts cannot be recursively read-only (`rro`); undefined when they can. */
    private readonly recursiveReadOnlyError: () => Promise<string | undefined> = async () => 'rro is not supported',
  ) {
    this.subpathDir = join(dataRoot, 'volume-subpaths');
    this.store = new VolumeStore(dataRoot, {
      created: (v) => events.log('volume', 'create', { ID: v.Name, Attributes: { driver: v.Driver } }),
      removed: (v) => events.log('volume', 'destroy', { ID: v.Name, Attributes: { driver: v.Driver } }),
      log,
    });
  }

  init(): Promise<void> {
    return this.store.load();
  }

  private toApi(v: VolumeRecord): Volume {
    return {
      CreatedAt: v.CreatedAt,
      Driver: v.Driver,
      Labels: v.Labels,
      Mountpoint: this.store.dataPath(v.Name),
      Name: v.Name,
      Options: v.Options,
      Scope: 'local',
    };
  }

  // ---- VolumeBackend ------------------------------------------------------------------

  async list(filters: Filters): Promise<VolumeListResponse> {
    for (const k of Object.keys(filters)) if (!LIST_FILTERS.has(k)) throw invalidParameter(`invalid filter '${k}'`);
    const dangling = filters.dangling ? filterBool(filters, 'dangling', false) : undefined;
    const out = this.store.list().filter((v) => {
      if (filters.driver?.length && !filters.driver.includes(v.Driver)) return false;
      if (filters.name?.length && !filterMatches(filters.name, v.Name)) return false;
      if (filters.label?.length && !filters.label.every((l) => labelMatches(v.Labels, l))) return false;
      if (dangling !== undefined && (this.store.references(v.Name).length === 0) !== dangling) return false;
      return true;
    });
    return { Volumes: out.map((v) => this.toApi(v)), Warnings: null };
  }

  async create(body: VolumeCreateRequest): Promise<Volume> {
    const { volume } = await this.store.create(body.Name ?? '', {
      driver: body.Driver || undefined,
      labels: body.Labels ?? undefined,
      options: body.DriverOpts ?? undefined,
    });
    return this.toApi(volume);
  }

  async inspect(name: string): Promise<Volume> {
    return this.toApi(this.store.mustGet(name));
  }

  async remove(name: string, opts: { force: boolean }): Promise<void> {
    await this.store.remove(name, { purgeOnError: opts.force });
  }

  async prune(filters: Filters): Promise<VolumePruneReport> {
    for (const k of Object.keys(filters)) if (!PRUNE_FILTERS.has(k)) throw invalidParameter(`invalid filter '${k}'`);
    const all = filters.all ?? [];
    if (all.length > 1) throw invalidParameter(`invalid filter 'all=${all.join(',')}': only one value is expected`);
    let pruneAll = false;
    if (all.length === 1) {
      try {
        pruneAll = parseBool('all', all[0]!);
      } catch {
        throw invalidParameter(`invalid filter 'all': strconv.ParseBool: parsing "${all[0]}": invalid syntax`);
      }
    }
    const labels = [...(filters.label ?? []), ...(pruneAll ? [] : [ANONYMOUS_LABEL])];
    const notLabels = filters['label!'] ?? [];
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const v of this.store.list()) {
      if (v.Driver !== DEFAULT_DRIVER || (v.Options && Object.keys(v.Options).length)) continue;
      if (this.store.references(v.Name).length) continue;
      if (!labels.every((l) => labelMatches(v.Labels, l))) continue;
      if (notLabels.some((l) => labelMatches(v.Labels, l))) continue;
      const size = await walkPool.size(this.store.dataPath(v.Name));
      try {
        await this.store.remove(v.Name);
      } catch (err) {
        this.log(`volume prune ${v.Name}: ${err instanceof Error ? err.message : err}`);
        continue;
      }
      deleted.push(v.Name);
      reclaimed += size;
    }
    this.events.log('volume', 'prune', { ID: '', Attributes: { reclaimed: String(reclaimed) } });
    return { VolumesDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  // ---- VolumeLink ---------------------------------------------------------------------

  register(
    id: string,
    config: ContainerConfig,
    hostConfig: HostConfig,
    lookup: (ref: string) => ContainerRecord,
    opts: { readOnlyNonRecursive?: boolean } = {},
  ): Promise<Record<string, StoredMountPoint>> {
    return registerMountPoints(this.store, {
      containerId: id,
      readOnlyNonRecursive: !!opts.readOnlyNonRecursive,
      dataRoot: this.dataRoot,
      config,
      hostConfig,
      mountPointsOf: (ref) => lookup(ref).MountPoints as Record<string, StoredMountPoint>,
    });
  }

  volumesOverImage(config: ContainerConfig, points: ContainerRecord['MountPoints']): string[] {
    return Object.values(points as Record<string, StoredMountPoint>)
      .filter((m) => m.Type === 'volume' && m.Name && isConfigVolume(config, m.Destination))
      .map((m) => m.Destination);
  }

  async refuseVolumesOverFiles(rootfs: string, destinations: string[]): Promise<void> {
    for (const d of destinations) await refuseVolumeOverFile(rootfs, d);
  }

  async setup(rec: ContainerRecord, rootfs: string): Promise<{ mounts: ReturnType<typeof ociMounts>['mounts']; rootfsPropagation?: string }> {
    const points = mountPointsOf(rec);
    const mounted: StoredMountPoint[] = [];
    const imagesMounted: string[] = [];
    /** destination -> the private mount of its volume subpath */
    const pinned = new Map<string, string>();
    let set: ReturnType<typeof ociMounts>;
    try {
      for (const m of points) {
        if (m.Type === 'volume' && m.Name) {
          if (isConfigVolume(rec.Config, m.Destination)) await refuseVolumeOverFile(rootfs, m.Destination);
          const path = await this.store.mount(m.Name, rec.ID);
          mounted.push(m);
          m.Source = path;
          const sub = m.Spec?.VolumeOptions?.Subpath;
          if (sub) pinned.set(m.Destination, await pinSubpath(path, sub, join(this.subpathDir, `${rec.ID}-${pinned.size}`)));
          if (m.CopyData) {
            await copyUp(rootfs, m.Destination, path);
            m.CopyData = false;
          }
          this.events.log('volume', 'mount', {
            ID: m.Name,
            Attributes: {
              driver: m.Driver ?? DEFAULT_DRIVER,
              container: rec.ID,
              destination: m.Destination,
              'read/write': String(m.RW),
              propagation: m.Propagation ?? '',
            },
          });
        } else if (m.Type === 'image' && m.ID) {
          if (!this.imageLayers) throw systemError('image mounts are not available');
          m.Source = await this.imageLayers.mountRW(m.ID);
          imagesMounted.push(m.ID);
          const sub = m.Spec?.ImageOptions?.Subpath;
          if (sub) pinned.set(m.Destination, await pinSubpath(m.Source, sub, join(this.subpathDir, `${rec.ID}-${pinned.size}`)));
        } else if (m.Type === 'bind' && !m.SkipMountpointCreation) {
          // `-v /host:/ctr` makes a missing host path, `--mount type=bind` does not.
          await mkdir(m.Source, { recursive: true, mode: 0o755 }).catch((err: NodeJS.ErrnoException) => {
            if (err.code !== 'EEXIST' && err.code !== 'ENOTDIR') throw err;
          });
        }
      }
      const rroError = points.some((m) => !m.RW && m.Type !== 'tmpfs') ? await this.recursiveReadOnlyError() : undefined;
      set = ociMounts(points, await checkPropagation(points, this.dataRoot), rroError === undefined ? { supported: true } : { supported: false, error: rroError });
    } catch (err) {
      for (const p of pinned.values()) await unpinSubpath(p).catch(() => {});
      for (const m of mounted) await this.store.unmount(m.Name!, rec.ID).catch(() => {});
      for (const layer of imagesMounted) await this.imageLayers?.unmountRW(layer).catch(() => {});
      throw err;
    }
    if (pinned.size) {
      this.subpathMounts.set(rec.ID, [...pinned.values()]);
      for (const om of set.mounts) om.source = pinned.get(om.destination) ?? om.source;
    }
    return set;
  }

  async teardown(rec: ContainerRecord): Promise<void> {
    for (const p of this.subpathMounts.get(rec.ID) ?? (await this.leftoverSubpaths(rec.ID))) {
      await unpinSubpath(p).catch((err) => this.log(`unmount subpath ${p}: ${err instanceof Error ? err.message : err}`));
    }
    this.subpathMounts.delete(rec.ID);
    for (const m of mountPointsOf(rec)) {
      if (m.Type === 'image' && m.ID) {
        await this.imageLayers?.unmountRW(m.ID).catch((err) => this.log(`unmount image ${m.Name} of ${rec.ID}: ${err instanceof Error ? err.message : err}`));
        continue;
      }
      if (m.Type !== 'volume' || !m.Name) continue;
      try {
        await this.store.unmount(m.Name, rec.ID);
      } catch (err) {
        this.log(`unmount volume ${m.Name} of ${rec.ID}: ${err instanceof Error ? err.message : err}`);
        continue;
      }
      this.events.log('volume', 'unmount', { ID: m.Name, Attributes: { driver: m.Driver ?? DEFAULT_DRIVER, container: rec.ID } });
    }
  }

  /** Subpath mounts of a container made before a daemon restart. */
  private async leftoverSubpaths(id: string): Promise<string[]> {
    const names = await readdir(this.subpathDir).catch(() => [] as string[]);
    return names.filter((n) => n.startsWith(`${id}-`)).map((n) => join(this.subpathDir, n));
  }

  async release(rec: ContainerRecord, removeAnonymous: boolean): Promise<void> {
    for (const m of mountPointsOf(rec)) {
      if (m.Type !== 'volume' || !m.Name) continue;
      this.store.release(m.Name, rec.ID);
      // Named mounts (`-v name:/x`, `--mount source=name`) stay; anonymous ones go with -v / --rm.
      if (!removeAnonymous || m.Spec?.Source) continue;
      await this.store.remove(m.Name, { purgeOnError: true }).catch((err) => {
        if (!isEngineError(err, 'Conflict')) this.log(`remove volume ${m.Name} of ${rec.ID}: ${err instanceof Error ? err.message : err}`);
      });
    }
  }

  async restore(records: ContainerRecord[]): Promise<void> {
    for (const rec of records) {
      for (const m of mountPointsOf(rec)) {
        if (m.Type !== 'volume' || !m.Name) continue;
        this.store.addReference(m.Name, rec.ID);
        if (hasProcess(rec.State)) this.store.restoreActive(m.Name, rec.ID);
      }
    }
    await this.store.unmountUnused();
  }
}

/** Whether a volume at `destination` is one of Config.Volumes (an image VOLUME or `-v /path`). */
function isConfigVolume(config: ContainerConfig, destination: string): boolean {
  return Object.keys(config.Volumes ?? {}).some((v) => posix.join('/', v) === posix.join('/', destination));
}

/** moby's check of a Config.Volumes destination: a volume may hide a directory of the image, not a file. */
async function refuseVolumeOverFile(rootfs: string, destination: string): Promise<void> {
  if ((await statInRoot(rootfs, destination))?.isDirectory() === false) {
    throw systemError(`cannot mount volume over existing file, file exists ${join(rootfs, destination)}`);
  }
}
