/**
 * The image service: Docker's local image operations (import, load, save, list, inspect,
 * history, remove, tag, prune) over the image store, reference store and layer store, plus
 * resolve() for the container daemon. Registry pull/push live in distribution/ and use
 * layers.applyLayer() and registerImage().
 */
import { labelMatches, parseFilterTime } from '../lib/filters.js';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { ImageBackend, ImageImportOptions } from '../api/backend.js';
import type {
  Filters,
  ImageSearchResult,
  ImageConfigFile,
  ImageDeleteItem,
  ImageHistoryItem,
  ImageInspect,
  ImageSummary,
  ProgressMessage,
  PruneReport,
} from '../api/types.js';
import { conflict, invalidParameter, isEngineError, notFound } from '../lib/errors.js';
import { KeyedMutex } from '../lib/mutex.js';
import { shortId } from '../lib/ids.js';
import { applyChanges } from '../image/changes.js';
import { UnpackedArchive, writeArchive, type ArchiveImage } from '../image/docker-archive.js';
import { ImageStore } from '../image/image-store.js';
import { ReferenceStore } from '../image/reference-store.js';
import {
  familiarName,
  familiarString,
  isFullImageId,
  isValidTag,
  parseNormalizedNamed,
  withDefaultTag,
  type Reference,
} from '../image/reference.js';
import { chainIdOf, chainIds, sha256Digest, topChainId } from '../layer/chain-id.js';
import { LayerStore } from '../layer/layer-store.js';
import { credentialsOf } from '../distribution/auth-config.js';
import { RegistryClient, type ClientOptions } from '../distribution/client.js';
import { login } from '../distribution/login.js';
import { searchRegistry } from '../distribution/search.js';
import { formatPlatform, normalizePlatform, parsePlatform, platformMatches, type Platform } from '../distribution/manifest.js';
import { DistributionMetadata } from '../distribution/metadata.js';
import { listTags, pullImage, type PullContext } from '../distribution/pull.js';
import { pushImage } from '../distribution/push.js';
import type { ImagePullOptions, RegistryAuth } from '../api/backend.js';
import type { EventSink } from './events.js';

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
}

export interface RegistryServiceOptions extends ClientOptions {
  maxConcurrentDownloads?: number;
  maxConcurrentUploads?: number;
}

const GO_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
export const hostArch = (): string => GO_ARCH[process.arch] ?? process.arch;

const NEVER = '0001-01-01T00:00:00Z';
/** What Docker showed as ContainerConfig for an image without one (a zero-valued Go struct). */
const EMPTY_CONTAINER_CONFIG = {
  Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false,
  OpenStdin: false, StdinOnce: false, Env: null, Cmd: null, Image: '', Volumes: null, WorkingDir: '', Entrypoint: null,
  OnBuild: null, Labels: null,
};
const IMAGE_FILTERS = new Set(['dangling', 'label', 'before', 'since', 'reference', 'until']);

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const c of glob) {
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Docker's reference.FamiliarMatch: the pattern matches the familiar name or the familiar string. */
function familiarMatch(pattern: string, ref: Reference): boolean {
  const re = globToRegExp(pattern);
  return re.test(familiarName(ref)) || re.test(familiarString(ref));
}

function isTruthy(v: string): boolean {
  return v === 'true' || v === '1';
}

function unixSeconds(created: string | undefined): number {
  const t = created ? Date.parse(created) : NaN;
  return isNaN(t) ? 0 : Math.floor(t / 1000);
}


export class ImageService implements ImageBackend {
  readonly layers: LayerStore;
  readonly images: ImageStore;
  readonly refs: ReferenceStore;
  private readonly lock = new KeyedMutex();
  private readonly imageRoot: string;
  private readonly containersUsingImage: ContainersUsingImage;
  /** Registry client (tokens are cached here across pulls and pushes); replaced by a reload. */
  registry: RegistryClient;
  readonly distribution: DistributionMetadata;

  constructor(private readonly opts: ImageServiceOptions) {
    this.imageRoot = join(opts.dataRoot, 'image', 'overlay2');
    this.layers = opts.layers ?? LayerStore.forDataRoot(opts.dataRoot);
    this.images = new ImageStore(this.imageRoot);
    this.refs = new ReferenceStore(this.imageRoot);
    this.containersUsingImage = opts.containersUsingImage;
    this.registry = new RegistryClient(opts.registry);
    this.distribution = new DistributionMetadata(this.imageRoot);
  }

  /** Creates the directories and reads repositories.json (configs are read lazily). */
  /** New registry settings (a SIGHUP reload): pulls and pushes that start later use them. */
  reconfigureRegistry(registry: RegistryServiceOptions): void {
    this.opts.registry = registry;
    this.registry = new RegistryClient(registry);
  }

  async init(): Promise<void> {
    await this.layers.init();
    await this.images.init();
    await this.refs.load();
    await mkdir(this.tmpRoot, { recursive: true, mode: 0o700 });
    await this.removeStaleLoadDirs();
    // Leftovers of a crash mid-apply; not awaited so that startup stays fast.
    this.layers.removeOrphans().catch(() => {});
  }

  /**
   * Empties <data-root>/tmp, as dockerd does at start: what is there belongs to loads that a
   * crash or SIGTERM interrupted (no request runs yet).
   */
  private async removeStaleLoadDirs(): Promise<void> {
    // Only the load dirs: the builder keeps its own leftovers' marks here and removes them itself.
    for (const name of await readdir(this.tmpRoot).catch(() => [] as string[])) {
      if (!name.startsWith(LOAD_TMP_PREFIX)) continue;
      await rm(join(this.tmpRoot, name), { recursive: true, force: true }).catch(() => {}); // best effort: the next start tries again
    }
  }

  private get tmpRoot(): string {
    return join(this.opts.dataRoot, 'tmp');
  }

  /** Number of images, for GET /info. */
  count(): number {
    return this.images.count();
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.lock.run('images', fn);
  }

  // ---- lookup ----

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

  private async configOf(id: string): Promise<ImageConfigFile> {
    const img = await this.images.get(id);
    if (!img) throw notFound(`No such image: ${id}`);
    return img.config;
  }

  /** For the container daemon. Throws NotFound `No such image: <ref>`. */
  async resolve(ref: string, platform?: string): Promise<ResolvedImage> {
    const id = await this.lookup(ref);
    const config = await this.configOf(id);
    if (platform) {
      const want = parsePlatform(platform, this.hostPlatform());
      const have: Platform = { os: config.os || 'linux', architecture: config.architecture || hostArch(), ...(config.variant ? { variant: config.variant } : {}) };
      if (!platformMatches(want, have)) {
        throw notFound(
          `image with reference ${ref} was found but its platform (${formatPlatform(normalizePlatform(have))}) does not match the specified platform (${formatPlatform(want)})`,
        );
      }
    }
    return {
      id,
      config,
      topChainId: topChainId(config.rootfs?.diff_ids ?? []),
      references: this.refs.references(id).map(familiarString),
    };
  }

  private tagsOf(id: string): string[] {
    return this.refs
      .references(id)
      .filter((r) => r.tag !== undefined && r.digest === undefined)
      .map(familiarString);
  }

  private digestsOf(id: string): string[] {
    return this.refs
      .references(id)
      .filter((r) => r.digest !== undefined)
      .map((r) => `${familiarName(r)}@${r.digest}`);
  }

  private async sizeOf(config: ImageConfigFile): Promise<number> {
    return this.layers.chainSize(topChainId(config.rootfs?.diff_ids ?? [])).catch(() => 0);
  }

  // ---- registering images (import, load, and later pull/commit/build) ----

  /**
   * Stores a config whose layers are all registered (and pinned by the caller), and points
   * `refs` at it. Returns the ID and, for refs that moved, the previous image.
   */
  async registerImage(raw: Buffer, refs: Reference[]): Promise<{ id: string; moved: Array<{ ref: Reference; previous: string }> }> {
    return this.exclusive(async () => {
      const config = JSON.parse(raw.toString('utf8')) as ImageConfigFile;
      const top = topChainId(config.rootfs?.diff_ids ?? []);
      if (top !== null && !(await this.layers.has(top))) throw invalidParameter(`layer ${top} is not registered`);
      const id = await this.images.create(raw);
      const moved: Array<{ ref: Reference; previous: string }> = [];
      for (const ref of refs) {
        const previous = await this.refs.add(ref, id, true);
        if (previous) moved.push({ ref, previous });
      }
      if (refs.length) await this.images.setLastUpdated(id);
      // Images a moved tag left without references stay (dangling), as Docker does.
      return { id, moved };
    });
  }

  /** Removes those of `chains` (and their ancestors) that no image, container or pin uses. */
  async releaseLayers(chains: string[]): Promise<void> {
    if (chains.length === 0) return;
    await this.exclusive(async () => {
      const keep: string[] = [];
      for (const other of await this.images.list()) {
        const cfg = (await this.images.get(other))?.config;
        const top = cfg ? topChainId(cfg.rootfs?.diff_ids ?? []) : null;
        if (top) keep.push(top);
      }
      await this.layers.gc(chains, keep);
    });
  }

  // ---- registries ----

  private hostPlatform(): Platform {
    return { os: 'linux', architecture: hostArch(), ...(hostArch() === 'arm64' ? { variant: 'v8' } : {}) };
  }

  private pullContext(): PullContext {
    const r = this.opts.registry ?? {};
    return {
      client: this.registry,
      metadata: this.distribution,
      maxConcurrentDownloads: Math.max(1, r.maxConcurrentDownloads ?? 3),
      hostPlatform: this.hostPlatform(),
      sink: {
        layers: this.layers,
        referenceTarget: (ref) => this.refs.get(ref),
        hasImage: (id) => this.images.has(id),
        registerImage: (raw, refs) => this.registerImage(raw, refs.filter((r) => r.digest === undefined || !this.refs.get(r) || this.refs.get(r) === sha256Of(raw))),
        releaseLayers: (chains) => this.releaseLayers(chains),
        tmpRoot: this.tmpRoot,
      },
    };
  }

  /**
   * POST /images/create?fromImage= : Docker's pull. `tag` may be a tag or a digest; without
   * one (and none in `ref`) every tag of the repository is pulled.
   */
  async *pull(ref: string, tag: string | undefined, opts: ImagePullOptions, auth: RegistryAuth | undefined): AsyncIterable<ProgressMessage> {
    let named = parseNormalizedNamed(ref);
    if (tag) {
      if (/^[a-z0-9]+:[a-f0-9]{32,}$/i.test(tag)) {
        if (!/^sha256:[a-f0-9]{64}$/.test(tag)) throw invalidParameter('invalid digest format');
        named = { ...named, digest: tag };
      } else {
        if (!isValidTag(tag)) throw invalidParameter('invalid tag format');
        named = { ...named, tag };
      }
    }
    const creds = credentialsOf(auth);
    const ctx = this.pullContext();
    if (named.tag !== undefined || named.digest !== undefined) {
      yield* pullImage(ctx, { ref: named, ...(opts.platform ? { platform: opts.platform } : {}), ...(creds ? { creds } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
      this.opts.events?.log('image', 'pull', { ID: familiarString(named), Attributes: { name: familiarString(named) } });
      return;
    }
    // All tags: one pull per tag, then Docker's summary line for the repository.
    const tags = await listTags(ctx, named, creds);
    let newer = false;
    for (const t of tags) {
      opts.signal?.throwIfAborted();
      for await (const m of pullImage(ctx, { ref: { ...named, tag: t }, ...(opts.platform ? { platform: opts.platform } : {}), ...(creds ? { creds } : {}), ...(opts.signal ? { signal: opts.signal } : {}) })) {
        if (m.status?.startsWith('Status: ')) {
          newer ||= m.status.startsWith('Status: Downloaded newer image');
          continue;
        }
        yield m;
      }
      this.opts.events?.log('image', 'pull', { ID: familiarString({ ...named, tag: t }), Attributes: { name: familiarString({ ...named, tag: t }) } });
    }
    yield { status: newer ? `Status: Downloaded newer image for ${familiarName(named)}` : `Status: Image is up to date for ${familiarName(named)}` };
  }

  /** POST /images/{name}/push : pushes a tag, or every tag of the repository when none is given. */
  async *push(name: string, tag: string | undefined, auth: RegistryAuth | undefined): AsyncIterable<ProgressMessage> {
    let named = parseNormalizedNamed(name);
    if (named.digest !== undefined) throw invalidParameter('cannot push a digest reference');
    if (tag) {
      if (!isValidTag(tag)) throw invalidParameter('invalid tag format');
      named = { ...named, tag };
    }
    const repo: Reference = { domain: named.domain, path: named.path };
    const resolveTags = async (): Promise<Array<{ tag: string; id: string }>> => {
      if (named.tag !== undefined) {
        const id = this.refs.get(named);
        if (!id) {
          // As Docker: a repository with no local tag at all, else the one tag that is missing.
          const known = this.refs.all().some((a) => a.ref.domain === repo.domain && a.ref.path === repo.path);
          throw notFound(known ? `tag does not exist: ${familiarString(named)}` : `An image does not exist locally with the tag: ${familiarName(repo)}`);
        }
        return [{ tag: named.tag, id }];
      }
      const all = this.refs
        .all()
        .filter((a) => a.ref.tag !== undefined && a.ref.digest === undefined && a.ref.domain === repo.domain && a.ref.path === repo.path)
        .sort((a, b) => (a.ref.tag! < b.ref.tag! ? -1 : 1));
      if (all.length === 0) throw notFound(`An image does not exist locally with the tag: ${familiarName(repo)}`);
      return all.map((a) => ({ tag: a.ref.tag!, id: a.id }));
    };
    yield* pushImage(
      {
        client: this.registry,
        metadata: this.distribution,
        maxConcurrentUploads: Math.max(1, this.opts.registry?.maxConcurrentUploads ?? 5),
        source: {
          layers: this.layers,
          rawConfig: (id) => this.images.raw(id),
          addReference: async (ref, id) => {
            await this.exclusive(() => this.refs.add(ref, id, true));
          },
        },
      },
      repo,
      resolveTags,
      credentialsOf(auth),
    );
    this.opts.events?.log('image', 'push', { ID: familiarString(named), Attributes: { name: familiarString(named) } });
  }

  async search(term: string, opts: { limit?: number; filters: Filters; auth?: RegistryAuth; signal?: AbortSignal }): Promise<ImageSearchResult[]> {
    return searchRegistry(this.registry.resolver, term, { ...opts, userAgent: this.registry.userAgent });
  }

  /** POST /auth */
  async login(auth: RegistryAuth): Promise<{ Status: string; IdentityToken: string }> {
    return login(this.registry, auth);
  }

  // ---- ImageBackend ----

  async *importImage(src: Readable, opts: ImageImportOptions): AsyncIterable<ProgressMessage> {
    let ref: Reference | null = null;
    if (opts.repo) {
      ref = parseNormalizedNamed(opts.repo);
      if (ref.digest !== undefined) throw invalidParameter('cannot import digest reference');
      if (opts.tag) {
        if (!isValidTag(opts.tag)) throw invalidParameter('invalid tag format');
        ref = { ...ref, tag: opts.tag };
      }
      ref = withDefaultTag(ref);
    }
    const containerConfig = applyChanges(opts.changes);
    const os = 'linux';
    let architecture = hostArch();
    let variant: string | undefined;
    if (opts.platform) {
      const [pOs, pArch, pVariant] = opts.platform.split('/');
      if (pOs && pOs !== 'linux') throw invalidParameter(`operating system is not supported: ${pOs}`);
      if (pArch) architecture = pArch;
      variant = pVariant;
    }
    const layer = await this.layers.applyLayer(null, src);
    let id: string;
    try {
      const created = new Date().toISOString();
      const msg = opts.message || 'Imported from -';
      const config: ImageConfigFile = {
        architecture,
        comment: msg,
        config: containerConfig,
        created,
        history: [{ created, comment: msg }],
        os,
        rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      };
      if (variant) config.variant = variant;
      ({ id } = await this.registerImage(Buffer.from(JSON.stringify(config)), ref ? [ref] : []));
    } finally {
      this.layers.unpin(layer.chainId);
    }
    this.opts.events?.log('image', 'import', { ID: id, Attributes: { name: id } });
    yield { status: id };
  }

  async *load(src: Readable, opts: { quiet: boolean; signal?: AbortSignal }): AsyncIterable<ProgressMessage> {
    const signal = opts.signal;
    await mkdir(this.tmpRoot, { recursive: true, mode: 0o700 });
    const tmp = await mkdtemp(join(this.tmpRoot, LOAD_TMP_PREFIX));
    try {
      const archive = await UnpackedArchive.unpack(src, tmp, signal);
      const items = await archive.manifest(signal);
      for (const item of items) {
        signal?.throwIfAborted();
        const raw = await archive.read(item.Config);
        let config: ImageConfigFile;
        try {
          config = JSON.parse(raw.toString('utf8')) as ImageConfigFile;
        } catch {
          throw invalidParameter(`invalid image config ${item.Config}`);
        }
        const diffIds = diffIdsOf(config, item.Config);
        if (diffIds.length !== item.Layers.length) {
          throw invalidParameter(`invalid manifest, layers length mismatch: expected ${diffIds.length}, got ${item.Layers.length}`);
        }
        const refs: Reference[] = [];
        for (const tag of item.RepoTags ?? []) {
          const r = parseNormalizedNamed(tag);
          if (r.tag === undefined || r.digest !== undefined) throw invalidParameter(`invalid tag ${JSON.stringify(tag)}`);
          refs.push(r);
        }
        const pinned: string[] = [];
        const messages: ProgressMessage[] = [];
        let id: string;
        try {
          let parent: string | null = null;
          for (let i = 0; i < diffIds.length; i++) {
            const chain = chainIdOf(parent, diffIds[i]!);
            if (await this.layers.has(chain)) {
              this.layers.pin(chain);
              pinned.push(chain);
              parent = chain;
              continue;
            }
            signal?.throwIfAborted();
            const applied = await this.layers.applyLayer(parent, await archive.open(item.Layers[i]!));
            pinned.push(applied.chainId);
            if (applied.diffId !== diffIds[i]) {
              throw invalidParameter(`invalid diffID for layer ${i}: expected "${diffIds[i]}", got "${applied.diffId}"`);
            }
            parent = applied.chainId;
          }
          const res = await this.registerImage(raw, refs);
          id = res.id;
          for (const m of res.moved) {
            messages.push({
              stream: `The image ${familiarString(m.ref)} already exists, renaming the old one with ID ${m.previous} to empty string\n`,
            });
          }
        } catch (err) {
          for (const c of pinned) this.layers.unpin(c);
          pinned.length = 0;
          await this.exclusive(() => this.gcLayers(chainIds(diffIds))).catch(() => {});
          throw err;
        } finally {
          for (const c of pinned) this.layers.unpin(c);
        }
        this.opts.events?.log('image', 'load', { ID: id, Attributes: { name: id } });
        for (const m of messages) yield m;
        if (refs.length) for (const r of refs) yield { stream: `Loaded image: ${familiarString(r)}\n` };
        else yield { stream: `Loaded image ID: ${id}\n` };
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  async save(names: string[], out: Writable): Promise<void> {
    // Resolve everything first, so errors surface before any byte is written.
    const wanted = new Map<string, Reference[]>();
    const addAssoc = (id: string, ref: Reference | null) => {
      const list = wanted.get(id) ?? [];
      if (ref && ref.tag !== undefined && ref.digest === undefined && !list.some((r) => familiarString(r) === familiarString(ref))) list.push(ref);
      wanted.set(id, list);
    };
    for (const name of names) {
      if (isFullImageId(name)) {
        addAssoc(await this.lookup(name), null);
        continue;
      }
      let named: Reference | null = null;
      try {
        named = parseNormalizedNamed(name);
      } catch {
        named = null;
      }
      if (named && named.tag === undefined && named.digest === undefined) {
        const assocs = this.refs.all().filter((a) => familiarName(a.ref) === familiarName(named!) && a.ref.tag !== undefined);
        for (const a of assocs) addAssoc(a.id, a.ref);
        if (assocs.length === 0) addAssoc(await this.lookup(name), null);
        continue;
      }
      const id = await this.lookup(name);
      addAssoc(id, named && this.refs.get(named) === id ? withDefaultTag(named) : null);
    }
    const images: ArchiveImage[] = [];
    for (const [id, refs] of wanted) {
      const config = await this.configOf(id);
      const diffIds = config.rootfs?.diff_ids ?? [];
      if (diffIds.length === 0) throw invalidParameter('empty export - not implemented');
      const chains = chainIds(diffIds);
      const layers = [];
      for (let i = 0; i < diffIds.length; i++) {
        const chain = chains[i];
        layers.push({ diffId: diffIds[i]!, size: await this.layers.tarSize(chain!), open: () => this.layers.tarStream(chain!) });
      }
      images.push({
        id,
        config: await this.images.raw(id),
        refs,
        layers,
        os: config.os,
        architecture: config.architecture,
        variant: config.variant,
      });
    }
    await writeArchive(images, out);
    for (const img of images) this.opts.events?.log('image', 'save', { ID: img.id, Attributes: { name: img.id } });
  }

  async list(opts: { all: boolean; filters: Filters; digests: boolean }): Promise<ImageSummary[]> {
    const f = opts.filters ?? {};
    for (const key of Object.keys(f)) if (!IMAGE_FILTERS.has(key)) throw invalidParameter(`invalid filter '${key}'`);
    let danglingOnly = false;
    if (f.dangling?.length) {
      const v = f.dangling[0];
      if (!['true', 'false', '1', '0'].includes(v!)) throw invalidParameter(`invalid filter 'dangling=${v}'`);
      danglingOnly = isTruthy(v!);
    }
    let beforeTime = Infinity;
    let sinceTime = -Infinity;
    for (const b of f.before ?? []) beforeTime = Math.min(beforeTime, unixSeconds((await this.configOf(await this.lookup(b))).created));
    for (const s of f.since ?? []) sinceTime = Math.max(sinceTime, unixSeconds((await this.configOf(await this.lookup(s))).created));
    let untilTime = Infinity;
    for (const u of f.until ?? []) untilTime = Math.min(untilTime, parseFilterTime(u));

    const out: ImageSummary[] = [];
    const ids = await this.images.list();
    // Untagged images that are another image's parent are intermediate: shown only with `all`.
    const parents = new Set<string>();
    if (!opts.all) for (const id of ids) parents.add(await this.images.parent(id));
    for (const id of ids) {
      const config = await this.configOf(id);
      const created = unixSeconds(config.created);
      if (!(created < beforeTime && created > sinceTime && created < untilTime)) continue;
      const labels = config.config?.Labels ?? {};
      if (f.label?.length && !f.label.every((l) => labelMatches(labels, l))) continue;
      const repoTags: string[] = [];
      const repoDigests: string[] = [];
      for (const ref of this.refs.references(id)) {
        if (f.reference?.length && !f.reference.some((p) => familiarMatch(p, ref))) continue;
        if (ref.digest !== undefined) repoDigests.push(`${familiarName(ref)}@${ref.digest}`);
        else repoTags.push(familiarString(ref));
      }
      if (repoTags.length === 0 && repoDigests.length === 0) {
        if (parents.has(id)) continue;
        if (f.dangling?.length && !danglingOnly) continue;
        if (f.reference?.length) continue;
      } else if (danglingOnly && repoTags.length > 0) continue;
      out.push({
        Containers: -1,
        Created: created,
        Id: id,
        Labels: labels,
        ParentId: await this.images.parent(id),
        RepoDigests: repoDigests,
        RepoTags: repoTags,
        SharedSize: -1,
        Size: await this.sizeOf(config),
      });
    }
    return out.sort((a, b) => b.Created - a.Created);
  }

  async inspect(ref: string): Promise<ImageInspect> {
    const id = await this.lookup(ref);
    const config = await this.configOf(id);
    const top = topChainId(config.rootfs?.diff_ids ?? []);
    const size = await this.sizeOf(config);
    const inspect: ImageInspect = {
      Id: id,
      RepoTags: this.tagsOf(id),
      RepoDigests: this.digestsOf(id),
      Parent: await this.images.parent(id),
      Comment: config.comment ?? '',
      Created: config.created ?? '',
      DockerVersion: config.docker_version ?? '',
      Author: config.author ?? '',
      Config: config.config ?? {},
      Architecture: config.architecture,
      Os: config.os,
      Size: size,
      GraphDriver: { Name: 'overlay2', Data: top ? await this.layers.graphDriverData(top) : null },
      RootFS: { Type: 'layers', Layers: config.rootfs?.diff_ids ?? [] },
      Metadata: { LastTagTime: (await this.images.lastUpdated(id)) ?? NEVER },
    };
    if (config.variant) inspect.Variant = config.variant;
    inspect.Container = config.container ?? '';
    inspect.ContainerConfig = config.container_config ?? EMPTY_CONTAINER_CONFIG;
    return inspect;
  }

  async history(ref: string): Promise<ImageHistoryItem[]> {
    const id = await this.lookup(ref);
    const config = await this.configOf(id);
    const diffIds = config.rootfs?.diff_ids ?? [];
    const chains = chainIds(diffIds);
    const out: ImageHistoryItem[] = [];
    let layer = 0;
    for (const h of config.history ?? []) {
      let size = 0;
      if (!h.empty_layer) {
        if (layer >= diffIds.length) throw invalidParameter('too many non-empty layers in History section');
        size = (await this.layers.get(chains[layer]!))?.size ?? 0;
        layer++;
      }
      out.unshift({ Id: '<missing>', Created: unixSeconds(h.created), CreatedBy: h.created_by ?? '', Tags: null, Size: size, Comment: h.comment ?? '' });
    }
    if (out.length) {
      out[0]!.Id = id;
      const tags = this.tagsOf(id);
      out[0]!.Tags = tags.length ? tags : null;
    }
    return out;
  }

  async tag(ref: string, repo: string, tag?: string): Promise<void> {
    if (!repo) throw invalidParameter('repository name must have at least one component');
    let target = parseNormalizedNamed(repo);
    if (target.digest !== undefined) throw invalidParameter('cannot tag a digest reference');
    if (tag) {
      if (!isValidTag(tag)) throw invalidParameter('invalid tag format');
      target = { ...target, tag };
    }
    target = withDefaultTag(target);
    if (familiarName(target) === 'sha256') throw invalidParameter('refusing to create an ambiguous tag using digest algorithm as name');
    await this.exclusive(async () => {
      const id = await this.lookup(ref);
      await this.refs.add(target, id, true);
      await this.images.setLastUpdated(id);
      this.opts.events?.log('image', 'tag', { ID: id, Attributes: { name: familiarString(target) } });
    });
  }

  async remove(ref: string, opts: { force: boolean; noprune: boolean }): Promise<ImageDeleteItem[]> {
    const id = await this.lookup(ref).catch(() => undefined);
    const records = await this.exclusive(async () => {
      // Read before the delete drops the image's metadata.
      const parent = id ? await this.images.parent(id) : '';
      const out = await this.removeLocked(ref, opts.force);
      if (id && parent && !opts.noprune && out.some((r) => r.Deleted === id)) await this.pruneParents(parent, out);
      return out;
    });
    for (const r of records) if (id && (r.Untagged || r.Deleted === id)) this.opts.events?.log('image', r.Untagged ? 'untag' : 'delete', { ID: id, Attributes: { name: id } });
    return records;
  }

  /**
   * Docker's parent pruning after a delete: the deleted image's parents (a build's intermediate
   * images, a commit's base) go too while they are untagged, unused by containers and have no
   * other child. Called with the images lock held, with the deleted image's parent.
   */
  private async pruneParents(first: string, records: ImageDeleteItem[]): Promise<void> {
    let parent = first;
    while (parent && (await this.images.has(parent))) {
      if (this.refs.references(parent).length > 0 || this.containersUsingImage(parent).length > 0) return;
      for (const other of await this.images.list()) {
        if (other !== parent && (await this.images.parent(other)) === parent) return;
      }
      const next = await this.images.parent(parent);
      await this.deleteImage(parent, records);
      this.opts.events?.log('image', 'delete', { ID: parent, Attributes: { name: parent } });
      parent = next;
    }
  }

  /** Docker's ImageDelete: untag when a reference was given, delete when the last one goes. */
  private async removeLocked(ref: string, force: boolean): Promise<ImageDeleteItem[]> {
    const id = await this.lookup(ref);
    const records: ImageDeleteItem[] = [];
    let repoRefs = this.refs.references(id);
    const users = this.containersUsingImage(id);
    const hasChildren = await this.hasChildren(id);
    let quiet = false;
    if (!isImageIdPrefix(id, ref)) {
      // Untagging one of several references leaves the image tagged, so only the last one needs force.
      if (!force && users.length && isSingleReference(repoRefs)) {
        throw conflict(
          `conflict: unable to remove repository reference "${ref}" (must force) - container ${shortId(users[0]!.id)} is using its referenced image ${shortId(id)}`,
        );
      }
      const parsed = withDefaultTag(parseNormalizedNamed(ref));
      await this.refs.delete(parsed);
      records.push({ Untagged: familiarString(parsed) });
      repoRefs = this.refs.references(id);
      if (parsed.digest === undefined) {
        const sameRepoTag = repoRefs.some((r) => r.digest === undefined && familiarName(r) === familiarName(parsed));
        if (!sameRepoTag) {
          const remaining: Reference[] = [];
          for (const r of repoRefs) {
            if (r.digest !== undefined && familiarName(r) === familiarName(parsed)) {
              await this.refs.delete(r);
              records.push({ Untagged: familiarString(r) });
            } else remaining.push(r);
          }
          repoRefs = remaining;
        }
      }
      if (repoRefs.length > 0) return records;
      quiet = true;
    } else if (isSingleReference(repoRefs)) {
      const c = this.conflictOf(id, users, hasChildren, repoRefs, force ? HARD : HARD | STOPPED);
      if (c) throw c;
      for (const r of repoRefs) {
        await this.refs.delete(r);
        records.push({ Untagged: familiarString(r) });
      }
    }
    const c = this.conflictOf(id, users, hasChildren, this.refs.references(id), force ? HARD : HARD | SOFT);
    if (c) {
      // After an untag, a remaining conflict only means the image stays (Docker's quiet mode).
      if (quiet && (users.length > 0 || hasChildren)) return records;
      throw c;
    }
    await this.deleteImage(id, records);
    return records;
  }

  /** Whether another image names `id` as its parent (a build's steps, a commit's base). */
  private async hasChildren(id: string): Promise<boolean> {
    for (const other of await this.images.list()) if (other !== id && (await this.images.parent(other)) === id) return true;
    return false;
  }

  private conflictOf(id: string, users: ImageUser[], hasChildren: boolean, refs: Reference[], mask: number): Error | null {
    if (mask & DEPENDENT_CHILD && hasChildren) {
      return conflict(`conflict: unable to delete ${shortId(id)} (cannot be forced) - image has dependent child images`);
    }
    const running = users.find((u) => u.running);
    if (mask & RUNNING && running) {
      return conflict(`conflict: unable to delete ${shortId(id)} (cannot be forced) - image is being used by running container ${shortId(running.id)}`);
    }
    if (mask & ACTIVE_REF && refs.length > 0) {
      return conflict(`conflict: unable to delete ${shortId(id)} (must be forced) - image is referenced in multiple repositories`);
    }
    const stopped = users.find((u) => !u.running);
    if (mask & STOPPED && stopped) {
      return conflict(`conflict: unable to delete ${shortId(id)} (must be forced) - image is being used by stopped container ${shortId(stopped.id)}`);
    }
    return null;
  }

  /** Removes every reference, the config, and the layers nothing else uses. */
  private async deleteImage(id: string, records: ImageDeleteItem[]): Promise<number> {
    for (const r of this.refs.references(id)) {
      await this.refs.delete(r);
      records.push({ Untagged: familiarString(r) });
    }
    const config = await this.configOf(id);
    await this.images.delete(id);
    records.push({ Deleted: id });
    const { removed, reclaimed } = await this.gcLayers(chainIds(config.rootfs?.diff_ids ?? []));
    for (const c of removed) records.push({ Deleted: c });
    return reclaimed;
  }

  /** Removes those of `chains` that no image (and no container) still uses. */
  private async gcLayers(chains: string[]): Promise<{ removed: string[]; reclaimed: number }> {
    if (chains.length === 0) return { removed: [], reclaimed: 0 };
    const keep: string[] = [];
    for (const other of await this.images.list()) {
      const cfg = (await this.images.get(other))?.config;
      const top = cfg ? topChainId(cfg.rootfs?.diff_ids ?? []) : null;
      if (top) keep.push(top);
    }
    return this.layers.gc([chains[chains.length - 1]!], keep);
  }

  async prune(filters: Filters): Promise<PruneReport> {
    const f = filters ?? {};
    for (const key of Object.keys(f)) {
      if (!['dangling', 'label', 'label!', 'until'].includes(key)) throw invalidParameter(`invalid filter '${key}'`);
    }
    const danglingOnly = f.dangling?.length ? isTruthy(f.dangling[0]!) : true;
    let untilTime = Infinity;
    for (const u of f.until ?? []) untilTime = Math.min(untilTime, parseFilterTime(u));
    return this.exclusive(async () => {
      const deleted: ImageDeleteItem[] = [];
      let reclaimed = 0;
      for (const id of await this.images.list()) {
        if (this.containersUsingImage(id).length > 0) continue;
        const config = await this.configOf(id);
        if (unixSeconds(config.created) >= untilTime) continue;
        const labels = config.config?.Labels ?? {};
        if (f.label?.length && !f.label.every((l) => labelMatches(labels, l))) continue;
        if (f['label!']?.length && f['label!'].some((l) => labelMatches(labels, l))) continue;
        const tags = this.refs.references(id).filter((r) => r.digest === undefined);
        if (danglingOnly && tags.length > 0) continue;
        try {
          reclaimed += await this.deleteImage(id, deleted);
        } catch (err) {
          if (!isEngineError(err, 'Conflict')) throw err;
        }
      }
      return { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
    });
  }
}

/** Prefix of the private dir a load unpacks its archive into, below <data-root>/tmp. */
const LOAD_TMP_PREFIX = 'docker-import-';

/** rootfs.diff_ids of a loaded config, checked to be a list of sha256 digests. */
function diffIdsOf(config: ImageConfigFile, where: string): string[] {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw invalidParameter(`invalid image config ${where}`);
  const ids: unknown = config.rootfs?.diff_ids ?? [];
  if (!Array.isArray(ids) || !ids.every((d) => typeof d === 'string' && /^sha256:[a-f0-9]{64}$/.test(d))) {
    throw invalidParameter(`invalid image config ${where}: rootfs.diff_ids must be a list of sha256 digests`);
  }
  return ids as string[];
}

function sha256Of(raw: Buffer): string {
  return sha256Digest(raw);
}

const RUNNING = 1;
const DEPENDENT_CHILD = 2;
const ACTIVE_REF = 4;
const STOPPED = 8;
const HARD = RUNNING | DEPENDENT_CHILD;
const SOFT = ACTIVE_REF | STOPPED;

function isImageIdPrefix(id: string, ref: string): boolean {
  return id.startsWith(ref) || id.slice('sha256:'.length).startsWith(ref);
}

/** Docker's isSingleReference: one tag (plus digests of the same repository) at most. */
function isSingleReference(refs: Reference[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  let single: Reference | null = null;
  const canonical = new Set<string>();
  for (const r of refs) {
    if (r.digest !== undefined) canonical.add(familiarName(r));
    else if (single === null) single = r;
    else return false;
  }
  single ??= refs[0]!;
  return canonical.size === 1 && canonical.has(familiarName(single));
}

/** Filter timestamps: unix seconds (fractional), RFC 3339, or a Go duration ago (`10m`, `24h`). */
