/**
 * Swarm routes as an engine that is not part of a swarm answers them. Wharf has no swarm mode:
 * clients (and their clean-up code) rely on Docker's 503 answers and texts to tell "no swarm"
 * from a broken daemon, so every swarm-only route answers as Docker's does before `swarm init`.
 */
import type { Handler, Router } from '../router.js';
import { notImplemented, unavailable } from '../../lib/errors.js';

/** Docker's errNoManager for a node with no swarm. */
export const NOT_A_MANAGER =
  'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
/** Docker's errNoSwarm (leaving a swarm that was never joined). */
export const NOT_IN_A_SWARM = 'This node is not part of a swarm';

const noManager: Handler = () => {
  throw unavailable(NOT_A_MANAGER);
};

const MANAGER_ROUTES: Array<[method: 'get' | 'post' | 'delete', pattern: string]> = [
  ['get', '/swarm'],
  ['get', '/swarm/unlockkey'],
  ['post', '/swarm/update'],
  ['post', '/swarm/unlock'],
  ['get', '/services'],
  ['get', '/services/{id}'],
  ['post', '/services/create'],
  ['post', '/services/{id}/update'],
  ['delete', '/services/{id}'],
  ['get', '/services/{id}/logs'],
  ['get', '/nodes'],
  ['get', '/nodes/{id}'],
  ['delete', '/nodes/{id}'],
  ['post', '/nodes/{id}/update'],
  ['get', '/tasks'],
  ['get', '/tasks/{id}'],
  ['get', '/tasks/{id}/logs'],
  ['get', '/secrets'],
  ['post', '/secrets/create'],
  ['get', '/secrets/{id}'],
  ['delete', '/secrets/{id}'],
  ['post', '/secrets/{id}/update'],
  ['get', '/configs'],
  ['post', '/configs/create'],
  ['get', '/configs/{id}'],
  ['delete', '/configs/{id}'],
  ['post', '/configs/{id}/update'],
];

export function swarmRoutes(router: Router): void {
  for (const [method, pattern] of MANAGER_ROUTES) router[method](pattern, noManager);
  router.post('/swarm/leave', () => {
    throw unavailable(NOT_IN_A_SWARM);
  });
  const noSwarmMode: Handler = () => {
    throw notImplemented('swarm mode is not supported by wharfd: this engine cannot initialize or join a swarm');
  };
  router.post('/swarm/init', noSwarmMode);
  router.post('/swarm/join', noSwarmMode);
}
