/**
 * Pushing an image: per layer, a blob the registry already has (HEAD), a cross-repository
 * mount from a repository the layer came from, or an upload (POST, streaming PATCH of the
 * gzip-compressed layer tar, PUT with the digest); then the config blob and the schema2
 * manifest. Progress goes out as dockerd words it.
 */
import { createHash } from 'node:crypto';
import { pipeline, Transform } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { ImageConfigFile, ProgressMessage } from '../api/types.js';
import { systemError } from '../lib/errors.js';
import { fullName, type Reference } from '../image/reference.js';
import { chainIds, sha256Digest } from '../layer/chain-id.js';
import type { LayerStore } from '../layer/layer-store.js';
import type { Credentials } from './auth-config.js';
import { TokenError, type RegistryClient, type RegistrySession } from './client.js';
import { RegistryError } from './errors.js';
import { readBody } from './http.js';
import { MEDIA_DOCKER_CONFIG, MEDIA_DOCKER_LAYER_GZIP, MEDIA_DOCKER_MANIFEST } from './manifest.js';
import type { BlobSource, DistributionMetadata } from './metadata.js';
import { MessageQueue, ProgressThrottle, progressMessage, statusMessage } from './progress.js';
import { shortDigest } from './pull.js';

export interface PushSource {
  layers: LayerStore;
  /** The image's config, its layers pinned until `release()` (an rmi meanwhile must not delete what is being uploaded). */
  holdImage(id: string): Promise<{ raw: Buffer; release: () => void }>;
  addReference(ref: Reference, id: string): Promise<void>;
}

export interface PushContext {
  client: RegistryClient;
  source: PushSource;
  metadata: DistributionMetadata;
  maxConcurrentUploads: number;
}

interface PushedBlob {
  digest: string;
  size: number;
  mediaType: string;
}

const GZIP_TYPES = new Set([MEDIA_DOCKER_LAYER_GZIP, 'application/vnd.oci.image.layer.v1.tar+gzip']);

/** Pushes `tags` (tag -> image ID) of repository `repo`. */
export async function* pushImage(
  ctx: PushContext,
  repo: Reference,
  resolveTags: () => Promise<Array<{ tag: string; id: string }>>,
  creds: Credentials | undefined,
): AsyncGenerator<ProgressMessage> {
  yield { status: `The push refers to repository [${fullName(repo)}]` };
  const tags = await resolveTags();
  const groups = await ctx.client.endpointGroups(repo.domain);
  const group = groups[groups.length - 1]!;
  const session = await ctx.client.open(group, creds, [{ repo: repo.path, actions: ['pull', 'push'] }]);
  for (const { tag, id } of tags) {
    const { raw, release } = await ctx.source.holdImage(id);
    try {
      yield* pushTag(ctx, session, repo, tag, id, raw);
    } catch (err) {
      // As dockerd's push (retryOnError): a refused token is its errcode text alone.
      const token = (err as { tokenError?: TokenError }).tokenError;
      throw token ? systemError(token.message, token) : err;
    } finally {
      release();
    }
  }
}

async function* pushTag(ctx: PushContext, session: RegistrySession, repo: Reference, tag: string, id: string, raw: Buffer): AsyncGenerator<ProgressMessage> {
  const config = JSON.parse(raw.toString('utf8')) as ImageConfigFile;
  const diffIds = config.rootfs?.diff_ids ?? [];
  const chains = chainIds(diffIds);
  const queue = new MessageQueue();
  const work = pushLayers(ctx, session, repo, diffIds, chains, queue).then(
    (blobs) => {
      queue.end();
      return blobs;
    },
    (err) => {
      queue.fail(err);
      return null;
    },
  );
  yield* queue;
  const blobs = (await work)!;
  const configDigest = sha256Digest(raw);
  await uploadBuffer(session, repo.path, configDigest, raw);
  const manifest = Buffer.from(
    JSON.stringify(
      {
        schemaVersion: 2,
        mediaType: MEDIA_DOCKER_MANIFEST,
        config: { mediaType: MEDIA_DOCKER_CONFIG, size: raw.length, digest: configDigest },
        layers: blobs.map((b) => ({ mediaType: b.mediaType, size: b.size, digest: b.digest })),
      },
      null,
      3,
    ),
  );
  const res = await session.request('PUT', `/v2/${repo.path}/manifests/${tag}`, { headers: { 'Content-Type': MEDIA_DOCKER_MANIFEST }, body: manifest });
  if (res.status !== 201 && res.status !== 200) await failPush(session, res, 'PUT');
  res.body.resume();
  const digest = sha256Digest(manifest);
  await ctx.source.addReference({ domain: repo.domain, path: repo.path, digest }, id).catch(() => {});
  yield { status: `${tag}: digest: ${digest} size: ${manifest.length}` };
  yield { progressDetail: {}, aux: { Tag: tag, Digest: digest, Size: manifest.length } };
}

async function failPush(s: RegistrySession, res: Parameters<RegistrySession['fail']>[0], method: string): Promise<never> {
  try {
    return await s.fail(res, method);
  } catch (err) {
    if (err instanceof RegistryError) throw systemError(err.message, err);
    throw err;
  }
}

async function blobExists(s: RegistrySession, repo: string, digest: string): Promise<number | null> {
  const res = await s.request('HEAD', `/v2/${repo}/blobs/${digest}`);
  res.body.resume();
  if (res.status === 200) return Number(res.headers['content-length'] ?? -1);
  if (res.status === 404) return null;
  return failPush(s, res, 'HEAD');
}

async function startUpload(s: RegistrySession, repo: string, query = '', scopes?: Array<{ repo: string; actions: string[] }>): Promise<{ status: number; location: URL }> {
  const res = await s.request('POST', `/v2/${repo}/blobs/uploads/${query}`, { idempotent: false, ...(scopes ? { scopes } : {}) });
  res.body.resume();
  if (res.status !== 202 && res.status !== 201) await failPush(s, res, 'POST');
  const loc = res.headers.location;
  return { status: res.status, location: new URL(loc ?? `/v2/${repo}/blobs/uploads/`, res.url) };
}

function withDigest(location: URL, digest: string): URL {
  const u = new URL(location);
  u.searchParams.set('digest', digest);
  return u;
}

/** Monolithic upload of a small blob unless the registry has it. */
async function uploadBuffer(s: RegistrySession, repo: string, digest: string, data: Buffer): Promise<void> {
  if ((await blobExists(s, repo, digest)) !== null) return;
  const { location } = await startUpload(s, repo);
  const res = await s.request('PUT', withDigest(location, digest), { headers: { 'Content-Type': 'application/octet-stream' }, body: data });
  res.body.resume();
  if (res.status !== 201) await failPush(s, res, 'PUT');
}

async function pushLayers(ctx: PushContext, s: RegistrySession, repo: Reference, diffIds: string[], chains: string[], queue: MessageQueue): Promise<PushedBlob[]> {
  const ids = diffIds.map((d) => shortDigest(d));
  for (const id of ids) queue.push(statusMessage(id, 'Preparing'));
  let active = 0;
  const waiting: Array<() => void> = [];
  const results = diffIds.map(async (diffId, i) => {
    if (active >= ctx.maxConcurrentUploads) {
      queue.push(statusMessage(ids[i]!, 'Waiting'));
      await new Promise<void>((r) => waiting.push(r));
    }
    active++;
    try {
      return await pushLayer(ctx, s, repo, diffId, chains[i]!, ids[i]!, queue);
    } finally {
      active--;
      waiting.shift()?.();
    }
  });
  const settled = await Promise.allSettled(results);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((r) => (r as PromiseFulfilledResult<PushedBlob>).value);
}

async function pushLayer(ctx: PushContext, s: RegistrySession, repo: Reference, diffId: string, chain: string, id: string, queue: MessageQueue): Promise<PushedBlob> {
  const full = fullName(repo);
  const sources = (await ctx.metadata.sources(diffId)).filter(
    (src) => src.SourceRepository.startsWith(`${repo.domain}/`) && (src.MediaType === undefined || GZIP_TYPES.has(src.MediaType)),
  );
  const mediaOf = (src: BlobSource) => src.MediaType ?? MEDIA_DOCKER_LAYER_GZIP;
  // 1. Already in this repository?
  for (const src of sources.filter((x) => x.SourceRepository === full)) {
    const size = await blobExists(s, repo.path, src.Digest);
    if (size !== null) {
      queue.push(statusMessage(id, 'Layer already exists'));
      return { digest: src.Digest, size: size >= 0 ? size : src.Size ?? 0, mediaType: mediaOf(src) };
    }
  }
  // 2. Mount from another repository of the same registry.
  for (const src of sources.filter((x) => x.SourceRepository !== full)) {
    const from = src.SourceRepository.slice(repo.domain.length + 1);
    const { status, location } = await startUpload(s, repo.path, `?mount=${encodeURIComponent(src.Digest)}&from=${encodeURIComponent(from)}`, [
      { repo: from, actions: ['pull'] },
    ]);
    if (status === 201) {
      queue.push(statusMessage(id, `Mounted from ${from}`));
      await ctx.metadata.add(diffId, { ...src, SourceRepository: full }).catch(() => {});
      return { digest: src.Digest, size: src.Size ?? (await blobExists(s, repo.path, src.Digest)) ?? 0, mediaType: mediaOf(src) };
    }
    // 202: the registry opened an upload instead; drop it.
    await s.request('DELETE', location, { idempotent: false }).then((r) => r.body.resume()).catch(() => {});
  }
  // 3. Upload: gzip the layer tar while hashing it, PATCH it in one stream, PUT the digest.
  const total = await ctx.source.layers.tarSize(chain);
  const { location } = await startUpload(s, repo.path);
  const hash = createHash('sha256');
  let compressed = 0;
  let read = 0;
  const throttle = new ProgressThrottle((n) => queue.push(progressMessage(id, 'Pushing', n, total)), total);
  const tar = await ctx.source.layers.tarStream(chain);
  const countIn = new Transform({
    transform(chunk: Buffer, _e, cb) {
      read += chunk.length;
      throttle.update(read);
      cb(null, chunk);
    },
  });
  const countOut = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      compressed += chunk.length;
      cb(null, chunk);
    },
  });
  // A failure of the layer (a file of its record gone or replaced) ends the upload with it.
  let layerError: Error | null = null;
  const body = pipeline(tar, countIn, createGzip(), countOut, (err) => {
    if (err) layerError ??= err;
  });
  let patch;
  try {
    patch = await s.request('PATCH', location, { headers: { 'Content-Type': 'application/octet-stream' }, body: () => body, idempotent: false });
    await readBody(patch).catch(() => Buffer.alloc(0));
  } catch (err) {
    throw layerError ?? err;
  }
  if (layerError) throw layerError;
  if (patch.status !== 202 && patch.status !== 204) await failPush(s, patch, 'PATCH');
  const digest = `sha256:${hash.digest('hex')}`;
  const next = patch.headers.location ? new URL(patch.headers.location, patch.url) : location;
  const put = await s.request('PUT', withDigest(next, digest), { headers: { 'Content-Length': '0' }, body: Buffer.alloc(0) });
  put.body.resume();
  if (put.status !== 201) await failPush(s, put, 'PUT');
  throttle.update(read, true);
  queue.push(statusMessage(id, 'Pushed'));
  await ctx.metadata.add(diffId, { Digest: digest, SourceRepository: full, HMAC: '', MediaType: MEDIA_DOCKER_LAYER_GZIP, Size: compressed }).catch(() => {});
  return { digest, size: compressed, mediaType: MEDIA_DOCKER_LAYER_GZIP };
}
