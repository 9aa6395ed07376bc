/** Network routes: /networks list, inspect, create, delete, connect, disconnect, prune. */
import type { NetworkBackend } from '../backend.js';
import type { RequestContext, Router } from '../router.js';
import { boolValue, parseFilters, sendEmpty, sendJSON } from '../request.js';
import type { StructShape } from '../../lib/go-json.js';
import { readJSON } from '../json-body.js';
import { NETWORK_CONNECT, NETWORK_CREATE, NETWORK_DISCONNECT } from '../body-shapes.js';
import type { EndpointSettings, NetworkCreateRequest } from '../types.js';
import { invalidParameter } from '../../lib/errors.js';
import { versionAtLeast } from '../version.js';

function backend(ctx: RequestContext): NetworkBackend {
  return ctx.backend.networks;
}

async function jsonObject(ctx: RequestContext, shape: StructShape): Promise<Record<string, unknown>> {
  return (await readJSON<Record<string, unknown>>(ctx.req, shape)) ?? {};
}

/** Below API 1.28 the list is moby's detailed one: each network with its containers, as inspect shows them. */
async function listNetworks(ctx: RequestContext): Promise<void> {
  const detailed = !versionAtLeast(ctx.version, '1.28');
  sendJSON(ctx.res, 200, await backend(ctx).list(parseFilters(ctx.query.get('filters')), { detailed }));
}

export function networkRoutes(router: Router): void {
  router.get('/networks', listNetworks);
  router.get('/networks/', listNetworks);
  router.post('/networks/create', async (ctx) => {
    const body = (await jsonObject(ctx, NETWORK_CREATE)) as unknown as NetworkCreateRequest;
    if (typeof body.Name !== 'string') throw invalidParameter('network name must not be empty');
    // EnableIPv4 came with API 1.48: older clients' requests get IPv4, as moby ignores the field for them.
    if (!versionAtLeast(ctx.version, '1.48')) delete body.EnableIPv4;
    sendJSON(ctx.res, 201, await backend(ctx).create(body));
  });
  router.post('/networks/prune', async (ctx) => {
    sendJSON(ctx.res, 200, await backend(ctx).prune(parseFilters(ctx.query.get('filters'))));
  });
  router.get('/networks/{id:.+}', async (ctx) => {
    const scope = ctx.query.get('scope') || undefined;
    sendJSON(ctx.res, 200, await backend(ctx).inspect(ctx.params.id!, { verbose: boolValue(ctx.query, 'verbose'), scope }));
  });
  router.delete('/networks/{id:.*}', async (ctx) => {
    await backend(ctx).remove(ctx.params.id!);
    sendEmpty(ctx.res, 204);
  });
  router.post('/networks/{id:.*}/connect', async (ctx) => {
    const body = await jsonObject(ctx, NETWORK_CONNECT);
    const container = body.Container;
    if (typeof container !== 'string' || !container) throw invalidParameter('no container specified');
    await backend(ctx).connect(ctx.params.id!, container, (body.EndpointConfig ?? undefined) as EndpointSettings | undefined);
    sendEmpty(ctx.res, 200);
  });
  router.post('/networks/{id:.*}/disconnect', async (ctx) => {
    const body = await jsonObject(ctx, NETWORK_DISCONNECT);
    const container = body.Container;
    if (typeof container !== 'string' || !container) throw invalidParameter('no container specified');
    await backend(ctx).disconnect(ctx.params.id!, container, body.Force === true);
    sendEmpty(ctx.res, 200);
  });
}
