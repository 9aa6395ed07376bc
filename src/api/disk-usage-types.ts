/** GET /system/df shapes (Docker's types.DiskUsage). */
import { invalidParameter } from '../lib/errors.js';
import type { ContainerSummary, ImageSummary, Volume } from './types.js';

export type DiskUsageType = 'container' | 'image' | 'volume' | 'build-cache';

/** Docker's build.CacheRecord; always an empty list here (no BuildKit). */
export interface BuildCacheRecord {
  ID: string;
  Parents?: string[] | null;
  Type: string;
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt: string | null;
  UsageCount: number;
}

/** Parts not asked for with `?type=` are null, as dockerd leaves them. */
export interface DiskUsage {
  LayersSize: number;
  Images: ImageSummary[] | null;
  Containers: ContainerSummary[] | null;
  Volumes: Volume[] | null;
  BuildCache: BuildCacheRecord[] | null;
}

/** GET /system/df; `types` null means every part. */
export interface DiskUsageBackend {
  usage(types: DiskUsageType[] | null): Promise<DiskUsage>;
}

export const DISK_USAGE_TYPES: readonly DiskUsageType[] = ['container', 'image', 'volume', 'build-cache'];

/** Parses `?type=` values (API ≥ 1.42); older versions or no `type` mean everything. */
export function parseDiskUsageTypes(values: string[], typesSupported: boolean): DiskUsageType[] | null {
  if (!typesSupported || values.length === 0) return null;
  const out: DiskUsageType[] = [];
  for (const v of values) {
    if (!(DISK_USAGE_TYPES as readonly string[]).includes(v)) throw invalidParameter(`unknown object type: ${v}`);
    out.push(v as DiskUsageType);
  }
  return out;
}
