/**
 * The layer store: read-only image layers keyed by chain ID and read-write container layers,
 * in Docker's layout (layerdb under <data-root>/image/overlay2, driver dirs under
 * <data-root>/overlay2):
 *   layerdb/sha256/<chain hex>/ diff size cache-id parent tar-split.json.gz
 *   layerdb/mounts/<container id>/ mount-id init-id parent
 * A layer becomes visible only when its layerdb directory is renamed into place, after its
 * content is fully extracted and its digest known; on any error everything made is removed.
 * Layers are shared by chain ID; which ones are in use is decided by the caller (the image
 * service knows the images) through gc().
 *
 * applyLayer() takes any Readable of a (compressed) layer tar, so a registry pull can stream
 * blobs straight into it; the result stays pinned (safe from gc) until unpin(). A pull uses its
 * two halves, stageLayer() and commitStaged(), to extract layers concurrently as they download
 * and register them in order once each blob's digest is verified. Extraction runs on a worker
 * thread (extract-pool.ts).
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, lstat, mkdir, readdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { writeFileAtomic } from '../lib/atomic-file.js';
import { generateId } from '../lib/ids.js';
import { isEngineError, notFound, systemError } from '../lib/errors.js';
import { KeyedMutex } from '../lib/mutex.js';
import { chainIdOf, hexOf } from './chain-id.js';
import { extractPool } from './extract-pool.js';
import type { Trash } from '../lib/trash.js';
import { populateInitLayer } from './init-layer.js';
import { Overlay2 } from './overlay2.js';
import { tarSplitSize } from './tar-split.js';
import { removeAllXattrs } from './xattr.js';
import { walkPool } from '../containerfs/walk-pool.js';

export interface LayerInfo {
  chainId: string;
  diffId: string;
  /** Uncompressed content size of this layer alone. */
  size: number;
  cacheId: string;
  parent: string | null;
}

export interface AppliedLayer {
  chainId: string;
  diffId: string;
  size: number;
}

/** A layer extracted into its driver directory but not registered (see stageLayer()). */
export interface StagedLayer {
  readonly cacheId: string;
  /** Its layerdb directory in the making (tar-split record so far). */
  readonly tmp: string;
  readonly diffId: string;
  readonly size: number;
}

export interface RWLayerRecord {
  mountId: string;
  initId: string;
  /** Chain ID of the image's top layer, or null. */
  parent: string | null;
}

const TAR_SPLIT = 'tar-split.json.gz';
/** moby's maxLayerDepth: the most layers an image may have. */
export const MAX_LAYER_DEPTH = 125;

/**
 * Stops the producer of a layer that failed. A client's request body (import) is not destroyed:
 * that would close the connection before the API answers on it, so the client would see a broken
 * pipe instead of the error; the HTTP server deals with the unread rest.
 */
function abandonSource(src: Readable): void {
  if (src instanceof IncomingMessage && src.method) return;
  src.destroy();
}

async function readText(path: string): Promise<string | null> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export class LayerStore {
  readonly driver: Overlay2;
  private readonly layerdb: string;
  private readonly pins = new Map<string, number>();
  /** Chains a gc kept only for a pin or a container on them; letting go of one hands it to onReleasedAfterGc. */
  private readonly keptForHolders = new Set<string>();
  private readonly infoCache = new Map<string, LayerInfo>();
  private readonly rwLock = new KeyedMutex();
  /** Per chain ID: a pin that finds a chain registered and a gc that removes it never interleave. */
  private readonly chainLock = new KeyedMutex();
  /** Driver dirs being filled right now (not yet in layerdb); removeOrphans() leaves them alone. */
  private readonly inFlight = new Set<string>();
  private readonly inFlightRW = new Set<string>();
  /** Containers' RW layer records as read or written (they never change until removed): three file reads fewer per use. */
  private readonly rwCache = new Map<string, RWLayerRecord>();
  private readonly createdAt = Date.now();

  /**
   * `imageRoot` is <data-root>/image/overlay2; `driverHome` is <data-root>/overlay2. With `trash`,
   * a removed container's layer dirs are deleted in the background (lib/trash.ts).
   */
  constructor(imageRoot: string, driverHome: string, private readonly trash?: Trash) {
    this.layerdb = join(imageRoot, 'layerdb');
    this.driver = new Overlay2(driverHome);
  }

  static forDataRoot(dataRoot: string, trash?: Trash): LayerStore {
    return new LayerStore(join(dataRoot, 'image', 'overlay2'), join(dataRoot, 'overlay2'), trash);
  }

  async init(): Promise<void> {
    await mkdir(join(this.layerdb, 'sha256'), { recursive: true, mode: 0o700 });
    await mkdir(join(this.layerdb, 'mounts'), { recursive: true, mode: 0o700 });
    // Half-made layers of a crashed apply; their driver dirs are found by cleanupOrphans().
    await rm(join(this.layerdb, 'tmp'), { recursive: true, force: true });
    await mkdir(join(this.layerdb, 'tmp'), { recursive: true, mode: 0o700 });
    await this.driver.init();
  }

  private layerDir(chainId: string): string {
    return join(this.layerdb, 'sha256', hexOf(chainId));
  }
  private mountDir(containerId: string): string {
    return join(this.layerdb, 'mounts', containerId);
  }
  private tmpDir(): string {
    return join(this.layerdb, 'tmp', `write-set-${randomBytes(8).toString('hex')}`);
  }

  async get(chainId: string): Promise<LayerInfo | null> {
    const cached = this.infoCache.get(chainId);
    if (cached) return cached;
    const dir = this.layerDir(chainId);
    const [diffId, size, cacheId, parent] = await Promise.all(
      ['diff', 'size', 'cache-id', 'parent'].map((f) => readText(join(dir, f))),
    );
    if (diffId == null || cacheId == null) return null;
    const info: LayerInfo = { chainId, diffId, size: Number(size ?? 0), cacheId, parent: parent || null };
    this.infoCache.set(chainId, info);
    return info;
  }

  /** Pins `chainId` if it is registered (and not being removed by a gc): its info; NotFound otherwise. */
  private pinExisting(chainId: string): Promise<LayerInfo> {
    return this.chainLock.run(chainId, async () => {
      const info = await this.mustGet(chainId);
      this.pin(chainId);
      return info;
    });
  }

  /** Chains that are pinned or under a pinned chain. */
  private async pinnedAncestry(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const top of this.pins.keys()) {
      for (let c: string | null = top; c !== null && !out.has(c); ) {
        out.add(c);
        c = (await this.get(c))?.parent ?? null;
      }
    }
    return out;
  }

  private async mustGet(chainId: string): Promise<LayerInfo> {
    const info = await this.get(chainId);
    if (!info) throw notFound(`layer does not exist: ${chainId}`);
    return info;
  }

  async has(chainId: string): Promise<boolean> {
    return (await this.get(chainId)) !== null;
  }

  /** The chain from the base layer up to `chainId`. */
  async chain(chainId: string | null): Promise<LayerInfo[]> {
    const out: LayerInfo[] = [];
    for (let c = chainId; c !== null; ) {
      const info = await this.mustGet(c);
      out.unshift(info);
      c = info.parent;
    }
    return out;
  }

  /** Total content size of a layer and all its ancestors. */
  async chainSize(chainId: string | null): Promise<number> {
    return (await this.chain(chainId)).reduce((n, l) => n + l.size, 0);
  }

  pin(chainId: string): void {
    this.pins.set(chainId, (this.pins.get(chainId) ?? 0) + 1);
  }
  unpin(chainId: string): void {
    const n = (this.pins.get(chainId) ?? 0) - 1;
    if (n > 0) {
      this.pins.set(chainId, n);
      return;
    }
    this.pins.delete(chainId);
    // A gc ran while this was pinned and left it (and what is under it) only for the pin: e.g.
    // the image just registered on it was pruned before the pin went.
    if (this.keptForHolders.delete(chainId)) this.onReleasedAfterGc?.(chainId);
  }

  /**
   * Called with a chain let go (its last pin, or a container's RW layer on it) after a gc kept it
   * only for that; the owner of the images lock collects it (gc must not run outside that lock).
   */
  onReleasedAfterGc?: (chainId: string) => void;

  /**
   * Streams a (possibly gzip/zstd compressed) layer tar on top of `parent` and registers it.
   * The result is pinned; call unpin() once an image references it.
   */
  async applyLayer(parent: string | null, src: Readable): Promise<AppliedLayer> {
    if (parent !== null) await this.mustGet(parent);
    return this.commitOrDiscard(await this.stageLayer(src), parent);
  }

  /** commitStaged(), removing the staged layer when that fails. */
  private async commitOrDiscard(staged: StagedLayer, parent: string | null): Promise<AppliedLayer> {
    try {
      return await this.commitStaged(staged, parent);
    } catch (err) {
      await this.discardStaged(staged);
      throw err;
    }
  }

  /**
   * Extracts a (possibly compressed) layer tar into a new, parentless driver directory that is
   * not registered yet, so layers can be extracted before their parents are. The staged layer
   * becomes visible only through commitStaged(); discardStaged() removes it without a trace.
   * On error (including `src` failing) nothing is left behind.
   */
  stageLayer(src: Readable): Promise<StagedLayer> {
    return this.staged(src, (diffDir, tarSplitPath) => extractPool.extract(src, diffDir, tarSplitPath));
  }

  /** A new parentless driver dir and layerdb dir for layer `src`, filled by `fill`; on error both go and `src` is abandoned. */
  private async staged(src: Readable, fill: (diffDir: string, tarSplitPath: string) => Promise<{ diffId: string; size: number }>): Promise<StagedLayer> {
    const cacheId = generateId();
    const tmp = this.tmpDir();
    let driverMade = false;
    this.inFlight.add(cacheId);
    try {
      await mkdir(tmp, { recursive: true, mode: 0o700 });
      await this.driver.create(cacheId, null);
      driverMade = true;
      const { diffId, size } = await fill(this.driver.diffDir(cacheId), join(tmp, TAR_SPLIT));
      return { cacheId, tmp, diffId, size };
    } catch (err) {
      abandonSource(src);
      if (driverMade) await this.driver.remove(cacheId).catch(() => {});
      await rm(tmp, { recursive: true, force: true }).catch(() => {});
      this.inFlight.delete(cacheId);
      throw err;
    }
  }

  /** Removes a staged layer that will not be committed. Idempotent. */
  async discardStaged(staged: StagedLayer): Promise<void> {
    try {
      await this.driver.remove(staged.cacheId);
      await rm(staged.tmp, { recursive: true, force: true });
    } finally {
      this.inFlight.delete(staged.cacheId);
    }
  }

  /**
   * Registers a staged layer on top of `parent` under its chain ID (or, when that chain exists
   * already, discards it and returns the existing one). The result is pinned; on error the
   * staged layer is left for the caller to discard.
   */
  async commitStaged(staged: StagedLayer, parent: string | null): Promise<AppliedLayer> {
    const parentInfo = parent === null ? null : await this.pinExisting(parent);
    const { cacheId, tmp, diffId, size } = staged;
    const chainId = chainIdOf(parent, diffId);
    let pinned = false;
    try {
      const registered = await this.pinExisting(chainId).then(
        () => true,
        (err: unknown) => {
          if (isEngineError(err, 'NotFound')) return false;
          throw err;
        },
      );
      if (!registered) this.pin(chainId);
      pinned = true;
      if (registered) {
        // Same content already registered (another image or a concurrent apply): keep that one.
        await this.discardStaged(staged);
        return { chainId, diffId, size: (await this.mustGet(chainId)).size };
      }
      if (parentInfo) {
        // moby's maxLayerDepth; some 140 layers on, the lowerdir list would outgrow the page mount(2) takes.
        const parentDepth = 1 + (await this.driver.lower(parentInfo.cacheId)).split(':').filter(Boolean).length;
        if (parentDepth >= MAX_LAYER_DEPTH) throw systemError('max depth exceeded');
        await this.driver.setParent(cacheId, parentInfo.cacheId);
      }
      // fsync'ed files, then one rename: the layer appears complete or not at all.
      await writeFileAtomic(join(tmp, 'diff'), diffId);
      await writeFileAtomic(join(tmp, 'size'), String(size));
      await writeFileAtomic(join(tmp, 'cache-id'), cacheId);
      if (parent !== null) await writeFileAtomic(join(tmp, 'parent'), parent);
      try {
        await rename(tmp, this.layerDir(chainId));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await this.has(chainId))) {
          await this.discardStaged(staged);
          return { chainId, diffId, size: (await this.mustGet(chainId)).size };
        }
        throw err;
      }
      this.inFlight.delete(cacheId);
      return { chainId, diffId, size };
    } catch (err) {
      if (pinned) this.unpin(chainId);
      throw err;
    } finally {
      if (parent !== null) this.unpin(parent);
    }
  }

  /**
   * Removes driver directories no layer or container record refers to (a crash between
   * extracting and registering leaves one) and dangling l/ links.
   */
  async removeOrphans(): Promise<string[]> {
    const candidates: string[] = [];
    let known = await this.knownDriverIds();
    for (const name of await readdir(this.driver.home).catch(() => [] as string[])) {
      if (!/^[a-f0-9]{64}(-init)?$/.test(name) || known.has(name)) continue;
      if (this.inFlight.has(name) || this.inFlightRW.has(name)) continue;
      // Only what predates this store can be a crash's leftover (another process may be mid-apply).
      const st = await lstat(this.driver.dir(name)).catch(() => null);
      if (!st || st.mtimeMs >= this.createdAt - 1000) continue;
      candidates.push(name);
    }
    const removed: string[] = [];
    if (candidates.length) {
      // Re-read after the in-flight check: an apply that finished meanwhile is registered now.
      known = await this.knownDriverIds();
      for (const name of candidates) {
        if (known.has(name)) continue;
        await this.driver.unmount(name).catch(() => {});
        await this.driver.remove(name);
        removed.push(name);
      }
    }
    const linkDir = join(this.driver.home, 'l');
    for (const link of await readdir(linkDir).catch(() => [] as string[])) {
      const st = await stat(join(linkDir, link)).catch(() => null);
      if (!st) await rm(join(linkDir, link), { force: true });
    }
    return removed;
  }

  /** The layer's exact tar (whose sha256 is its diffID), rebuilt from tar-split + diff dir. */
  async tarStream(chainId: string): Promise<Readable> {
    const info = await this.mustGet(chainId);
    const split = join(this.layerDir(chainId), TAR_SPLIT);
    try {
      await lstat(split);
    } catch {
      throw systemError(`layer ${chainId} has no tar-split record; cannot export it`);
    }
    return walkPool.assemble(split, this.driver.diffDir(info.cacheId));
  }

  private async knownDriverIds(): Promise<Set<string>> {
    const known = new Set<string>();
    for (const chain of await this.list()) {
      const info = await this.get(chain);
      if (info) known.add(info.cacheId);
    }
    for (const id of await readdir(join(this.layerdb, 'mounts')).catch(() => [] as string[])) {
      const rec = await this.rwRecord(id);
      if (rec) {
        known.add(rec.mountId);
        known.add(rec.initId);
      }
    }
    return known;
  }

  /** Byte length of tarStream(chainId), computed from the tar-split record. */
  async tarSize(chainId: string): Promise<number> {
    await this.mustGet(chainId);
    return tarSplitSize(join(this.layerDir(chainId), TAR_SPLIT));
  }

  /** Docker's image GraphDriver.Data for an image whose top layer is `chainId`. */
  async graphDriverData(chainId: string): Promise<Record<string, string>> {
    const info = await this.mustGet(chainId);
    const data: Record<string, string> = {};
    const lowers = await this.driver.lowerDirs(info.cacheId);
    if (lowers.length) data.LowerDir = lowers.join(':');
    data.MergedDir = this.driver.mergedDir(info.cacheId);
    data.UpperDir = this.driver.diffDir(info.cacheId);
    data.WorkDir = this.driver.workDir(info.cacheId);
    return data;
  }

  /** All registered chain IDs. */
  async list(): Promise<string[]> {
    const names = await readdir(join(this.layerdb, 'sha256')).catch(() => [] as string[]);
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  /**
   * Removes the layers among `candidates` (and their ancestors) that are not an ancestor-or-self
   * of any chain in `keepTops`, not pinned, and not under a container's RW layer.
   * Returns the chain IDs removed and the bytes reclaimed.
   */
  async gc(candidates: Iterable<string>, keepTops: Iterable<string>): Promise<{ removed: string[]; reclaimed: number }> {
    const keep = new Set<string>();
    const walk = async (top: string) => {
      for (let c: string | null = top; c !== null && !keep.has(c); ) {
        keep.add(c);
        c = (await this.get(c))?.parent ?? null;
      }
    };
    for (const top of keepTops) await walk(top);
    const held = [...this.pins.keys(), ...(await this.rwParents())];
    for (const top of held) if (!keep.has(top)) this.keptForHolders.add(top);
    for (const top of held) await walk(top);
    const toRemove = new Set<string>();
    for (const cand of candidates) {
      for (let c: string | null = cand; c !== null && !keep.has(c) && !toRemove.has(c); ) {
        const info: LayerInfo | null = await this.get(c);
        if (!info) break;
        toRemove.add(c);
        c = info.parent;
      }
    }
    let reclaimed = 0;
    const removed: string[] = [];
    for (const c of toRemove) {
      await this.chainLock.run(c, async () => {
        // An apply may have found and pinned it (or a layer on it) since `keep` was made.
        if ((await this.pinnedAncestry()).has(c)) {
          for (const pinned of this.pins.keys()) this.keptForHolders.add(pinned);
          return;
        }
        const info = await this.get(c);
        if (!info) return;
        // Make the record disappear atomically first, then free the content.
        const trash = this.tmpDir();
        await rename(this.layerDir(c), trash);
        this.infoCache.delete(c);
        await this.driver.remove(info.cacheId);
        await rm(trash, { recursive: true, force: true });
        reclaimed += info.size;
        removed.push(c);
      });
    }
    return { removed, reclaimed };
  }

  // ---- container (read-write) layers ----

  async rwRecord(containerId: string): Promise<RWLayerRecord | null> {
    const cached = this.rwCache.get(containerId);
    if (cached) return cached;
    const dir = this.mountDir(containerId);
    const [mountId, initId, parent] = await Promise.all(['mount-id', 'init-id', 'parent'].map((f) => readText(join(dir, f))));
    if (mountId == null) return null;
    const rec = { mountId, initId: initId ?? `${mountId}-init`, parent: parent || null };
    this.rwCache.set(containerId, rec);
    return rec;
  }

  private async mustRW(containerId: string): Promise<RWLayerRecord> {
    const rec = await this.rwRecord(containerId);
    if (!rec) throw notFound(`RWLayer of container ${containerId} is unexpectedly nil`);
    return rec;
  }

  /**
   * Registers the upper dir of container `containerId`'s RW layer as a layer on `parent` by
   * moving the directory into the new layer rather than extracting a copy of it: for a build
   * step, whose container goes right after. `tar` is the walk of that upper dir with settled
   * times (commit.ts upperDirLayer), read here once the layer is unmounted: its digest and
   * tar-split record are kept, its files stay where they are. The RW layer is left with an
   * empty upper dir. Pinned as applyLayer()'s result.
   */
  async adoptRWLayer(containerId: string, parent: string | null, tar: Readable): Promise<AppliedLayer> {
    if (parent !== null) await this.mustGet(parent);
    const staged = await this.rwLock.run(containerId, async (): Promise<StagedLayer> => {
      const rec = await this.mustRW(containerId);
      await this.driver.unmount(rec.mountId);
      return this.staged(tar, async (diff, tarSplitPath) => {
        const recorded = await extractPool.record(tar, tarSplitPath);
        const upper = this.driver.diffDir(rec.mountId);
        // The RW layer's next (empty) upper dir is made first, so that no failure after the
        // move leaves the RW layer without one.
        const next = `${upper}.next`;
        await mkdir(next, { mode: 0o755 });
        try {
          await rmdir(diff);
          await rename(upper, diff);
        } catch (err) {
          await rmdir(next);
          throw err;
        }
        await rename(next, upper);
        // The root is not in the tar: as a fresh diff dir has it, without overlay's marks (its uuid).
        await chown(diff, 0, 0);
        await chmod(diff, 0o755);
        removeAllXattrs(diff);
        return recorded;
      });
    });
    return this.commitOrDiscard(staged, parent);
  }

  /** Chain IDs that container RW layers sit on. */
  async rwParents(): Promise<string[]> {
    const ids = await readdir(join(this.layerdb, 'mounts')).catch(() => [] as string[]);
    const out: string[] = [];
    for (const id of ids) {
      const p = await readText(join(this.mountDir(id), 'parent'));
      if (p) out.push(p);
    }
    return out;
  }

  /**
   * Makes the container's `<mount-id>-init` and `<mount-id>` layers on top of `parentChainId`.
   * `bare`: the init layer stays empty (an image mount's layer: the image as it is, moby's
   * CreateRWLayer without an InitFunc).
   */
  async createRWLayer(containerId: string, parentChainId: string | null, opts: { bare?: boolean } = {}): Promise<void> {
    await this.rwLock.run(containerId, async () => {
      // The record's dir appears whole (the rename below): one stat, not its three reads failing.
      if (this.rwCache.has(containerId) || existsSync(this.mountDir(containerId))) throw systemError(`RW layer for container ${containerId} already exists`);
      const parent = parentChainId === null ? null : await this.mustGet(parentChainId);
      const mountId = generateId();
      const initId = `${mountId}-init`;
      this.inFlightRW.add(mountId).add(initId);
      const tmp = this.tmpDir();
      let initMade = false;
      let mountMade = false;
      try {
        await this.driver.create(initId, parent?.cacheId ?? null);
        initMade = true;
        if (!opts.bare) populateInitLayer(this.driver.diffDir(initId), await this.driver.lowerDirs(initId));
        await this.driver.create(mountId, initId);
        mountMade = true;
        // Small files in place, as the driver's create (overlay2.ts) makes its own.
        mkdirSync(tmp, { recursive: true, mode: 0o700 });
        writeFileSync(join(tmp, 'mount-id'), mountId);
        writeFileSync(join(tmp, 'init-id'), initId);
        if (parentChainId !== null) writeFileSync(join(tmp, 'parent'), parentChainId);
        renameSync(tmp, this.mountDir(containerId));
        this.rwCache.set(containerId, { mountId, initId, parent: parentChainId });
      } catch (err) {
        if (mountMade) await this.driver.remove(mountId).catch(() => {});
        if (initMade) await this.driver.remove(initId).catch(() => {});
        await rm(tmp, { recursive: true, force: true }).catch(() => {});
        throw err;
      } finally {
        this.inFlightRW.delete(mountId);
        this.inFlightRW.delete(initId);
      }
    });
  }

  /** Mounts the container's rootfs (overlay) and returns the merged path. Idempotent. */
  async mountRW(containerId: string, opts: { volatile?: boolean } = {}): Promise<string> {
    return this.rwLock.run(containerId, async () => this.driver.mount((await this.mustRW(containerId)).mountId, opts));
  }

  async withRootfsView<T>(containerId: string, fn: (rootfs: string) => Promise<T>): Promise<T> {
    return this.rwLock.run(containerId, async () => this.driver.withReadOnlyView((await this.mustRW(containerId)).mountId, fn));
  }

  async unmountRW(containerId: string): Promise<void> {
    await this.rwLock.run(containerId, async () => {
      const rec = await this.rwRecord(containerId);
      if (rec) await this.driver.unmount(rec.mountId);
    });
  }

  /** Unmounts if needed and removes both driver dirs and the mounts record. Idempotent. */
  async removeRWLayer(containerId: string): Promise<void> {
    await this.rwLock.run(containerId, async () => {
      const rec = await this.rwRecord(containerId);
      if (!rec) return;
      this.rwCache.delete(containerId);
      await this.driver.unmount(rec.mountId);
      const trash = this.trash;
      const discard = trash ? (dir: string) => trash.discard(dir) : undefined;
      await Promise.all([this.driver.remove(rec.mountId, discard), this.driver.remove(rec.initId, discard)]);
      // The record last: a failure above leaves it, so the removal can be tried again.
      if (trash) await trash.discard(this.mountDir(containerId));
      else await rm(this.mountDir(containerId), { recursive: true, force: true });
      // Its image removed while it ran (rmi -f): nothing holds the image's layers any more.
      if (rec.parent !== null && this.keptForHolders.delete(rec.parent)) this.onReleasedAfterGc?.(rec.parent);
    });
  }

  /** GraphDriver.Data of a container, as `docker inspect` shows it. */
  async rwGraphDriverData(containerId: string): Promise<Record<string, string>> {
    const rec = await this.mustRW(containerId);
    const lowers = await this.driver.lowerDirs(rec.mountId);
    return {
      LowerDir: lowers.join(':'),
      MergedDir: this.driver.mergedDir(rec.mountId),
      UpperDir: this.driver.diffDir(rec.mountId),
      WorkDir: this.driver.workDir(rec.mountId),
    };
  }

  /** Bytes of the container's own changes (its upper dir), hardlinks counted once. */
  async rwSize(containerId: string): Promise<number> {
    const rec = await this.mustRW(containerId);
    return walkPool.size(this.driver.diffDir(rec.mountId));
  }

  /** SizeRw and SizeRootFs as Docker reports them: the container's changes, and those plus its image's layers. */
  async rwSizes(containerId: string): Promise<{ sizeRw: number; sizeRootFs: number }> {
    const rec = await this.mustRW(containerId);
    const sizeRw = await walkPool.size(this.driver.diffDir(rec.mountId));
    return { sizeRw, sizeRootFs: sizeRw + (await this.chainSize(rec.parent)) };
  }
}
