/** System routes: /_ping, /version, /info, /system/df, and OPTIONS on any path. */
import type { RequestContext, Router } from '../router.js';
import { intValue, parseFilters, sendJSON } from '../request.js';
import { invalidParameter } from '../../lib/errors.js';
import { versionAtLeast } from '../version.js';
import type { DiskUsageType } from '../types.js';
import { imageSummariesForVersion } from '../image-compat.js';

/** The classic builder; Wharf has no BuildKit, so clients must not expect one. */
export const BUILDER_VERSION = '1';

function ping(ctx: RequestContext): void {
  const { req, res } = ctx;
  res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
  res.setHeader('Pragma', 'no-cache');
  res.setHeader('Builder-Version', BUILDER_VERSION);
  res.setHeader('Swarm', 'inactive');
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  if (req.method === 'HEAD') {
    res.setHeader('Content-Length', '0');
    res.writeHead(200);
    res.end();
    return;
  }
  res.setHeader('Content-Length', '2');
  res.writeHead(200);
  res.end('OK');
}

export function systemRoutes(router: Router): void {
  router.get('/_ping', ping);
  router.head('/_ping', ping);
  router.get('/version', async (ctx) => sendJSON(ctx.res, 200, await ctx.backend.system.version()));
  router.get('/info', async (ctx) => sendJSON(ctx.res, 200, await ctx.backend.system.info(ctx.version)));
  // The classic builder's cache is its images; the build cache here is RUN --mount=type=cache's
  // directories. `all` changes nothing: unlike BuildKit's layer records, none is ever shared.
  router.post('/build/prune', async (ctx) => {
    const q = ctx.query;
    const keep = q.get('reserved-space') ?? q.get('keep-storage');
    const keepBytes = keep ? intValue(q, q.has('reserved-space') ? 'reserved-space' : 'keep-storage') : undefined;
    const { deleted, reclaimed } = await ctx.backend.build.pruneCache({ filters: parseFilters(q.get('filters')), ...(keepBytes ? { keepBytes } : {}) });
    sendJSON(ctx.res, 200, { CachesDeleted: deleted.length ? deleted.map((r) => r.ID) : null, SpaceReclaimed: reclaimed });
  });
  router.get('/system/df', async (ctx) => {
    const types = parseDiskUsageTypes(ctx.query.getAll('type'), versionAtLeast(ctx.version, '1.42'));
    const usage = await ctx.backend.diskUsage.usage(types);
    if (usage.Images) imageSummariesForVersion(usage.Images, ctx.version);
    sendJSON(ctx.res, 200, usage);
  });
  // Docker answers OPTIONS on any path with an empty 200 (CORS preflights).
  const options = (ctx: RequestContext) => {
    ctx.res.setHeader('Content-Length', '0');
    ctx.res.writeHead(200);
    ctx.res.end();
  };
  router.add('OPTIONS', '/', options);
  router.add('OPTIONS', '/{anyroute:.*}', options);
}

const DISK_USAGE_TYPES: readonly DiskUsageType[] = ['container', 'image', 'volume', 'build-cache'];

/** Parses `?type=` values (API ≥ 1.42); older versions or no `type` mean everything. */
export function parseDiskUsageTypes(values: string[], typesSupported: boolean): DiskUsageType[] | null {
  if (!typesSupported || values.length === 0) return null;
  const out: DiskUsageType[] = [];
  for (const v of values) {
    if (!(DISK_USAGE_TYPES as readonly string[]).includes(v)) throw invalidParameter(`unknown object type: ${v}`);
    out.push(v as DiskUsageType);
  }
  return out;
}
