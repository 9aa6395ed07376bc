/**
 * The image service: implements the API's ImageBackend over the image, reference and layer
 * stores (ImageCore, core.ts), one module per verb as moby's daemon/images does: list, inspect
 * (and history), tag, remove (and prune), archive (import, load, save), registry (pull, push,
 * search, login). resolve() serves the container lifecycle.
 */
import { mkdir } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import type { ImageBackend, ImageImportOptions, ImagePullOptions, RegistryAuth } from '../../api/backend.js';
import type {
  DistributionInspect,
  Filters,
  ImageDeleteItem,
  ImageHistoryItem,
  ImageInspect,
  ImageSearchResult,
  PluginPrivilege,
  ImageSummary,
  OciPlatform,
  ProgressMessage,
  PruneReport,
} from '../../api/types.js';
import type { ImageStore } from '../../image/image-store.js';
import type { ReferenceStore } from '../../image/reference-store.js';
import type { Reference } from '../../image/reference.js';
import type { LayerStore } from '../../layer/layer-store.js';
import { RegistryClient } from '../../distribution/client.js';
import type { DistributionMetadata } from '../../distribution/metadata.js';
import { importImage, loadImages, removeStaleLoadDirs, saveImages } from './archive.js';
import { ImageCore, type ImageServiceOptions, type RegistryServiceOptions, type ResolvedImage } from './core.js';
import { imageHistory, inspectImage } from './inspect.js';
import { listImages } from './list.js';
import { distributionInspect, loginRegistry, pluginPrivilegesOf, pullImages, pushImages, searchImages } from './registry.js';
import { pruneImages, removeImage } from './remove.js';
import { tagImage } from './tag.js';

export type { ImageServiceOptions, ImageUser, RegistryServiceOptions, ResolvedImage } from './core.js';

export class ImageService implements ImageBackend {
  private readonly c: ImageCore;
  readonly layers: LayerStore;
  readonly images: ImageStore;
  readonly refs: ReferenceStore;
  readonly distribution: DistributionMetadata;

  constructor(opts: ImageServiceOptions) {
    this.c = new ImageCore(opts);
    this.layers = this.c.layers;
    this.images = this.c.images;
    this.refs = this.c.refs;
    this.distribution = this.c.distribution;
  }

  /** Registry client (tokens are cached here across pulls and pushes); replaced by a reload. */
  get registry(): RegistryClient {
    return this.c.registry;
  }

  /** New registry settings (a SIGHUP reload): pulls and pushes that start later use them. */
  reconfigureRegistry(registry: RegistryServiceOptions): void {
    this.c.opts.registry = registry;
    this.c.registry = new RegistryClient(registry);
  }

  /** Creates the directories and reads repositories.json (configs are read lazily). */
  async init(): Promise<void> {
    await this.layers.init();
    await this.images.init();
    await this.refs.load();
    await mkdir(this.c.tmpRoot, { recursive: true, mode: 0o700 });
    await removeStaleLoadDirs(this.c);
    // Leftovers of a crash mid-apply; not awaited so that startup stays fast.
    this.layers.removeOrphans().catch((err) => this.c.log(`removing leftover layer dirs: ${err}`));
  }

  /** Number of images, for GET /info. */
  count(): number {
    return this.images.count();
  }

  /** Docker's GetImage: full ID, tag/digest reference, then unique ID prefix. */
  lookup(ref: string): Promise<string> {
    return this.c.lookup(ref);
  }
  /** For the container daemon. Throws NotFound `No such image: <ref>`. */
  resolve(ref: string, platform?: string): Promise<ResolvedImage> {
    return this.c.resolve(ref, platform);
  }
  resolveForUse(ref: string, platform?: string): Promise<{ image: ResolvedImage; release: () => void }> {
    return this.c.resolveForUse(ref, platform);
  }
  async descendants(id: string): Promise<string[]> {
    const children = new Map<string, string[]>();
    for (const other of await this.images.list()) {
      const parent = await this.images.parent(other);
      if (parent) children.set(parent, [...(children.get(parent) ?? []), other]);
    }
    const out = new Set<string>();
    const queue = [id];
    for (let cur = queue.shift(); cur !== undefined; cur = queue.shift()) {
      for (const child of children.get(cur) ?? []) {
        if (out.has(child) || child === id) continue;
        out.add(child);
        queue.push(child);
      }
    }
    return [...out];
  }
  registerImage(raw: Buffer, refs: Reference[], parent?: string): Promise<{ id: string; moved: Array<{ ref: Reference; previous: string }> }> {
    return this.c.registerImage(raw, refs, parent);
  }
  setParent(id: string, parent: string): Promise<void> {
    return this.c.setParent(id, parent);
  }
  releaseLayers(chains: string[]): Promise<void> {
    return this.c.releaseLayers(chains);
  }

  pull(ref: string, tag: string | undefined, opts: ImagePullOptions, auth: RegistryAuth | undefined): AsyncIterable<ProgressMessage> {
    return pullImages(this.c, ref, tag, opts, auth);
  }
  push(name: string, tag: string | undefined, auth: RegistryAuth | undefined): AsyncIterable<ProgressMessage> {
    return pushImages(this.c, name, tag, auth);
  }
  distributionInspect(ref: string, auth: RegistryAuth | undefined): Promise<DistributionInspect> {
    return distributionInspect(this.c, ref, auth);
  }
  search(term: string, opts: { limit?: number; filters: Filters; auth?: RegistryAuth; signal?: AbortSignal }): Promise<ImageSearchResult[]> {
    return searchImages(this.c, term, opts);
  }
  pluginPrivileges(remote: string, auth: RegistryAuth | undefined): Promise<PluginPrivilege[] | null> {
    return pluginPrivilegesOf(this.c, remote, auth);
  }
  /** POST /auth */
  login(auth: RegistryAuth): Promise<{ Status: string; IdentityToken: string }> {
    return loginRegistry(this.c, auth);
  }

  importImage(src: Readable | { url: string }, opts: ImageImportOptions): AsyncIterable<ProgressMessage> {
    return importImage(this.c, src, opts);
  }
  load(src: Readable, opts: { quiet: boolean; signal?: AbortSignal; platform?: OciPlatform }): AsyncIterable<ProgressMessage> {
    return loadImages(this.c, src, opts);
  }
  save(names: string[], out: Writable, platform?: OciPlatform): Promise<void> {
    return saveImages(this.c, names, out, platform);
  }
  list(opts: { all: boolean; filters: Filters; digests: boolean }): Promise<ImageSummary[]> {
    return listImages(this.c, opts);
  }
  inspect(ref: string, platform?: OciPlatform): Promise<ImageInspect> {
    return inspectImage(this.c, ref, platform);
  }
  history(ref: string, platform?: OciPlatform): Promise<ImageHistoryItem[]> {
    return imageHistory(this.c, ref, platform);
  }
  tag(ref: string, repo: string, tag?: string): Promise<void> {
    return tagImage(this.c, ref, repo, tag);
  }
  remove(ref: string, opts: { force: boolean; noprune: boolean }): Promise<ImageDeleteItem[]> {
    return removeImage(this.c, ref, opts);
  }
  prune(filters: Filters): Promise<PruneReport> {
    return pruneImages(this.c, filters);
  }
}
