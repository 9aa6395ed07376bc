/**
 * A request that carries `Upgrade:` without `Connection: Upgrade`, taken over as an upgrade.
 *
 * Go's server lets any handler hijack its connection, and moby's attach, exec start, /session
 * and /grpc upgrade on the Upgrade header alone; moby's own test clients send nothing else.
 * Node's parser upgrades only with both headers, so such a request reaches the router as a plain
 * one, whose connection Node's HTTP server keeps parsing. This reads the request's body through
 * the parser (bounded as any JSON body), then takes the connection from the server the way Node
 * does for an upgrade (its listeners off the socket, its parser freed), and the route goes on as
 * for an upgrade, the body being what the upgrade's `head` holds. It uses Node's own
 * `_http_common.freeParser` and the server's listener names; when they are not as expected, the
 * request stays a plain one (a 200 stream instead of the 101).
 */
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { readBody } from './request.js';
import type { RequestContext } from './router.js';

type FreeParser = (parser: unknown, req: IncomingMessage, socket: Socket) => void;

const freeParser = (() => {
  try {
    const common = createRequire(import.meta.url)('_http_common') as { freeParser?: unknown };
    return typeof common.freeParser === 'function' ? (common.freeParser as FreeParser) : undefined;
  } catch {
    return undefined;
  }
})();

/** The events Node's HTTP server listens to on a connection, and its handlers' names. */
const SERVER_EVENTS = ['data', 'end', 'close', 'drain', 'error', 'timeout'] as const;
const SERVER_HANDLER = /^(bound )?socketOn/;

/** Makes `ctx` an upgraded request when it asks for an upgrade with the Upgrade header alone. */
export async function upgradeOnHeaderAlone(ctx: RequestContext): Promise<void> {
  if (ctx.upgrade || ctx.req.headers.upgrade === undefined || !freeParser) return;
  const socket = ctx.req.socket as Socket & { parser?: unknown };
  if (!socket.parser) return;
  const body = await readBody(ctx.req);
  if (!socket.parser || socket.destroyed) return;
  // The upgrade's body is taken by its length (hijack.ts): a chunked one has it only now.
  if (body.length > 0 && ctx.req.headers['content-length'] === undefined) ctx.req.headers['content-length'] = String(body.length);
  for (const event of SERVER_EVENTS) {
    for (const listener of socket.listeners(event)) {
      if (SERVER_HANDLER.test((listener as { name?: string }).name ?? '')) socket.removeListener(event, listener as () => void);
    }
  }
  freeParser(socket.parser, ctx.req, socket);
  // As Node leaves an upgraded socket: data is held until the route reads it (a pipe, a 'data'
  // listener or an HTTP/2 session), not paused, which a 'data' listener would not undo.
  (socket as { readableFlowing: boolean | null }).readableFlowing = null;
  socket.on('error', () => {});
  // An error answered after this closes the connection, as on any upgrade.
  ctx.res.shouldKeepAlive = false;
  ctx.upgrade = { socket, head: body };
}
