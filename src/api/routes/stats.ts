/** GET /containers/{id}/stats: Docker's stats JSON, one object per second or a single one. */
import { invalidParameter } from '../../lib/errors.js';
import { boolValue, boolValueOrDefault, drain } from '../request.js';
import type { RequestContext, Router } from '../router.js';

async function getStats(ctx: RequestContext): Promise<void> {
  const { query, res } = ctx;
  const stream = boolValueOrDefault(query, 'stream', true);
  const oneShot = boolValue(query, 'one-shot');
  if (stream && oneShot) throw invalidParameter('cannot have stream=true and one-shot=true');
  const containers = ctx.backend.containers;
  // Lookup errors (no such container) are still HTTP errors: nothing is written before this.
  const stats = await containers.stats(ctx.params.name!, { stream, oneShot });
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.flushHeaders();
  const onClose = () => stats.close();
  res.once('close', onClose);
  try {
    for await (const sample of stats.samples) {
      if (res.destroyed) break;
      res.write(JSON.stringify(sample) + '\n');
      await drain(res);
    }
  } finally {
    res.off('close', onClose);
    stats.close();
    if (!res.destroyed) res.end();
  }
}

export function statsRoutes(router: Router): void {
  router.get('/containers/{name:.*}/stats', getStats);
}
