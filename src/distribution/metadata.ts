/**
 * Distribution metadata in Docker's layout under <image root>/distribution/: which registry
 * blobs hold which layer (so that a push can check and mount instead of uploading):
 *   v2metadata-by-diffid/sha256/<diffid hex>  [{"Digest","SourceRepository","HMAC","MediaType"}]
 *   diffid-by-digest/sha256/<digest hex>      <diffid>
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readJsonIfExists, writeFileAtomic, writeJsonAtomic } from '../lib/atomic-file.js';
import { hexOf } from '../layer/chain-id.js';
import { KeyedMutex } from '../lib/mutex.js';

export interface BlobSource {
  Digest: string;
  /** Full repository name including the registry host (`127.0.0.1:5000/busybox`, `docker.io/library/busybox`). */
  SourceRepository: string;
  HMAC: string;
  /** Not in Docker's record; lets a push reuse only blobs whose media type it can declare. */
  MediaType?: string;
  Size?: number;
}

const MAX_SOURCES = 50;

export class DistributionMetadata {
  private readonly byDiffId: string;
  private readonly byDigest: string;
  private readonly lock = new KeyedMutex();

  constructor(imageRoot: string) {
    this.byDiffId = join(imageRoot, 'distribution', 'v2metadata-by-diffid', 'sha256');
    this.byDigest = join(imageRoot, 'distribution', 'diffid-by-digest', 'sha256');
  }

  async sources(diffId: string): Promise<BlobSource[]> {
    return (await readJsonIfExists<BlobSource[]>(join(this.byDiffId, hexOf(diffId)))) ?? [];
  }

  async diffIdOf(digest: string): Promise<string | null> {
    return (await readFile(join(this.byDigest, hexOf(digest)), 'utf8').catch(() => '')).trim() || null;
  }

  /** Records that blob `source.Digest` in `source.SourceRepository` is layer `diffId` (most recent first). */
  async add(diffId: string, source: BlobSource): Promise<void> {
    await this.lock.run(diffId, async () => {
      const list = (await this.sources(diffId)).filter((s) => !(s.Digest === source.Digest && s.SourceRepository === source.SourceRepository));
      list.unshift(source);
      await writeJsonAtomic(join(this.byDiffId, hexOf(diffId)), list.slice(0, MAX_SOURCES), 0o600);
      await writeFileAtomic(join(this.byDigest, hexOf(source.Digest)), diffId, 0o600);
    });
  }
}
