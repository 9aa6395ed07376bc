/**
 * Plugin routes of an engine with no managed plugins: the list is empty and validated as
 * Docker validates it, lookups of a name answer Docker's `plugin "x" not found`, and
 * installing one is refused (wharfd has no plugin manager). A remote plugin's privileges are
 * read from its registry, which needs no plugin manager.
 */
import type { Handler, RequestContext, Router } from '../router.js';
import { parseFilters, sendJSON } from '../request.js';
import { decodeRegistryAuth } from '../../distribution/auth-config.js';
import { invalidParameter, notFound, notImplemented } from '../../lib/errors.js';

const LIST_FILTERS = new Set(['capability', 'enabled']);

function listPlugins(ctx: RequestContext): void {
  const filters = parseFilters(ctx.query.get('filters'));
  for (const key of Object.keys(filters)) if (!LIST_FILTERS.has(key)) throw invalidParameter(`invalid filter '${key}'`);
  const enabled = filters.enabled ?? [];
  if (enabled.length > 1) throw invalidParameter(`got more than one value for filter key "enabled"`);
  for (const v of enabled) {
    if (!['true', 'false', '1', '0'].includes(v.toLowerCase())) {
      throw invalidParameter(`invalid value for filter 'enabled', must be "true" (or "1"), or "false" (or "0")`);
    }
  }
  sendJSON(ctx.res, 200, []);
}

const noSuchPlugin: Handler = (ctx) => {
  throw notFound(`plugin ${JSON.stringify(ctx.params.name)} not found`);
};

const privileges: Handler = async (ctx) => {
  const remote = ctx.query.get('remote') ?? '';
  sendJSON(ctx.res, 200, await ctx.backend.images.pluginPrivileges(remote, decodeRegistryAuth(ctx.req.headers['x-registry-auth'])));
};

const noPluginManager: Handler = () => {
  throw notImplemented('plugins are not supported by wharfd: there is no plugin manager to install them into');
};

export function pluginRoutes(router: Router): void {
  router.get('/plugins', listPlugins);
  router.get('/plugins/privileges', privileges);
  router.post('/plugins/pull', noPluginManager);
  router.post('/plugins/create', noPluginManager);
  router.get('/plugins/{name:.*}/json', noSuchPlugin);
  router.post('/plugins/{name:.*}/enable', noSuchPlugin);
  router.post('/plugins/{name:.*}/disable', noSuchPlugin);
  router.post('/plugins/{name:.*}/push', noSuchPlugin);
  router.post('/plugins/{name:.*}/upgrade', noSuchPlugin);
  router.post('/plugins/{name:.*}/set', noSuchPlugin);
  router.delete('/plugins/{name:.*}', noSuchPlugin);
}
