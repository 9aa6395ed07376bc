/**
 * The content hashes of `COPY --from` sources, by source image: an image's content never changes
 * (its ID is the digest of a config naming its layers' digests), so the sources resolved and
 * hashed in it once stand for every later build, and a cached `COPY --from` step is found without
 * mounting the source image (a mount, an umount and a temporary RW layer per probe).
 */
import type { CopySource, SourceSelection } from './build-copy.js';

/** Entries kept (least recently used dropped first); each is a few paths and hashes. */
const MAX_ENTRIES = 512;

export class SourceHashCache {
  private readonly entries = new Map<string, readonly CopySource[]>();

  private static key(imageId: string, sources: readonly string[], selection: SourceSelection): string {
    return JSON.stringify([imageId, sources, selection.excludes ?? [], selection.parents ?? false]);
  }

  get(imageId: string, sources: readonly string[], selection: SourceSelection): CopySource[] | undefined {
    const k = SourceHashCache.key(imageId, sources, selection);
    const hit = this.entries.get(k);
    if (hit === undefined) return undefined;
    this.entries.delete(k);
    this.entries.set(k, hit);
    return hit.map((s) => ({ ...s }));
  }

  set(imageId: string, sources: readonly string[], selection: SourceSelection, infos: readonly CopySource[]): void {
    const k = SourceHashCache.key(imageId, sources, selection);
    this.entries.delete(k);
    this.entries.set(k, infos.map((s) => ({ ...s })));
    while (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
  }
}
