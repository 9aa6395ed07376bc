/**
 * Pulling an image: manifest (schema2, OCI, or an index resolved to the wanted platform),
 * config, then the layers that are not present (by chain ID) — downloaded concurrently, each
 * extracted into a staging directory as its bytes arrive, and registered in order once its
 * digest verified and its parent is registered —
 * and finally the image and its references. Progress goes out as dockerd words it. Any failure
 * removes what this pull added, so the store is as it was.
 */
import type { ProgressMessage } from '../api/types.js';
import { parseImageConfig } from '../image/config-shape.js';
import { invalidParameter, systemError } from '../lib/errors.js';
import { familiarString, isValidTag, type Reference } from '../image/reference.js';
import { chainIds, sha256Digest } from '../layer/chain-id.js';
import { MAX_LAYER_DEPTH, type LayerStore, type StagedLayer } from '../layer/layer-store.js';
import type { Credentials } from './auth-config.js';
import { fetchBlobBuffer } from './blob-download.js';
import type { RegistryClient, RegistrySession } from './client.js';
import { RegistryError, translatePullError } from './errors.js';
import { readBody } from './http.js';
import {
  MANIFEST_ACCEPT,
  parseManifest,
  parsePlatform,
  selectPlatform,
  type Descriptor,
  type ImageManifest,
  type Manifest,
  type Platform,
} from './manifest.js';
import { streamLayer } from './layer-stream.js';
import type { DistributionMetadata } from './metadata.js';
import { MessageQueue, ProgressThrottle, progressMessage, statusMessage } from './progress.js';

/** What a pull needs from the image service. */
export interface PullSink {
  layers: LayerStore;
  /** The image a reference points at now, or null. */
  referenceTarget(ref: Reference): string | null;
  hasImage(id: string): Promise<boolean>;
  registerImage(raw: Buffer, refs: Reference[]): Promise<{ id: string }>;
  /** Removes the given chains (and ancestors) that no image uses. */
  releaseLayers(chains: string[]): Promise<void>;
  /** A directory for temp files on the data root's filesystem. */
  tmpRoot: string;
}

export interface PullContext {
  client: RegistryClient;
  sink: PullSink;
  metadata: DistributionMetadata;
  maxConcurrentDownloads: number;
  hostPlatform: Platform;
}

export interface PullRequest {
  /** Normalised reference with a tag or a digest. */
  ref: Reference;
  platform?: string;
  creds?: Credentials;
  /** The client went away: downloads stop, staged layers go, nothing is registered. */
  signal?: AbortSignal;
}

interface Resolved {
  session: RegistrySession;
  manifest: ImageManifest;
  /** Digest of what the reference named (the index's, for a multi-platform image). */
  digest: string;
  bearer: boolean;
}

const MAX_MANIFEST = 4 << 20;
/** Configs are read into memory: one bigger than any real image's is refused before it is fetched. */
const MAX_CONFIG = 8 << 20;

export async function fetchManifest(s: RegistrySession, repo: string, reference: string): Promise<{ raw: Buffer; manifest: Manifest; digest: string }> {
  const res = await s.request('GET', `/v2/${repo}/manifests/${reference}`, { headers: { Accept: MANIFEST_ACCEPT.join(', ') } });
  if (res.status !== 200) await s.fail(res, 'GET');
  const raw = await readBody(res, MAX_MANIFEST);
  const digest = sha256Digest(raw);
  if (reference.startsWith('sha256:') && digest !== reference) throw systemError(`manifest verification failed for digest ${reference}`);
  return { raw, manifest: parseManifest(raw, res.headers['content-type']), digest };
}

/** Finds the image manifest on the first endpoint group that has it (mirrors first). */
async function resolve(ctx: PullContext, req: PullRequest): Promise<Resolved> {
  const { ref } = req;
  const want = parsePlatform(req.platform, ctx.hostPlatform);
  const groups = await ctx.client.endpointGroups(ref.domain);
  let lastErr: unknown = null;
  for (let g = 0; g < groups.length; g++) {
    const group = groups[g]!;
    const isMirror = group[0]?.mirror ?? false;
    let bearer = false;
    try {
      const session = await ctx.client.open(group, req.creds, [{ repo: ref.path, actions: ['pull'] }]);
      bearer = (await ctx.client.ping(group)).challenges.some((c) => c.scheme === 'bearer');
      const top = await fetchManifest(session, ref.path, ref.digest ?? ref.tag ?? 'latest');
      let manifest: Manifest = top.manifest;
      if (manifest.kind === 'index') {
        const pick = selectPlatform(manifest, want);
        const child = await fetchManifest(session, ref.path, pick.digest);
        if (child.manifest.kind !== 'manifest') throw invalidParameter('manifest list entry is not an image manifest');
        manifest = child.manifest;
      }
      return { session, manifest, digest: top.digest, bearer };
    } catch (err) {
      lastErr = bearer && err instanceof RegistryError && (err.code === 'UNAUTHORIZED' || err.code === 'DENIED') ? new RegistryError('DENIED', 'requested access to the resource is denied', 403) : err;
      if (!isMirror) break;
    }
  }
  throw translatePullError(lastErr, ref);
}

export function shortDigest(d: string): string {
  return d.replace(/^sha256:/, '').slice(0, 12);
}

/** Pulls one reference (tag or digest). Throws before the first message when the manifest cannot be had. */
export async function* pullImage(ctx: PullContext, req: PullRequest): AsyncGenerator<ProgressMessage> {
  const { ref } = req;
  const { session, manifest, digest } = await resolve(ctx, req);
  const repo = ref.path;
  const tagOrDigest = ref.digest ?? ref.tag ?? 'latest';
  // Docker names the repository as the registry knows it (`library/nginx`, no host).
  yield { status: `Pulling from ${ref.path}`, id: tagOrDigest };

  if (manifest.config.size > MAX_CONFIG) throw invalidParameter(`image config of ${manifest.config.size} bytes is larger than ${MAX_CONFIG >> 20} MiB`);
  let configRaw: Buffer;
  try {
    configRaw = await fetchBlobBuffer(session, repo, manifest.config);
  } catch (err) {
    throw translatePullError(err, ref);
  }
  // Refused before any layer is fetched when Docker would not decode it.
  const config = parseImageConfig(configRaw);
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) throw invalidParameter("layers from manifest don't match image configuration");
  // The store would refuse the 126th layer (moby's layer store does): nothing is fetched for it.
  if (diffIds.length > MAX_LAYER_DEPTH) throw systemError('max depth exceeded');
  const imageId = manifest.config.digest;
  const chains = chainIds(diffIds);
  const refs = referencesToSet(ref, digest);
  const previous = ctx.sink.referenceTarget(ref);
  const { layers } = ctx.sink;

  const upToDate = (await ctx.sink.hasImage(imageId)) && (chains.length === 0 || (await layers.has(chains[chains.length - 1]!)));
  if (!upToDate) {
    const queue = new MessageQueue();
    const work = fetchLayers(ctx, session, repo, manifest.layers, diffIds, chains, queue, req.signal);
    const driven = work.then(
      async ({ pinned, created }) => {
        try {
          req.signal?.throwIfAborted();
          await ctx.sink.registerImage(configRaw, refs);
        } catch (err) {
          for (const c of pinned) layers.unpin(c);
          await ctx.sink.releaseLayers(created).catch(() => {});
          queue.fail(translatePullError(err, ref));
          return;
        }
        for (const c of pinned) layers.unpin(c);
        queue.end();
      },
      (err) => queue.fail(translatePullError(err, ref)),
    );
    yield* queue;
    await driven;
  } else {
    await ctx.sink.registerImage(configRaw, refs);
  }
  const source = `${ref.domain}/${repo}`;
  for (let i = 0; i < manifest.layers.length; i++) {
    const l = manifest.layers[i]!;
    await ctx.metadata.add(diffIds[i]!, { Digest: l.digest, SourceRepository: source, HMAC: '', MediaType: l.mediaType, Size: l.size }).catch(() => {});
  }
  yield { status: `Digest: ${digest}` };
  yield { status: previous === imageId ? `Status: Image is up to date for ${familiarString(ref)}` : `Status: Downloaded newer image for ${familiarString(ref)}` };
}


/** A tag pull sets the tag and the repository digest; a digest pull sets the digest. */
function referencesToSet(ref: Reference, manifestDigest: string): Reference[] {
  const digestRef: Reference = { domain: ref.domain, path: ref.path, digest: manifestDigest };
  if (ref.digest !== undefined) return [digestRef];
  return [{ domain: ref.domain, path: ref.path, tag: ref.tag ?? 'latest' }, digestRef];
}

/**
 * Downloads what is missing (at most `maxConcurrentDownloads` at once), each layer extracted
 * into a staging directory while it downloads, and registers the staged layers in order as
 * each one and its parent are ready. Resolves with the chains it pinned and those it created;
 * on failure removes everything it added (staged or registered).
 */
async function fetchLayers(
  ctx: PullContext,
  session: RegistrySession,
  repo: string,
  descs: Descriptor[],
  diffIds: string[],
  chains: string[],
  queue: MessageQueue,
  signal?: AbortSignal,
): Promise<{ pinned: string[]; created: string[] }> {
  const { layers } = ctx.sink;
  const pinned: string[] = [];
  const created: string[] = [];
  let failure: unknown = null;
  const cancelled = () => {
    if (failure === null && signal?.aborted) failure = signal.reason ?? new Error('pull cancelled: the client went away');
    return failure;
  };
  const stages: Array<Promise<StagedLayer>> = [];
  const committed = new Set<number>();
  try {
    // Which layers are here already (a present chain implies its parents).
    let firstMissing = descs.length;
    for (let i = descs.length - 1; i >= 0; i--) {
      if (await layers.has(chains[i]!)) break;
      firstMissing = i;
    }
    for (let i = 0; i < descs.length; i++) {
      const id = shortDigest(descs[i]!.digest);
      if (i < firstMissing) {
        layers.pin(chains[i]!);
        pinned.push(chains[i]!);
        queue.push(statusMessage(id, 'Already exists'));
      } else queue.push(statusMessage(id, 'Pulling fs layer'));
    }
    // Download slots (a slot covers the download and the extraction fed by it).
    let active = 0;
    const waiting: Array<() => void> = [];
    const acquire = async (id: string) => {
      if (active >= ctx.maxConcurrentDownloads) {
        queue.push(statusMessage(id, 'Waiting'));
        await new Promise<void>((r) => waiting.push(r));
      }
      active++;
    };
    const release = () => {
      active--;
      waiting.shift()?.();
    };
    const stage = async (desc: Descriptor): Promise<StagedLayer> => {
      const id = shortDigest(desc.digest);
      await acquire(id);
      try {
        const cut = cancelled();
        if (cut) throw cut;
        const throttle = new ProgressThrottle((n) => queue.push(progressMessage(id, 'Downloading', n, desc.size)), desc.size);
        const staged = await streamLayer(session, repo, desc, layers, { onProgress: (n) => throttle.update(n), cancelled });
        queue.push(statusMessage(id, 'Verifying Checksum'));
        queue.push(statusMessage(id, 'Download complete'));
        return staged;
      } finally {
        release();
      }
    };
    // Start every layer in order (the slots decide what runs), then register in order.
    for (let i = firstMissing; i < descs.length; i++) {
      const p = stage(descs[i]!);
      p.catch((err) => {
        failure ??= err;
      });
      stages[i] = p;
    }
    let parent: string | null = firstMissing > 0 ? chains[firstMissing - 1]! : null;
    for (let i = firstMissing; i < descs.length; i++) {
      const desc = descs[i]!;
      const id = shortDigest(desc.digest);
      const staged = await stages[i]!;
      committed.add(i);
      const cut = cancelled();
      if (cut) {
        await layers.discardStaged(staged);
        throw cut;
      }
      if (staged.diffId !== diffIds[i]) {
        await layers.discardStaged(staged);
        throw invalidParameter(`failed to register layer: layer ${i} of the manifest has diffID ${staged.diffId}, the image configuration says ${diffIds[i]}`);
      }
      // The content is on disk already; Docker's CLI still expects the Extracting step.
      queue.push(progressMessage(id, 'Extracting', desc.size, desc.size));
      const existed = await layers.has(chains[i]!);
      let applied;
      try {
        applied = await layers.commitStaged(staged, parent);
      } catch (err) {
        await layers.discardStaged(staged);
        throw err;
      }
      pinned.push(applied.chainId);
      if (!existed) created.push(applied.chainId);
      queue.push(statusMessage(id, 'Pull complete'));
      parent = applied.chainId;
    }
    return { pinned, created };
  } catch (err) {
    failure ??= err;
    // Staged layers that will never be registered go; so does what this pull registered.
    const settled = await Promise.allSettled(stages.filter(Boolean));
    let k = 0;
    for (let i = 0; i < stages.length; i++) {
      if (stages[i] === undefined) continue;
      const r = settled[k++]!;
      if (r.status === 'fulfilled' && !committed.has(i)) await layers.discardStaged(r.value).catch(() => {});
    }
    for (const c of pinned) layers.unpin(c);
    await ctx.sink.releaseLayers(created).catch(() => {});
    throw err;
  }
}

/** All tags of a repository (for a pull without a tag, which pulls every tag as Docker does). */
export async function listTags(ctx: PullContext, ref: Reference, creds: Credentials | undefined): Promise<string[]> {
  const groups = await ctx.client.endpointGroups(ref.domain);
  const session = await ctx.client.open(groups[groups.length - 1]!, creds, [{ repo: ref.path, actions: ['pull'] }]);
  const res = await session.request('GET', `/v2/${ref.path}/tags/list`);
  if (res.status !== 200) {
    try {
      await session.fail(res, 'GET');
    } catch (err) {
      throw translatePullError(err, ref);
    }
  }
  let body: unknown;
  try {
    body = JSON.parse((await readBody(res)).toString('utf8'));
  } catch {
    throw invalidParameter('invalid tag list: not JSON');
  }
  const tags = (body as { tags?: unknown } | null)?.tags ?? [];
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) throw invalidParameter('invalid tag list: tags is not a list of strings');
  // A tag the registry lists that Docker could not name is refused, as reference.WithTag does.
  if (!tags.every(isValidTag)) throw invalidParameter('invalid tag format');
  return tags;
}

