/** Volume routes: /volumes list, create, inspect, update (none: no swarm), delete, prune. */
import type { VolumeBackend } from '../backend.js';
import type { RequestContext, Router } from '../router.js';
import { boolValue, parseFilters, sendEmpty, sendJSON } from '../request.js';
import { readJSON } from '../json-body.js';
import { VOLUME_CREATE } from '../body-shapes.js';
import type { VolumeCreateRequest } from '../types.js';
import { compareVersions } from '../version.js';
import { unavailable } from '../../lib/errors.js';

function backend(ctx: RequestContext): VolumeBackend {
  return ctx.backend.volumes;
}

export function volumeRoutes(router: Router): void {
  router.get('/volumes', async (ctx) => {
    sendJSON(ctx.res, 200, await backend(ctx).list(parseFilters(ctx.query.get('filters'))));
  });
  router.post('/volumes/create', async (ctx) => {
    const body = (await readJSON<VolumeCreateRequest>(ctx.req, VOLUME_CREATE)) ?? {};
    sendJSON(ctx.res, 201, await backend(ctx).create(body));
  });
  router.post('/volumes/prune', async (ctx) => {
    const filters = parseFilters(ctx.query.get('filters'));
    // Before API 1.42 prune took every unused local volume, not only anonymous ones.
    if (compareVersions(ctx.version, '1.42') < 0) filters.all = ['true'];
    sendJSON(ctx.res, 200, await backend(ctx).prune(filters));
  });
  router.get('/volumes/{name:.*}', async (ctx) => {
    sendJSON(ctx.res, 200, await backend(ctx).inspect(ctx.params.name!));
  });
  // Updates are for cluster (CSI) volumes, which need a swarm: moby's answer without one.
  router.add('PUT', '/volumes/{name:.*}', () => {
    throw unavailable('volume update only valid for cluster volumes, but swarm is unavailable');
  });
  router.delete('/volumes/{name:.*}', async (ctx) => {
    await backend(ctx).remove(ctx.params.name!, { force: boolValue(ctx.query, 'force') });
    sendEmpty(ctx.res, 204);
  });
}
