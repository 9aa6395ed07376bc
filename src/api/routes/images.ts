/** Image routes: Docker's paths, query parameters and status codes over ImageBackend. */
import { Writable } from 'node:stream';
import { invalidParameter } from '../../lib/errors.js';
import type { RegistryAuth } from '../backend.js';
import type { OciPlatform } from '../types.js';
import { decodeRegistryAuth } from '../../distribution/auth-config.js';
import { checkPlatformSpec } from '../../distribution/manifest.js';
import { detachedBody } from '../request.js';
import { readJSON } from '../json-body.js';
import { AUTH_CONFIG } from '../body-shapes.js';
import { boolValue, boolValueOrDefault, intValue, parseFilters, sendEmpty, sendJSON } from '../request.js';
import { formatError, writeProgressStream } from '../progress.js';
import { imageInspectForVersion, imageListForVersion } from '../image-compat.js';
import type { RequestContext, Router } from '../router.js';
import { versionAtLeast } from '../version.js';

/** X-Registry-Auth: base64url-encoded JSON AuthConfig; undecodable values count as no auth, as in Docker. */
export { decodeRegistryAuth };

/**
 * A `platform` query parameter given as a JSON OCI platform (API 1.48+), as moby's DecodePlatform
 * reads it; undefined when absent.
 */
function decodePlatform(raw: string | null): OciPlatform | undefined {
  if (!raw) return undefined;
  let p: unknown;
  try {
    p = JSON.parse(raw);
  } catch (err) {
    throw invalidParameter(`failed to parse platform: ${err instanceof Error ? err.message : String(err)}`);
  }
  const o = (p ?? {}) as Record<string, unknown>;
  const str = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : '');
  if (typeof p !== 'object' || Array.isArray(p) || ['os', 'architecture', 'variant', 'os.version'].some((k) => o[k] !== undefined && o[k] !== null && typeof o[k] !== 'string')) {
    throw invalidParameter('failed to parse platform: not a JSON platform object');
  }
  const features = Array.isArray(o['os.features']) ? (o['os.features'] as unknown[]).filter((f): f is string => typeof f === 'string') : [];
  const optional = str('variant') !== '' || str('os.version') !== '' || features.length > 0;
  if (!str('os') && !str('architecture') && optional) throw invalidParameter('optional platform fields provided, but OS and Architecture are missing');
  if (!str('os') || !str('architecture')) throw invalidParameter('both OS and Architecture must be provided');
  return { os: str('os'), architecture: str('architecture'), ...(str('variant') ? { variant: str('variant') } : {}), ...(str('os.version') ? { 'os.version': str('os.version') } : {}) };
}

function metaHeaders(ctx: RequestContext): Record<string, string[]> | undefined {
  let out: Record<string, string[]> | undefined;
  for (let i = 0; i < ctx.req.rawHeaders.length; i += 2) {
    const k = ctx.req.rawHeaders[i]!;
    if (!/^x-meta-/i.test(k)) continue;
    out ??= {};
    (out[k] ??= []).push(ctx.req.rawHeaders[i + 1]!);
  }
  return out;
}

async function createImage(ctx: RequestContext): Promise<void> {
  const { query, req, res } = ctx;
  const images = ctx.backend.images;
  const platform = (versionAtLeast(ctx.version, '1.32') && query.get('platform')) || undefined;
  if (platform) checkPlatformSpec(platform);
  const fromImage = query.get('fromImage');
  if (fromImage) {
    // "pull -a" may send the name with a trailing ':'.
    const ref = fromImage.replace(/:$/, '');
    const tag = query.get('tag') || undefined;
    const meta = metaHeaders(ctx);
    const stream = images.pull(
      ref,
      tag,
      { ...(platform ? { platform } : {}), ...(meta ? { metaHeaders: meta } : {}), signal: ctx.signal },
      decodeRegistryAuth(req.headers['x-registry-auth']),
    );
    await writeProgressStream(res, stream, { errorStatusBeforeFirst: true });
    return;
  }
  const fromSrc = query.get('fromSrc');
  if (fromSrc === null || fromSrc === '') throw invalidParameter('either fromImage or fromSrc is required');
  // Anything but '-' is a URL the daemon fetches, as Docker's.
  const stream = images.importImage(fromSrc === '-' ? detachedBody(req) : { url: fromSrc }, {
    ...(query.get('repo') ? { repo: query.get('repo')! } : {}),
    ...(query.get('tag') ? { tag: query.get('tag')! } : {}),
    changes: query.getAll('changes'),
    ...(query.get('message') ? { message: query.get('message')! } : {}),
    ...(platform ? { platform } : {}),
    ...(fromSrc === '-' ? {} : { signal: ctx.signal }),
  });
  await writeProgressStream(res, stream, { errorStatusBeforeFirst: true });
}

/** GET /images/get and /images/{name}/get: a tarball; errors before the first byte get a status. */
/** The `platform` parameters of load and save (API 1.48): one, as moby's image store takes. */
function archivePlatform(ctx: RequestContext): OciPlatform | undefined {
  if (!versionAtLeast(ctx.version, '1.48')) return undefined;
  const all = ctx.query.getAll('platform').filter((p) => p !== '');
  if (all.length > 1 && !versionAtLeast(ctx.version, '1.52')) throw invalidParameter('multiple platform parameters are not supported in this API version; use API version 1.52 or later');
  const decoded = all.map((p) => decodePlatform(p)!);
  if (decoded.length > 1) throw invalidParameter('multiple platforms not supported for this image store; use a multi-platform image store such as containerd-snapshotter');
  return decoded[0];
}

async function save(ctx: RequestContext, names: string[]): Promise<void> {
  const { res } = ctx;
  const platform = archivePlatform(ctx);
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    res.writeHead(200, { 'Content-Type': 'application/x-tar' });
  };
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      start();
      if (res.destroyed) return cb(new Error('client went away'));
      if (res.write(chunk)) return cb();
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        cb();
      };
      res.on('drain', done);
      res.on('close', done);
    },
  });
  const finished = new Promise<void>((resolve) => {
    out.once('finish', resolve);
    out.once('close', resolve);
  });
  // A client that hangs up ends the archive writer (its layer reads stop with it).
  res.once('close', () => {
    if (!res.writableFinished) out.destroy();
  });
  try {
    await ctx.backend.images.save(names, out, platform);
    if (!out.writableEnded) out.end();
    await finished;
  } catch (err) {
    if (!started) throw err;
    if (res.destroyed) return;
    ctx.log(`${ctx.req.method} ${ctx.req.url}: ${err instanceof Error ? err.message : String(err)}`);
    res.write(formatError(err));
  }
  start();
  res.end();
}

export function imageRoutes(router: Router): void {
  const img = (ctx: RequestContext) => ctx.backend.images;
  const name = (ctx: RequestContext) => {
    const n = ctx.params.name!;
    if (n.trim() === '') throw invalidParameter('image name cannot be blank');
    return n;
  };

  router.get('/images/json', async (ctx) => {
    const filters = parseFilters(ctx.query.get('filters'));
    const legacy = ctx.query.get('filter');
    if (legacy && !versionAtLeast(ctx.version, '1.41')) (filters['reference'] ??= []).push(legacy);
    const list = await img(ctx).list({ all: boolValue(ctx.query, 'all'), filters, digests: boolValue(ctx.query, 'digests') });
    sendJSON(ctx.res, 200, imageListForVersion(list, ctx.version));
  });
  router.post('/images/create', createImage);
  router.get('/images/search', async (ctx) => {
    const aborted = new AbortController();
    ctx.res.on('close', () => aborted.abort());
    const results = await img(ctx).search(ctx.query.get('term') ?? '', {
      limit: intValue(ctx.query, 'limit'),
      filters: parseFilters(ctx.query.get('filters')),
      // A search without (valid) credentials is anonymous, as in Docker.
      auth: decodeRegistryAuth(ctx.req.headers['x-registry-auth']),
      signal: aborted.signal,
    });
    sendJSON(ctx.res, 200, results);
  });
  router.post('/images/load', async (ctx) => {
    const platform = archivePlatform(ctx);
    const stream = img(ctx).load(detachedBody(ctx.req), { quiet: boolValueOrDefault(ctx.query, 'quiet', true), signal: ctx.signal, ...(platform ? { platform } : {}) });
    await writeProgressStream(ctx.res, stream, { errorStatusBeforeFirst: false });
  });
  router.get('/images/get', (ctx) => save(ctx, ctx.query.getAll('names')));
  router.post('/images/prune', async (ctx) => sendJSON(ctx.res, 200, await img(ctx).prune(parseFilters(ctx.query.get('filters')))));
  router.get('/images/{name:.*}/json', async (ctx) => {
    const platform = versionAtLeast(ctx.version, '1.49') ? decodePlatform(ctx.query.get('platform')) : undefined;
    if (platform && boolValue(ctx.query, 'manifests')) throw invalidParameter('conflicting options: manifests and platform options cannot both be set');
    sendJSON(ctx.res, 200, imageInspectForVersion(await img(ctx).inspect(name(ctx), platform), ctx.version));
  });
  router.get('/images/{name:.*}/history', async (ctx) => {
    const platform = versionAtLeast(ctx.version, '1.48') ? decodePlatform(ctx.query.get('platform')) : undefined;
    sendJSON(ctx.res, 200, await img(ctx).history(name(ctx), platform));
  });
  router.get('/images/{name:.*}/get', (ctx) => save(ctx, [name(ctx)]));
  router.post('/images/{name:.*}/tag', async (ctx) => {
    await img(ctx).tag(name(ctx), ctx.query.get('repo') ?? '', ctx.query.get('tag') || undefined);
    sendEmpty(ctx.res, 201);
  });
  router.post('/images/{name:.*}/push', async (ctx) => {
    const images = img(ctx);
    const stream = images.push(name(ctx), ctx.query.get('tag') || undefined, decodeRegistryAuth(ctx.req.headers['x-registry-auth']));
    await writeProgressStream(ctx.res, stream, { errorStatusBeforeFirst: true });
  });
  router.get('/distribution/{name:.*}/json', async (ctx) => {
    // Undecodable credentials count as none, as in Docker.
    sendJSON(ctx.res, 200, await img(ctx).distributionInspect(ctx.params.name!, decodeRegistryAuth(ctx.req.headers['x-registry-auth'])));
  });
  router.post('/auth', async (ctx) => {
    const images = img(ctx);
    const auth = (await readJSON<RegistryAuth>(ctx.req, AUTH_CONFIG)) ?? {};
    // Bad credentials are an Unauthorized error: 401 with Docker's message.
    sendJSON(ctx.res, 200, await images.login(auth));
  });
  router.delete('/images/{name:.*}', async (ctx) => {
    const deleted = await img(ctx).remove(name(ctx), { force: boolValue(ctx.query, 'force'), noprune: boolValue(ctx.query, 'noprune') });
    sendJSON(ctx.res, 200, deleted);
  });
}
