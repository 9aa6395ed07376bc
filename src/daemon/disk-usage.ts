/**
 * GET /system/df: Docker's disk usage report. Images carry how many containers use them and the
 * bytes they share with other images (layers used by more than one image); LayersSize is every
 * registered layer once; containers carry SizeRw/SizeRootFs; volumes carry UsageData (size of
 * the local volume's data, number of containers mounting it). Build cache is always empty
 * (no BuildKit). Each part is computed only when asked for (`?type=`, API ≥ 1.42).
 */
import type { ContainerBackend, VolumeBackend } from '../api/backend.js';
import type { ContainerSummary, ImageSummary, Volume } from '../api/types.js';
import { walkPool } from '../containerfs/walk-pool.js';
import type { LayerStore } from '../layer/layer-store.js';
import type { BuildCacheRecord, DiskUsage, DiskUsageType } from '../api/types.js';
import type { DiskUsageBackend } from '../api/backend.js';

/** What the report reads; volumes are optional (an engine without them reports none). */
export interface DiskUsageSources {
  layers: LayerStore;
  images: {
    list(opts: { all: boolean; filters: Record<string, string[]>; digests: boolean }): Promise<ImageSummary[]>;
    /** Chain ID of the image's top layer, or null. */
    resolve(ref: string): Promise<{ topChainId: string | null }>;
  };
  containers: Pick<ContainerBackend, 'list'>;
  volumes?: Pick<VolumeBackend, 'list'>;
  /** The build cache (RUN --mount=type=cache directories). */
  buildCache?: { cacheRecords(): Promise<BuildCacheRecord[]> };
}

export class DiskUsageService implements DiskUsageBackend {
  constructor(private readonly src: DiskUsageSources) {}

  /** `types` null means everything. */
  async usage(types: DiskUsageType[] | null): Promise<DiskUsage> {
    const want = (t: DiskUsageType) => types === null || types.includes(t);
    const out: DiskUsage = { LayersSize: 0, Images: null, Containers: null, Volumes: null, BuildCache: null };
    let containers: ContainerSummary[] | null = null;
    const listContainers = async () => (containers ??= await this.src.containers.list({ all: true, size: true, filters: {} }));
    if (want('image')) {
      const { images, layersSize } = await this.images(await listContainers());
      out.Images = images;
      out.LayersSize = layersSize;
    }
    if (want('container')) out.Containers = await listContainers();
    if (want('volume')) out.Volumes = await this.volumes(await listContainers());
    if (want('build-cache')) out.BuildCache = (await this.src.buildCache?.cacheRecords()) ?? [];
    return out;
  }

  private async images(containers: ContainerSummary[]): Promise<{ images: ImageSummary[]; layersSize: number }> {
    const { layers } = this.src;
    const images = await this.src.images.list({ all: true, filters: {}, digests: true });
    const chainsOf = new Map<string, Array<{ chainId: string; size: number }>>();
    const refCount = new Map<string, number>();
    for (const img of images) {
      const top = (await this.src.images.resolve(img.Id).catch(() => null))?.topChainId ?? null;
      const chain = top === null ? [] : await layers.chain(top).catch(() => []);
      chainsOf.set(img.Id, chain);
      for (const l of chain) refCount.set(l.chainId, (refCount.get(l.chainId) ?? 0) + 1);
    }
    let layersSize = 0;
    for (const c of await layers.list()) layersSize += (await layers.get(c))?.size ?? 0;
    const users = new Map<string, number>();
    for (const c of containers) users.set(c.ImageID, (users.get(c.ImageID) ?? 0) + 1);
    const withUsage = images.map((img) => ({
      ...img,
      Containers: users.get(img.Id) ?? 0,
      SharedSize: (chainsOf.get(img.Id) ?? []).reduce((n, l) => n + ((refCount.get(l.chainId) ?? 0) > 1 ? l.size : 0), 0),
    }));
    return { images: withUsage, layersSize };
  }

  private async volumes(containers: ContainerSummary[]): Promise<Volume[]> {
    if (!this.src.volumes) return [];
    const list = (await this.src.volumes.list({})).Volumes ?? [];
    const refs = new Map<string, number>();
    for (const c of containers) {
      for (const m of c.Mounts ?? []) if (m.Type === 'volume' && m.Name) refs.set(m.Name, (refs.get(m.Name) ?? 0) + 1);
    }
    const out: Volume[] = [];
    for (const v of list) {
      if (v.UsageData && v.UsageData.Size >= 0) {
        out.push(v);
        continue;
      }
      // Docker measures local volumes only; other drivers report -1.
      const size = v.Driver === 'local' && v.Mountpoint ? await walkPool.size(v.Mountpoint) : -1;
      out.push({ ...v, UsageData: { Size: size, RefCount: refs.get(v.Name) ?? 0 } });
    }
    return out;
  }
}
