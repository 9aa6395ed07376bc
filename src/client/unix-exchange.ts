/**
 * One HTTP/1.1 request and its whole answer over a unix socket, with node:net alone. The CLI's
 * JSON requests (ping, version, ps, inspect, create, start, rm…) go through it: loading node:http
 * and making its first request cost about a fifth of `wharf version`'s CPU time, which matters for
 * a command that runs for a few tens of milliseconds (README, Benchmark). Hijacks go through
 * unixHijack below; streamed bodies, tcp and TLS keep node:http (engine-client.ts). The request
 * says `Connection: close`, so the answer is everything the daemon sends before it closes; the
 * body is then cut by Content-Length or decoded from chunks. A `keepAlive` exchange (the ping)
 * instead ends with its answer's length and hands back the connection, idle, for the next
 * exchange: as the Docker CLI, which sends its ping and first request on one connection, one
 * connect (client and daemon work) fewer per command.
 */
import { connect, type Socket } from 'node:net';

export interface UnixResponse {
  status: number;
  /** The reason phrase of the status line (`Not Found`). */
  reason: string;
  /** Lower-cased names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  body: Buffer;
  /** Where the answer ends in the bytes read; undefined when its body runs until the daemon closes. */
  end?: number;
  /** keepAlive: the connection, open and idle, when the daemon keeps it after this answer. */
  idle?: Socket;
}

/** Thrown for an answer that is not HTTP/1.x as this reader understands it. */
export class MalformedResponse extends Error {}
/** Thrown for an answer cut short (more bytes would complete it). */
class TruncatedResponse extends MalformedResponse {}

const HEAD_END = Buffer.from('\r\n\r\n');

/** The body and the length of its chunked encoding (up to the end of the trailers). */
function decodeChunked(data: Buffer): { body: Buffer; length: number } {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol < 0) throw new TruncatedResponse('truncated chunked body');
    const size = parseInt(data.subarray(at, eol).toString('latin1').split(';')[0]!.trim(), 16);
    if (!Number.isFinite(size) || size < 0) throw new MalformedResponse('bad chunk size');
    if (size === 0) {
      // Trailers, if any, are not used; they end with an empty line (-1: not all read yet).
      const end = data.indexOf(HEAD_END, eol);
      return { body: Buffer.concat(parts), length: end < 0 ? -1 : end + HEAD_END.length };
    }
    const start = eol + 2;
    if (start + size > data.length) throw new TruncatedResponse('truncated chunk');
    parts.push(data.subarray(start, start + size));
    at = start + size + 2;
  }
}

interface ResponseHead {
  status: number;
  reason: string;
  headers: Record<string, string>;
  /** Where the body starts in the bytes read. */
  bodyAt: number;
}

/**
 * The head of the first answer in `data` that is not a 1xx interim one (101 Switching Protocols
 * is final where `upgrade`), or undefined while it is incomplete.
 */
function parseHead(data: Buffer, upgrade = false): ResponseHead | undefined {
  let at = 0;
  for (;;) {
    const end = data.indexOf(HEAD_END, at);
    if (end < 0) return undefined;
    const lines = data.subarray(at, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
    if (!m) throw new MalformedResponse(`malformed status line ${JSON.stringify(lines[0] ?? '')}`);
    const status = Number(m[1]);
    if (status >= 100 && status < 200 && !(upgrade && status === 101)) {
      at = end + HEAD_END.length;
      continue;
    }
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new MalformedResponse(`malformed header line ${JSON.stringify(line)}`);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    return { status, reason: m[2] ?? '', headers, bodyAt: end + HEAD_END.length };
  }
}

/**
 * Parses one complete answer (head and all the bytes after it). 1xx interim answers are skipped.
 * An answer cut short throws a MalformedResponse (a TruncatedResponse: more bytes would complete it).
 */
export function parseResponse(data: Buffer, method: string): UnixResponse {
  const h = parseHead(data);
  if (!h) throw new TruncatedResponse('truncated response head');
  const { status, headers, bodyAt } = h;
  const rest = data.subarray(bodyAt);
  let body: Buffer;
  let length: number | undefined;
  if (method === 'HEAD' || status === 204 || status === 304) [body, length] = [Buffer.alloc(0), 0];
  else if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) {
    const chunked = decodeChunked(rest);
    [body, length] = [chunked.body, chunked.length < 0 ? undefined : chunked.length];
  } else if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (!Number.isSafeInteger(n) || n < 0) throw new MalformedResponse('bad Content-Length');
    if (n > rest.length) throw new TruncatedResponse('truncated body');
    [body, length] = [rest.subarray(0, n), n];
  } else body = rest;
  return { status, reason: h.reason, headers, body, end: length === undefined ? undefined : bodyAt + length };
}

export interface ExchangeOptions {
  /** Called once the request is written. */
  sent?: () => void;
  /** Keep the connection: no `Connection: close`, and the answer's `idle` is the connection when the daemon keeps it. */
  keepAlive?: boolean;
  /** An idle connection to the socket (a keepAlive exchange's `idle`) to send the request on. */
  via?: Socket;
  /** Called once the head of a 2xx answer is in, before its body (a wait: the waiter is registered). */
  onHead?: () => void;
}

/**
 * Sends `head` (the request line and headers, without the blank line; `Connection: close` is added
 * unless keepAlive) and `body` to the socket and resolves with the answer once the daemon has
 * closed (keepAlive: once the answer is complete). Connection errors reject with node's error (its
 * `code`: ENOENT, ECONNREFUSED, EACCES…).
 */
export function unixExchange(socketPath: string, method: string, head: string, body?: Buffer, opts: ExchangeOptions = {}): Promise<UnixResponse> {
  const idle = opts.via;
  if (!idle || idle.destroyed || !idle.writable) {
    idle?.destroy();
    return exchangeOn(connect(socketPath), false, method, head, body, opts);
  }
  idle.removeListener('error', ignore);
  idle.ref();
  // The daemon may close an idle connection (its keep-alive timeout) as the request goes out:
  // nothing of the answer read then means the request was not taken; it goes on a new connection.
  return exchangeOn(idle, true, method, head, body, opts).catch((err: unknown) => {
    if (err !== NO_ANSWER) throw err;
    return exchangeOn(connect(socketPath), false, method, head, body, opts);
  });
}

/** A reused connection that closed before any byte of the answer. */
const NO_ANSWER = new Error('connection closed before the answer');
const ignore = () => undefined;

function exchangeOn(sock: Socket, reused: boolean, method: string, head: string, body: Buffer | undefined, opts: ExchangeOptions): Promise<UnixResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (res: UnixResponse | undefined, err?: unknown) => {
      sock.removeListener('data', onData);
      sock.removeListener('end', onEnd);
      sock.removeListener('error', onError);
      if (res?.idle) {
        sock.pause();
        sock.on('error', ignore); // an idle connection's reset is no one's error
        sock.unref();
        resolve(res);
        return;
      }
      sock.destroy();
      if (res) resolve(res);
      else reject(err);
    };
    const onError = (err: Error) => finish(undefined, reused && size === 0 ? NO_ANSWER : err);
    let onHead = opts.onHead;
    const onData = (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (onHead) {
        let h: ResponseHead | undefined;
        try {
          h = parseHead(Buffer.concat(chunks));
        } catch (err) {
          return finish(undefined, err);
        }
        if (h) {
          if (h.status < 300) onHead();
          onHead = undefined;
        }
      }
      if (!opts.keepAlive) return;
      let res: UnixResponse;
      try {
        res = parseResponse(Buffer.concat(chunks), method);
      } catch (err) {
        if (!(err instanceof TruncatedResponse)) finish(undefined, err);
        return;
      }
      if (res.end === undefined) return; // runs until the daemon closes
      const keep = res.end === size && !/\bclose\b/i.test(res.headers.connection ?? '');
      finish(keep ? { ...res, idle: sock } : res);
    };
    const onEnd = () => {
      if (reused && size === 0) return finish(undefined, NO_ANSWER);
      try {
        finish(parseResponse(Buffer.concat(chunks), method));
      } catch (err) {
        finish(undefined, err);
      }
    };
    sock.on('error', onError);
    sock.on('data', onData);
    sock.on('end', onEnd);
    sock.resume(); // an idle connection was paused
    // Not half-closed after the body: node's HTTP server takes a client's FIN for the client gone.
    const text = `${head}\r\n${opts.keepAlive ? '' : 'Connection: close\r\n'}\r\n`;
    sock.write(body ? Buffer.concat([Buffer.from(text, 'latin1'), body]) : text, (err) => {
      if (err) onError(err); // a destroyed socket calls back with an error and emits nothing
      else opts.sent?.();
    });
  });
}

/** A hijack's answer: the connection when the daemon took it (101, or a 2xx whose body is the stream), else the whole error answer. */
export interface HijackAnswer {
  status: number;
  reason: string;
  /** The raw connection, positioned after the answer's head; set for a status below 400. */
  socket?: Socket;
  /** The whole body of an answer of 400 or more. */
  body?: Buffer;
}

/**
 * Sends a hijacking request (`head` carries `Connection: Upgrade` and `Upgrade: tcp`) and `body`,
 * and resolves once the answer's head is in. A 101, or any other answer below 400, hands over the
 * connection with what followed the head put back in front, neither paused nor flowing (as
 * node:http's 'upgrade' does): a 2xx that is not a 101 is Docker's pre-upgrade form, where the
 * raw stream follows the head until the daemon closes. An error answer is read whole. Spares
 * node:http (its load and first request: ~5 ms of CPU) on `run`, `attach` and `exec`.
 */
export function unixHijack(socketPath: string, head: string, body?: Buffer): Promise<HijackAnswer> {
  const sock = connect(socketPath);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let answer: ResponseHead | undefined;
    const done = (res: HijackAnswer | undefined, err?: unknown) => {
      sock.removeListener('data', onData);
      sock.removeListener('end', onEnd);
      sock.removeListener('error', onError);
      if (res?.socket) return resolve(res);
      sock.destroy();
      if (res) resolve(res);
      else reject(err);
    };
    const onError = (err: Error) => done(undefined, err);
    const errorAnswer = (data: Buffer, ended: boolean) => {
      let res: UnixResponse;
      try {
        res = parseResponse(data, 'POST');
      } catch (err) {
        if (err instanceof TruncatedResponse && !ended) return;
        return done(undefined, err);
      }
      if (res.end !== undefined || ended) done({ status: res.status, reason: res.reason, body: res.body });
    };
    const onData = (c: Buffer) => {
      chunks.push(c);
      const data = Buffer.concat(chunks);
      if (answer) return errorAnswer(data, false);
      try {
        answer = parseHead(data, true);
      } catch (err) {
        return done(undefined, err);
      }
      if (!answer) return;
      if (answer.status >= 400) return errorAnswer(data, false);
      sock.pause();
      const rest = data.subarray(answer.bodyAt);
      if (rest.length > 0) sock.unshift(rest);
      // Neither paused nor flowing, so that a 'data' listener starts it (Readable's setter; the typing says read-only).
      (sock as { readableFlowing: boolean | null }).readableFlowing = null;
      done({ status: answer.status, reason: answer.reason, socket: sock });
    };
    const onEnd = () => {
      if (answer) errorAnswer(Buffer.concat(chunks), true);
      else done(undefined, new MalformedResponse('connection closed before the answer'));
    };
    sock.on('error', onError);
    sock.on('data', onData);
    sock.on('end', onEnd);
    const text = `${head}\r\n\r\n`;
    sock.write(body ? Buffer.concat([Buffer.from(text, 'latin1'), body]) : text, (err) => {
      if (err) onError(err);
    });
  });
}
