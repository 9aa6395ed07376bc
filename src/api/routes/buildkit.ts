/**
 * POST /grpc and POST /session: BuildKit's API, which the Docker CLI's buildx plugin (and
 * docker-compose's builder) dial with `Upgrade: h2c` and then speak gRPC over HTTP/2 on. As in
 * moby, a request without the upgrade is refused naming what was missing: a 500 on /grpc, a 400
 * on /session (whose route makes every error of the session manager an invalid parameter).
 */
import { invalidParameter } from '../../lib/errors.js';
import type { RequestContext, Router } from '../router.js';

/** The header values of `name`: a list sent as repeated headers arrives joined with ", ". */
function headerList(ctx: RequestContext, name: string): string[] {
  const v = ctx.req.headers[name];
  const all = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return all.flatMap((x) => x.split(',')).map((x) => x.trim()).filter((x) => x !== '');
}

/** Answers 101 and takes the connection; throws moby's errors (made by `fail`) when the request cannot be upgraded to h2c. */
function upgradeToH2c(ctx: RequestContext, fail: (message: string) => Error = (m) => new Error(m)) {
  const proto = ctx.req.headers.upgrade ?? '';
  if (proto === '') throw fail('no upgrade proto in request');
  if (proto.toLowerCase() !== 'h2c') throw fail(`protocol ${proto} not supported`);
  if (!ctx.upgrade) throw fail('no upgrade proto in request');
  const { socket, head } = ctx.upgrade;
  ctx.res.detachSocket(socket as never);
  ctx.trackHijacked(socket);
  socket.on('error', () => {});
  socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
  return { socket, head };
}

export function buildkitRoutes(router: Router): void {
  router.post('/grpc', (ctx) => {
    const { socket, head } = upgradeToH2c(ctx);
    ctx.backend.buildkit.serveControl(socket, head);
  });
  router.post('/session', (ctx) => {
    const id = ctx.req.headers['x-docker-expose-session-uuid'];
    if (typeof id !== 'string' || id === '') throw invalidParameter('no session id in request');
    if (ctx.backend.buildkit.hasSession(id)) throw invalidParameter(`session ${id} already exists`);
    const name = ctx.req.headers['x-docker-expose-session-name'];
    const session = { id, name: typeof name === 'string' ? name : '', methods: headerList(ctx, 'x-docker-expose-session-grpc-method') };
    const { socket, head } = upgradeToH2c(ctx, invalidParameter);
    ctx.backend.buildkit.attachSession(session, socket, head);
  });
}
