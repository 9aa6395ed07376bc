/**
 * A connection that closes after an answer given before the request's body was read (a 400 for
 * a wrong Content-Type, an API version refused, a 404) reads on until the client has sent its
 * body. Node's server destroys such a socket as soon as the answer is written, and a client still
 * writing the body (Go's clients with keep-alive off send `Connection: close`) then fails with a
 * broken pipe instead of reading the answer. Go's server, which Docker clients expect, shuts down
 * only its writing side and reads on for a moment (its rstAvoidanceDelay) before closing.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/** Go's rstAvoidanceDelay: how long a closing connection keeps reading at most. */
const LINGER_MS = 500;

/** The request each patched socket serves now. */
const current = new WeakMap<Duplex, IncomingMessage>();

type ClosingSocket = Duplex & { destroySoon?: () => void };

/** Call for every request before it is answered; a no-op for requests whose body has arrived whole. */
export function lingerWhileBodyPending(req: IncomingMessage): void {
  const socket = req.socket as ClosingSocket;
  if (req.complete) return;
  if (!current.has(socket)) patch(socket);
  current.set(socket, req);
}

/** Node's server ends a connection that is not kept alive with socket.destroySoon(). */
function patch(socket: ClosingSocket): void {
  const destroySoon = socket.destroySoon;
  if (typeof destroySoon !== 'function') return;
  socket.destroySoon = function (this: ClosingSocket) {
    const req = current.get(this);
    if (!req || req.complete || this.destroyed) return destroySoon.call(this);
    // The server's parser reads on and discards the rest of the body (the request was dumped).
    const close = () => {
      clearTimeout(timer);
      req.off('end', close);
      this.off('end', close);
      if (this.writableFinished) this.destroy();
      else this.once('finish', () => this.destroy());
    };
    const timer = setTimeout(close, LINGER_MS);
    req.once('end', close);
    this.once('end', close);
    this.once('close', () => clearTimeout(timer));
    this.end();
  };
}
