/**
 * What the image verbs share: the image, reference and layer stores, the images lock, the
 * registry client and lookups (Docker's GetImage), plus registering images and collecting
 * their layers. ImageService (service.ts) owns one; the verb modules take it as `c`.
 */
import { join } from 'node:path';
import type { ImageConfigFile } from '../../api/types.js';
import { ImageStore } from '../../image/image-store.js';
import { ReferenceStore } from '../../image/reference-store.js';
import { familiarName, familiarString, isFullImageId, parseNormalizedNamed, withDefaultTag, type Reference } from '../../image/reference.js';
import { topChainId } from '../../layer/chain-id.js';
import { LayerStore } from '../../layer/layer-store.js';
import { invalidParameter, notFound } from '../../lib/errors.js';
import { KeyedMutex } from '../../lib/mutex.js';
import { RegistryClient, type ClientOptions } from '../../distribution/client.js';
import { formatPlatform, normalizePlatform, parsePlatform, platformMatches, type Platform } from '../../distribution/manifest.js';
import { DistributionMetadata } from '../../distribution/metadata.js';
import type { EventSink } from '../events.js';
import { hostPlatform, imagePlatform } from './platform.js';

/** A container using an image, as the container daemon reports it. */
export interface ImageUser {
  id: string;
  running: boolean;
}

/** Callback the container daemon provides: the containers created from `imageId` (sha256:…). */
export type ContainersUsingImage = (imageId: string) => ImageUser[];

/** What the container daemon gets from resolve(). */
export interface ResolvedImage {
  /** sha256:… */
  id: string;
  config: ImageConfigFile;
  /** Chain ID of the top layer, or null for an image without layers. */
  topChainId: string | null;
  /** Familiar references (`busybox:latest`, `x@sha256:…`). */
  references: string[];
}

export interface ImageServiceOptions {
  dataRoot: string;
  containersUsingImage: ContainersUsingImage;
  /** A layer store to share (the daemon passes the same one to the container lifecycle). */
  layers?: LayerStore;
  /**
   * Registry settings from daemon.json: insecure-registries, registry-mirrors,
   * max-concurrent-downloads (default 3), max-concurrent-uploads (default 5), and the
   * certs.d root (default /etc/wharf/certs.d).
   */
  registry?: RegistryServiceOptions;
  /** Where image actions are reported (GET /events). */
  events?: EventSink;
  /** Where best-effort failures (leftover clean-up) are logged. */
  log?: (msg: string) => void;
}

export interface RegistryServiceOptions extends ClientOptions {
  maxConcurrentDownloads?: number;
  maxConcurrentUploads?: number;
}

export class ImageCore {
  readonly layers: LayerStore;
  readonly images: ImageStore;
  readonly refs: ReferenceStore;
  private readonly lock = new KeyedMutex();
  readonly containersUsingImage: ContainersUsingImage;
  /** Registry client (tokens are cached here across pulls and pushes); replaced by a reload. */
  registry: RegistryClient;
  readonly distribution: DistributionMetadata;

  constructor(readonly opts: ImageServiceOptions) {
    const imageRoot = join(opts.dataRoot, 'image', 'overlay2');
    this.layers = opts.layers ?? LayerStore.forDataRoot(opts.dataRoot);
    this.images = new ImageStore(imageRoot);
    this.refs = new ReferenceStore(imageRoot);
    this.containersUsingImage = opts.containersUsingImage;
    this.registry = new RegistryClient(opts.registry);
    this.distribution = new DistributionMetadata(imageRoot);
    this.layers.onReleasedAfterGc = (chainId) => {
      this.releaseLayers([chainId]).catch((err) => this.log(`releasing layer ${chainId}: ${err}`));
    };
  }

  /** Logs a best-effort failure. */
  log(msg: string): void {
    this.opts.log?.(msg);
  }

  get tmpRoot(): string {
    return join(this.opts.dataRoot, 'tmp');
  }

  /** Runs `fn` holding the images lock (reference and image changes). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.lock.run('images', fn);
  }

  /** Docker's GetImage: full ID, tag/digest reference, then unique ID prefix. */
  async lookup(ref: string): Promise<string> {
    if (isFullImageId(ref)) {
      const id = ref.startsWith('sha256:') ? ref : `sha256:${ref}`;
      if (await this.images.has(id)) return id;
      throw notFound(`No such image: ${id}`);
    }
    let named: Reference;
    try {
      named = parseNormalizedNamed(ref);
    } catch (err) {
      // `sha256:abc` (a short ID with algorithm) is not a valid name but is a valid lookup.
      const id = ref.startsWith('sha256:') ? await this.images.search(ref) : null;
      if (id) return id;
      throw err;
    }
    const byRef = this.refs.get(named);
    if (byRef && (await this.images.has(byRef))) return byRef;
    const byPrefix = await this.images.search(ref);
    if (byPrefix) return byPrefix;
    throw notFound(`No such image: ${familiarString(withDefaultTag(named))}`);
  }

  async configOf(id: string): Promise<ImageConfigFile> {
    const img = await this.images.get(id);
    if (!img) throw notFound(`No such image: ${id}`);
    return img.config;
  }

  /** moby's GetImage with a platform: NotFound, naming both, when the image is for another one. */
  checkPlatform(ref: string, config: ImageConfigFile, want: Platform): void {
    const have = imagePlatform(config);
    if (!platformMatches(want, have)) {
      throw notFound(
        `image with reference ${ref} was found but its platform (${formatPlatform(normalizePlatform(have))}) does not match the specified platform (${formatPlatform(want)})`,
      );
    }
  }

  /** For the container daemon. Throws NotFound `No such image: <ref>`. */
  async resolve(ref: string, platform?: string): Promise<ResolvedImage> {
    const id = await this.lookup(ref);
    const config = await this.configOf(id);
    if (platform) this.checkPlatform(ref, config, parsePlatform(platform, hostPlatform()));
    return {
      id,
      config,
      topChainId: topChainId(config.rootfs?.diff_ids ?? []),
      references: this.refs.references(id).map(familiarString),
    };
  }

  /**
   * resolve() for a container about to be made from the image: its layers stay pinned (safe from
   * an image delete's layer collection) until `release()`, called once the container's RW layer
   * names them as its parent. Taken under the images lock, so a delete either finished before
   * (the image is gone: No such image) or collects after the pin.
   */
  resolveForUse(ref: string, platform?: string): Promise<{ image: ResolvedImage; release: () => void }> {
    return this.exclusive(async () => {
      const image = await this.resolve(ref, platform);
      let pinned = image.topChainId;
      if (pinned) this.layers.pin(pinned);
      const release = () => {
        if (pinned) this.layers.unpin(pinned);
        pinned = null;
      };
      return { image, release };
    });
  }

  tagsOf(id: string): string[] {
    return this.refs
      .references(id)
      .filter((r) => r.tag !== undefined && r.digest === undefined)
      .map(familiarString);
  }

  digestsOf(id: string): string[] {
    return this.refs
      .references(id)
      .filter((r) => r.digest !== undefined)
      .map((r) => `${familiarName(r)}@${r.digest}`);
  }

  async sizeOf(config: ImageConfigFile): Promise<number> {
    return this.layers.chainSize(topChainId(config.rootfs?.diff_ids ?? [])).catch(() => 0);
  }

  /**
   * Stores a config whose layers are all registered (and pinned by the caller), with its
   * `parent` (a built or committed image's, if that still exists: set under the same lock, so a
   * prune never sees the image without it), and points `refs` at it. Returns the ID and, for
   * refs that moved, the previous image. `tagTime: false` (a pull or load) leaves the image's
   * LastTagTime alone: Docker sets it only where it tags (tag, commit, import, build).
   */
  async registerImage(raw: Buffer, refs: Reference[], parent?: string, opts: { tagTime?: boolean } = {}): Promise<{ id: string; moved: Array<{ ref: Reference; previous: string }> }> {
    return this.exclusive(async () => {
      const config = JSON.parse(raw.toString('utf8')) as ImageConfigFile;
      const top = topChainId(config.rootfs?.diff_ids ?? []);
      if (top !== null && !(await this.layers.has(top))) throw invalidParameter(`layer ${top} is not registered`);
      const id = await this.images.create(raw);
      // A parent removed meanwhile (rmi -f of a container's image) is no link to keep.
      if (parent !== undefined && (await this.images.has(parent))) await this.images.setParent(id, parent);
      const moved: Array<{ ref: Reference; previous: string }> = [];
      for (const ref of refs) {
        const previous = await this.refs.add(ref, id, true);
        if (previous) moved.push({ ref, previous });
      }
      if (refs.length && opts.tagTime !== false) await this.images.setLastUpdated(id);
      // Images a moved tag left without references stay (dangling), as Docker does.
      return { id, moved };
    });
  }

  /** Records `parent` as the parent of the existing image `id` (a build's cache hit); NotFound when either went. */
  setParent(id: string, parent: string): Promise<void> {
    return this.exclusive(async () => {
      for (const x of [id, parent]) if (!(await this.images.has(x))) throw notFound(`No such image: ${x}`);
      await this.images.setParent(id, parent);
    });
  }

  /** Removes those of `chains` (and their ancestors) that no image, container or pin uses. */
  async releaseLayers(chains: string[]): Promise<void> {
    if (chains.length === 0) return;
    await this.exclusive(async () => {
      await this.layers.gc(chains, await this.topChains());
    });
  }

  /** Removes those of `chains` that no image (and no container) still uses; the images lock is held. */
  async gcLayers(chains: string[]): Promise<{ removed: string[]; reclaimed: number }> {
    if (chains.length === 0) return { removed: [], reclaimed: 0 };
    return this.layers.gc(chains.slice(-1), await this.topChains());
  }

  /** The top layer of every image: what layer collection keeps. */
  private async topChains(): Promise<string[]> {
    const keep: string[] = [];
    for (const other of await this.images.list()) {
      const cfg = (await this.images.get(other))?.config;
      const top = cfg ? topChainId(cfg.rootfs?.diff_ids ?? []) : null;
      if (top) keep.push(top);
    }
    return keep;
  }
}

/** Image config times are RFC 3339; the API shows unix seconds (0 when unset or invalid). */
export function unixSeconds(created: string | undefined): number {
  const t = created ? Date.parse(created) : NaN;
  return isNaN(t) ? 0 : Math.floor(t / 1000);
}

