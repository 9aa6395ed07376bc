/**
 * Checkpoint routes as an engine without experimental features answers them (moby registers them
 * experimental, first of all routes, so `DELETE /containers/x/checkpoints/y` never names a
 * container). Wharf has no checkpoint/restore.
 */
import type { Handler, Router } from '../router.js';
import { notImplemented } from '../../lib/errors.js';

const experimentalOnly: Handler = () => {
  throw notImplemented('This experimental feature is disabled by default. Start the Docker daemon in experimental mode in order to enable it.');
};

export function checkpointRoutes(router: Router): void {
  router.get('/containers/{name:.*}/checkpoints', experimentalOnly);
  router.post('/containers/{name:.*}/checkpoints', experimentalOnly);
  router.delete('/containers/{name}/checkpoints/{checkpoint}', experimentalOnly);
}
