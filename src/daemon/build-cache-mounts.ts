/**
 * The directories of `RUN --mount=type=cache` (BuildKit's cache mounts): one per cache id,
 * kept under the data root between builds, listed as build cache (`system df`, `buildx du`) and
 * removed by `docker builder prune`, as BuildKit's are. A directory a running step has mounted
 * is in use and never pruned.
 */
import { createHash } from 'node:crypto';
import { chown, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildCacheRecord } from '../api/types.js';
import { walkPool } from '../containerfs/walk-pool.js';
import { parseFilterTime } from '../lib/filters.js';
import { rfc3339NanoFromNs, rfc3339ToNs, wallClockNs } from '../lib/wall-clock.js';

interface CacheMeta {
  id: string;
  target: string;
  createdAt: string;
  lastUsedAt: string;
  usageCount: number;
}

export interface CachePruneOptions {
  /** `until`/`unused-for`: only what was last used before then; `id` (a prefix), `type`, `description`; others ignored, as by moby. */
  filters: Record<string, string[]>;
  /** Keep the most recently used caches that fit in this many bytes. */
  keepBytes?: number;
}

const TYPE = 'exec.cachemount';

export class CacheMountStore {
  private readonly inUse = new Map<string, number>();
  /** Caches being made and filled, by key: a second step asking for one waits for it. */
  private readonly making = new Map<string, Promise<void>>();

  constructor(private readonly root: string) {}

  private static key(id: string): string {
    return createHash('sha256').update(id).digest('hex');
  }

  /**
   * The cache's directory, held until `release`: `id` as BuildKit shows it, kept apart by `key`
   * (the id and what its first content depends on, as BuildKit keys a cache by its base).
   * A new one is made with `mode`/`uid`/`gid`, or made by `fill` (a base's content).
   */
  async acquire(id: string, target: string, perm: { mode: number; uid: number; gid: number }, opts: { key?: string; fill?: (dir: string) => Promise<void> } = {}): Promise<{ dir: string; release: () => void }> {
    const key = CacheMountStore.key(opts.key ?? id);
    const dir = join(this.root, key);
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    let meta = await this.meta(key);
    if (!meta) {
      let made = this.making.get(key);
      if (!made) {
        made = this.make(dir, perm, opts.fill).finally(() => this.making.delete(key));
        this.making.set(key, made);
      }
      await made;
      meta = await this.meta(key);
    }
    // To the nanosecond, as BuildKit's: two uses within a millisecond still have an order for prune.
    const now = rfc3339NanoFromNs(wallClockNs());
    const next: CacheMeta = meta ? { ...meta, lastUsedAt: now, usageCount: meta.usageCount + 1 } : { id, target, createdAt: now, lastUsedAt: now, usageCount: 1 };
    await writeFile(join(this.root, `${key}.json`), JSON.stringify(next));
    this.inUse.set(key, (this.inUse.get(key) ?? 0) + 1);
    let released = false;
    return {
      dir,
      release: () => {
        if (released) return;
        released = true;
        const n = (this.inUse.get(key) ?? 1) - 1;
        if (n <= 0) this.inUse.delete(key);
        else this.inUse.set(key, n);
      },
    };
  }

  /** A new cache directory; a fill that fails leaves none. */
  private async make(dir: string, perm: { mode: number; uid: number; gid: number }, fill?: (dir: string) => Promise<void>): Promise<void> {
    if (!fill) {
      await mkdir(dir, { mode: perm.mode }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      await chown(dir, perm.uid, perm.gid);
      return;
    }
    try {
      // What a fill cut short by a crash left (it has no record) goes first.
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { mode: perm.mode });
      await fill(dir);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  private async meta(key: string): Promise<CacheMeta | null> {
    try {
      return JSON.parse(await readFile(join(this.root, `${key}.json`), 'utf8')) as CacheMeta;
    } catch {
      return null;
    }
  }

  async records(): Promise<BuildCacheRecord[]> {
    const names = await readdir(this.root).catch(() => [] as string[]);
    const out: BuildCacheRecord[] = [];
    for (const name of names.filter((n) => /^[0-9a-f]{64}$/.test(n)).sort()) {
      const meta = await this.meta(name);
      if (!meta) continue;
      out.push({
        ID: name.slice(0, 25),
        Parents: null,
        Type: TYPE,
        Description: `cached mount ${meta.target} (id ${meta.id})`,
        InUse: this.inUse.has(name),
        Shared: false,
        Size: await walkPool.size(join(this.root, name)).catch(() => 0),
        CreatedAt: meta.createdAt,
        LastUsedAt: meta.lastUsedAt,
        UsageCount: meta.usageCount,
      });
    }
    return out;
  }

  /** Removes the caches the options select; returns what went and the bytes it freed. */
  async prune(opts: CachePruneOptions): Promise<{ deleted: BuildCacheRecord[]; reclaimed: number }> {
    // As moby's: only the cache record fields filter; other keys (system prune's label=…) are ignored.
    // Seconds since the epoch, as the other prunes' `until`.
    const until = [...(opts.filters.until ?? []), ...(opts.filters['unused-for'] ?? [])].map((v) => parseFilterTime(v) * 1000);
    const candidates = (await this.records())
      .filter((r) => !r.InUse)
      .filter((r) => !opts.filters.id?.length || opts.filters.id.some((id) => r.ID.startsWith(id)))
      .filter((r) => !opts.filters.type?.length || opts.filters.type.includes(r.Type))
      .filter((r) => !opts.filters.description?.length || opts.filters.description.includes(r.Description))
      .filter((r) => until.every((t) => Date.parse(r.LastUsedAt ?? r.CreatedAt) < t))
      // Least recently used go first when only some must go.
      .sort((a, b) => {
        const d = (rfc3339ToNs(a.LastUsedAt ?? '') ?? 0n) - (rfc3339ToNs(b.LastUsedAt ?? '') ?? 0n);
        return d < 0n ? -1 : d > 0n ? 1 : 0;
      });
    // With keepBytes, the most recently used that fit in it stay.
    let room = opts.keepBytes ?? 0;
    const keep = new Set<BuildCacheRecord>();
    for (const r of [...candidates].reverse()) {
      if (room <= 0 || r.Size > room) break;
      room -= r.Size;
      keep.add(r);
    }
    const deleted: BuildCacheRecord[] = [];
    let reclaimed = 0;
    const names = await readdir(this.root).catch(() => [] as string[]);
    for (const r of candidates) {
      const key = names.find((n) => n.length === 64 && n.startsWith(r.ID));
      if (keep.has(r) || !key || this.inUse.has(key)) continue;
      await rm(join(this.root, `${key}.json`), { force: true });
      await rm(join(this.root, key), { recursive: true, force: true });
      deleted.push(r);
      reclaimed += r.Size;
    }
    return { deleted, reclaimed };
  }
}
