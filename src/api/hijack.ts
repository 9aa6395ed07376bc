/**
 * Connection hijacking for attach (and exec): the response becomes a raw byte stream in both
 * directions. With `Connection: Upgrade` + `Upgrade: tcp` the client gets `101 UPGRADED` and the
 * socket; without, a `200 OK` whose body is the stream and whose request body is stdin.
 */
import { STATUS_CODES } from 'node:http';
import { PassThrough, finished, type Readable, type Writable } from 'node:stream';
import { invalidParameter } from '../lib/errors.js';
import { FREE_BYTES, reserveBodyBytes } from './body-budget.js';
import { errorMessage, statusForError } from './errors.js';
import { MAX_JSON_BODY } from './request.js';
import type { RequestContext } from './router.js';
import { COMMON_HEADERS } from './router.js';
import { STDERR, STDOUT, streamWriter } from './stdcopy.js';
import { versionAtLeast } from './version.js';

export const RAW_STREAM = 'application/vnd.docker.raw-stream';
export const MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

export interface HijackedStreams {
  /** What the client sends; ends when the client half-closes (or its request body ends). */
  stdin: Readable;
  /** Container stdout: framed as stream 1 unless tty. */
  stdout: Writable;
  /** Container stderr: framed as stream 2 unless tty (with a tty it is raw, like stdout). */
  stderr: Writable;
  /** Ends the connection (flushes what was written, then closes). */
  end(): void;
}

/**
 * The body an upgraded request declared with Content-Length. Node hands everything after the
 * headers of an upgrade over as `head` + socket data, so the body is taken from there and only
 * what follows it is left (in `ctx.upgrade.head`) for the stream. Docker never sees a body as
 * stdin: it drops what was read with the request when it hijacks. Empty without a length.
 */
export async function takeUpgradedBody(ctx: RequestContext): Promise<Buffer> {
  if (!ctx.upgrade) return Buffer.alloc(0);
  const len = Number(ctx.req.headers['content-length'] ?? 0);
  if (!Number.isInteger(len) || len <= 0) return Buffer.alloc(0);
  // Held in memory until complete: bounded as any JSON body is.
  if (len > MAX_JSON_BODY) throw invalidParameter(`request body too large: more than ${MAX_JSON_BODY} bytes`);
  const { socket } = ctx.upgrade;
  let buf = ctx.upgrade.head;
  if (buf.length < len) {
    // Past its first FREE_BYTES a body waits for room in the daemon-wide pool (api/body-budget.ts), unread.
    socket.pause();
    const release = len > FREE_BYTES ? await reserveBodyBytes(len - FREE_BYTES) : undefined;
    buf = await new Promise<Buffer>((resolve, reject) => {
      const parts = [buf];
      let have = buf.length;
      const onData = (d: Buffer) => {
        parts.push(d);
        have += d.length;
        if (have >= len) {
          cleanup();
          socket.pause();
          resolve(Buffer.concat(parts));
        }
      };
      const onEnd = () => {
        cleanup();
        reject(invalidParameter('unexpected end of the request body'));
      };
      const cleanup = () => {
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.off('error', onEnd);
        socket.off('close', onEnd);
      };
      socket.on('data', onData);
      socket.once('end', onEnd);
      socket.once('error', onEnd);
      // The client may have gone while the body waited for room.
      socket.once('close', onEnd);
      if (socket.destroyed) onEnd();
      else socket.resume();
    }).finally(() => release?.());
  }
  ctx.upgrade = { socket, head: buf.subarray(len) };
  return buf.subarray(0, len);
}

/** Keeps an ended hijacked socket from lingering if the peer never closes its side. */
const LINGER_MS = 10_000;

/**
 * moby's answer when attach fails before its streams are set up (no such container…): it takes
 * the connection over anyway and writes the status line, the raw-stream content type and the
 * bare message, then closes. Clients read that text, not Docker's usual JSON error.
 */
export function refuseHijack(ctx: RequestContext, err: unknown): void {
  const status = statusForError(err);
  const socket = ctx.upgrade?.socket ?? ctx.req.socket;
  ctx.res.detachSocket(socket as never);
  socket.on('error', () => {});
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: ${RAW_STREAM}\r\n\r\n${errorMessage(err)}\r\n`);
}

/**
 * Takes over the connection. Call only after everything that can fail with an HTTP error has
 * been done. `tty` decides framing; the multiplexed content type is announced only on upgraded
 * connections of API >= 1.42, as Docker does.
 */
export function hijack(ctx: RequestContext, opts: { tty: boolean }): HijackedStreams {
  const multiplexed = !opts.tty;
  let out: Writable;
  let stdin: Readable;
  let endConnection: () => void;

  if (ctx.upgrade) {
    const { socket, head } = ctx.upgrade;
    ctx.res.detachSocket(socket as never);
    ctx.trackHijacked(socket);
    const contentType = multiplexed && versionAtLeast(ctx.version, '1.42') ? MULTIPLEXED_STREAM : RAW_STREAM;
    let header = `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n`;
    for (const [k, v] of Object.entries(COMMON_HEADERS)) header += `${k}: ${v}\r\n`;
    socket.write(header + '\r\n');
    const input = new PassThrough();
    if (head.length) input.write(head);
    socket.pipe(input);
    // A connection that dies without a FIN still ends stdin.
    socket.once('close', () => {
      if (!input.writableEnded) input.end();
    });
    socket.on('error', () => {});
    stdin = input;
    out = socket;
    endConnection = () => {
      if (socket.destroyed) return;
      socket.end();
      // With half-open sockets Node closes once both sides ended; don't wait forever on a peer.
      if (!socket.readableEnded) {
        const t = setTimeout(() => socket.destroy(), LINGER_MS);
        t.unref();
        socket.once('close', () => clearTimeout(t));
      }
    };
  } else {
    const { req, res } = ctx;
    res.writeHead(200, { 'Content-Type': RAW_STREAM });
    res.flushHeaders();
    stdin = req;
    out = res;
    endConnection = () => {
      if (!res.writableEnded) res.end();
    };
  }

  const stdout = streamWriter(out, multiplexed ? STDOUT : null);
  const stderr = streamWriter(out, multiplexed ? STDERR : null);
  // Consumers learn that the client went away through 'close' on the writers.
  out.once('close', () => {
    stdout.destroy();
    stderr.destroy();
  });
  let ended = false;
  return {
    stdin,
    stdout,
    stderr,
    end() {
      if (ended) return;
      ended = true;
      // Let both writers hand over what they still buffer, then end the connection.
      let pending = 2;
      const one = () => {
        if (--pending === 0) endConnection();
      };
      for (const w of [stdout, stderr]) {
        if (w.destroyed || w.writableFinished) one();
        else {
          finished(w, one);
          w.end();
        }
      }
    },
  };
}
