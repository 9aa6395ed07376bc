/**
 * POST /grpc and POST /session: BuildKit's API, which the Docker CLI's buildx plugin (and
 * docker-compose's builder) dial with `Upgrade: h2c` and then speak gRPC over HTTP/2 on. As in
 * moby, a request without the upgrade is refused naming what was missing: a 500 on /grpc, a 400
 * on /session (whose route makes every error of the session manager an invalid parameter).
 */
import { invalidParameter } from '../../lib/errors.js';
import { upgradeOnHeaderAlone } from '../plain-upgrade.js';
import type { RequestContext, Router } from '../router.js';

/** The header values of `name`: a list sent as repeated headers arrives joined with ", ". */
function headerList(ctx: RequestContext, name: string): string[] {
  const v = ctx.req.headers[name];
  const all = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return all.flatMap((x) => x.split(',')).map((x) => x.trim()).filter((x) => x !== '');
}

/** Answers 101 and takes the connection; throws moby's errors (made by `fail`) when the request cannot be upgraded to h2c. */
async function upgradeToH2c(ctx: RequestContext, fail: (message: string) => Error = (m) => new Error(m)) {
  const proto = ctx.req.headers.upgrade ?? '';
  if (proto === '') throw fail('no upgrade proto in request');
  if (proto.toLowerCase() !== 'h2c') throw fail(`protocol ${proto} not supported`);
  await upgradeOnHeaderAlone(ctx);
  if (!ctx.upgrade) throw fail('no upgrade proto in request');
  const { socket, head } = ctx.upgrade;
  ctx.res.detachSocket(socket as never);
  ctx.trackHijacked(socket);
  socket.on('error', () => {});
  socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
  return { socket, head };
}

export function buildkitRoutes(router: Router): void {
  router.post('/grpc', async (ctx) => {
    const { socket, head } = await upgradeToH2c(ctx);
    ctx.backend.buildkit.serveControl(socket, head);
  });
  router.post('/session', async (ctx) => {
    // moby reads no more than the header's value: a missing one is the session "".
    const raw = ctx.req.headers['x-docker-expose-session-uuid'];
    const id = typeof raw === 'string' ? raw : '';
    // Held from here: the upgrade may wait for a body, and a second request of the id must not pass meanwhile.
    if (!ctx.backend.buildkit.claimSession(id)) throw invalidParameter(`session ${id} already exists`);
    try {
      const name = ctx.req.headers['x-docker-expose-session-name'];
      const session = { id, name: typeof name === 'string' ? name : '', methods: headerList(ctx, 'x-docker-expose-session-grpc-method') };
      const { socket, head } = await upgradeToH2c(ctx, invalidParameter);
      ctx.backend.buildkit.attachSession(session, socket, head);
    } finally {
      ctx.backend.buildkit.releaseSession(id);
    }
  });
}
