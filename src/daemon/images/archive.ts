/**
 * Images in and out as archives: POST /images/create?fromSrc= (import), POST /images/load and
 * GET /images/get (save), as docker-archive tars (image/docker-archive.ts).
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { ImageImportOptions } from '../../api/backend.js';
import type { ImageConfigFile, OciPlatform, ProgressMessage } from '../../api/types.js';
import { applyChanges } from '../../image/changes.js';
import { parseImageConfig } from '../../image/config-shape.js';
import { UnpackedArchive, writeArchive, type ArchiveImage } from '../../image/docker-archive.js';
import { familiarName, familiarString, isFullImageId, isValidTag, parseNormalizedNamed, withDefaultTag, type Reference } from '../../image/reference.js';
import { chainIdOf, chainIds } from '../../layer/chain-id.js';
import { invalidParameter, systemError } from '../../lib/errors.js';
import { rfc3339NanoNow } from '../../lib/wall-clock.js';
import type { ImageCore } from './core.js';
import { openImportUrl } from './import-url.js';
import { hostArch, hostPlatform, imagePlatform, requestedPlatform } from './platform.js';
import { formatPlatform, parsePlatform, platformMatchesStrict } from '../../distribution/manifest.js';

/** Prefix of the private dir a load unpacks its archive into, below <data-root>/tmp. */
const LOAD_TMP_PREFIX = 'docker-import-';

/**
 * Empties <data-root>/tmp, as dockerd does at start: what is there belongs to loads that a
 * crash or SIGTERM interrupted (no request runs yet).
 */
export async function removeStaleLoadDirs(c: ImageCore): Promise<void> {
  // Only the load dirs: the builder keeps its own leftovers' marks here and removes them itself.
  for (const name of await readdir(c.tmpRoot).catch(() => [] as string[])) {
    if (!name.startsWith(LOAD_TMP_PREFIX)) continue;
    await rm(join(c.tmpRoot, name), { recursive: true, force: true }).catch(() => {}); // best effort: the next start tries again
  }
}


/** `src`: the tarball (fromSrc=-), or the URL the daemon fetches it from. */
export async function* importImage(c: ImageCore, src: Readable | { url: string }, opts: ImageImportOptions): AsyncIterable<ProgressMessage> {
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
    const p = parsePlatform(opts.platform, hostPlatform());
    if (p.os !== 'linux') throw invalidParameter('operating system is not supported');
    architecture = p.architecture;
    // Only a variant the caller names is recorded (normalisation's implied arm64 v8 is not).
    variant = opts.platform.split('/')[2]?.toLowerCase();
  }
  let tarball: Readable;
  if ('url' in src) {
    const fetched = await openImportUrl(src.url, opts.signal);
    yield { status: `Downloading from ${fetched.url}` };
    tarball = fetched.body;
  } else tarball = src;
  const layer = await c.layers.applyLayer(null, tarball);
  let id: string;
  try {
    const created = rfc3339NanoNow();
    const msg = opts.message || `Imported from ${'url' in src ? src.url : '-'}`;
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
    ({ id } = await c.registerImage(Buffer.from(JSON.stringify(config)), ref ? [ref] : []));
  } finally {
    c.layers.unpin(layer.chainId);
  }
  c.opts.events?.log('image', 'import', { ID: id, Attributes: { name: id } });
  yield { status: id };
}

export async function* loadImages(c: ImageCore, src: Readable, opts: { quiet: boolean; signal?: AbortSignal; platform?: OciPlatform }): AsyncIterable<ProgressMessage> {
  const signal = opts.signal;
  await mkdir(c.tmpRoot, { recursive: true, mode: 0o700 });
  const tmp = await mkdtemp(join(c.tmpRoot, LOAD_TMP_PREFIX));
  try {
    const archive = await UnpackedArchive.unpack(src, tmp, signal);
    const items = await archive.manifest(signal);
    const parentLinks: Array<{ id: string; config: ImageConfigFile; parent?: string }> = [];
    for (const item of items) {
      signal?.throwIfAborted();
      const raw = await archive.read(item.Config);
      const config = parseImageConfig(raw);
      // With a platform, the archive's images for others are passed over, as moby's loader does.
      if (opts.platform && !platformMatchesStrict(requestedPlatform(opts.platform), imagePlatform(config))) continue;
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
          if (await c.layers.has(chain)) {
            c.layers.pin(chain);
            pinned.push(chain);
            parent = chain;
            continue;
          }
          signal?.throwIfAborted();
          const applied = await c.layers.applyLayer(parent, await archive.open(item.Layers[i]!));
          pinned.push(applied.chainId);
          if (applied.diffId !== diffIds[i]) {
            throw invalidParameter(`invalid diffID for layer ${i}: expected "${diffIds[i]}", got "${applied.diffId}"`);
          }
          parent = applied.chainId;
        }
        const res = await c.registerImage(raw, refs, undefined, { tagTime: false });
        id = res.id;
        parentLinks.push({ id, config, parent: item.Parent });
        for (const m of res.moved) {
          messages.push({
            stream: `The image ${familiarString(m.ref)} already exists, renaming the old one with ID ${m.previous} to empty string\n`,
          });
        }
      } catch (err) {
        for (const chain of pinned) c.layers.unpin(chain);
        pinned.length = 0;
        await c.exclusive(() => c.gcLayers(chainIds(diffIds))).catch((gcErr) => c.log(`load: removing the layers of a failed load: ${gcErr}`));
        throw err;
      } finally {
        for (const chain of pinned) c.layers.unpin(chain);
      }
      c.opts.events?.log('image', 'load', { ID: id, Attributes: { name: id } });
      for (const m of messages) yield m;
      if (refs.length) for (const r of refs) yield { stream: `Loaded image: ${familiarString(r)}\n` };
      else yield { stream: `Loaded image ID: ${id}\n` };
    }
    await restoreParents(c, parentLinks);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * The parent links of a load, as Docker's: only to an image of the same archive, and only where
 * the parent's history is the child's less its last step.
 */
async function restoreParents(c: ImageCore, links: Array<{ id: string; config: ImageConfigFile; parent?: string }>): Promise<void> {
  for (const { id, config, parent } of links) {
    if (!parent || parent === id) continue;
    const p = links.find((l) => l.id === parent);
    if (!p) continue;
    if (!validParent(config, p.config)) throw systemError(`image ${parent} is not a valid parent for ${id}`);
    await c.setParent(id, parent);
  }
}

function validParent(child: ImageConfigFile, parent: ImageConfigFile): boolean {
  const hc = child.history ?? [];
  const hp = parent.history ?? [];
  if (hc.length === 0 && hp.length === 0) return true; // history is not mandatory
  if (hc.length - hp.length !== 1) return false;
  return hp.every((p, i) => {
    const h = hc[i]!;
    if ((p.created === undefined) !== (h.created === undefined)) return false;
    if (p.created !== undefined && Date.parse(p.created) !== Date.parse(h.created!)) return false;
    return p.created_by === h.created_by && p.author === h.author && p.comment === h.comment && !p.empty_layer === !h.empty_layer;
  });
}

export async function saveImages(c: ImageCore, names: string[], out: Writable, platform?: OciPlatform): Promise<void> {
  // Resolve everything first, so errors surface before any byte is written.
  const wanted = new Map<string, Reference[]>();
  const addAssoc = (id: string, ref: Reference | null) => {
    const list = wanted.get(id) ?? [];
    if (ref && ref.tag !== undefined && ref.digest === undefined && !list.some((r) => familiarString(r) === familiarString(ref))) list.push(ref);
    wanted.set(id, list);
  };
  for (const name of names) {
    if (isFullImageId(name)) {
      addAssoc(await c.lookup(name), null);
      continue;
    }
    let named: Reference | null = null;
    try {
      named = parseNormalizedNamed(name);
    } catch {
      named = null;
    }
    if (named && named.tag === undefined && named.digest === undefined) {
      const assocs = c.refs.all().filter((a) => familiarName(a.ref) === familiarName(named!) && a.ref.tag !== undefined);
      for (const a of assocs) addAssoc(a.id, a.ref);
      if (assocs.length === 0) addAssoc(await c.lookup(name), null);
      continue;
    }
    const id = await c.lookup(name);
    addAssoc(id, named && c.refs.get(named) === id ? withDefaultTag(named) : null);
  }
  const images: ArchiveImage[] = [];
  // The layers stay pinned while the archive streams (a slow client, an rmi meanwhile): as
  // moby's exporter holds its layer references, and the gc collects them after.
  const pinned: string[] = [];
  try {
    // Only the lookups and pins under the images lock; the layers' sizes are read after.
    const held = await c.exclusive(async () => {
      const out = [];
      for (const [id, refs] of wanted) {
        const config = await c.configOf(id);
        if (platform && !platformMatchesStrict(requestedPlatform(platform), imagePlatform(config))) {
          throw systemError(`no suitable export target found for platform ${formatPlatform(requestedPlatform(platform))}`);
        }
        const diffIds = config.rootfs?.diff_ids ?? [];
        if (diffIds.length === 0) throw invalidParameter('empty export - not implemented');
        const chains = chainIds(diffIds);
        c.layers.pin(chains.at(-1)!);
        pinned.push(chains.at(-1)!);
        out.push({ id, refs, config, diffIds, chains, raw: await c.images.raw(id), parent: await c.images.parent(id) });
      }
      return out;
    });
    for (const { id, refs, config, diffIds, chains, raw, parent } of held) {
      const layers = [];
      for (let i = 0; i < diffIds.length; i++) {
        const chain = chains[i]!;
        layers.push({ diffId: diffIds[i]!, size: await c.layers.tarSize(chain), open: () => c.layers.tarStream(chain) });
      }
      // Docker keeps a parent link only to an image saved alongside.
      const saved = parent && parent !== id && wanted.has(parent) ? parent : undefined;
      images.push({ id, config: raw, refs, layers, parent: saved, os: config.os, architecture: config.architecture, variant: config.variant });
    }
    await writeArchive(images, out);
  } finally {
    for (const chain of pinned) c.layers.unpin(chain);
  }
  for (const img of images) c.opts.events?.log('image', 'save', { ID: img.id, Attributes: { name: img.id } });
}

/** rootfs.diff_ids of a loaded config, checked to be a list of sha256 digests. */
function diffIdsOf(config: ImageConfigFile, where: string): string[] {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw invalidParameter(`invalid image config ${where}`);
  const ids: unknown = config.rootfs?.diff_ids ?? [];
  if (!Array.isArray(ids) || !ids.every((d) => typeof d === 'string' && /^sha256:[a-f0-9]{64}$/.test(d))) {
    throw invalidParameter(`invalid image config ${where}: rootfs.diff_ids must be a list of sha256 digests`);
  }
  return ids as string[];
}
