/**
 * gRPC over HTTP/2 on a connection that is already open: the socket of an upgraded /grpc request
 * (wharfd serves BuildKit's control API on it) or of /session (the client serves its file sync
 * and wharfd calls it). @grpc/grpc-js only listens on ports and only dials addresses, so this is
 * the small part of the protocol both sides need on node:http2: length-prefixed messages,
 * `grpc-status`/`grpc-message` trailers (or headers, for an answer without messages), and
 * back-pressure through the HTTP/2 stream.
 */
import http2 from 'node:http2';
import type { Duplex, Readable } from 'node:stream';

export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

export class GrpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** The largest message either side takes: BuildKit's own limit for its control API. */
export const MAX_MESSAGE = 16 << 20;

/** grpc-message is percent-encoded: anything outside printable ASCII, and '%' itself. */
function encodeMessage(text: string): string {
  return text.replace(/[^\x20-\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c));
}

function decodeMessage(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export function frame(msg: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

/** The messages of one HTTP/2 stream's body, in order. */
export async function* readMessages(stream: Readable): AsyncGenerator<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  const take = (n: number): Buffer => {
    const all = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    parts.length = 0;
    const rest = all.subarray(n);
    if (rest.length) parts.push(rest);
    have = rest.length;
    return all.subarray(0, n);
  };
  let need = 5;
  let inMessage = false;
  // Leaving early (a bad frame) must not reset the stream: the status still has to go out on it.
  for await (const chunk of stream.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    parts.push(chunk);
    have += chunk.length;
    while (have >= need) {
      if (!inMessage) {
        const head = take(5);
        if (head[0] !== 0) throw new GrpcError(Status.UNIMPLEMENTED, 'compressed messages are not supported');
        need = head.readUInt32BE(1);
        if (need > MAX_MESSAGE) throw new GrpcError(Status.RESOURCE_EXHAUSTED, `received message larger than max (${need} vs. ${MAX_MESSAGE})`);
        inMessage = true;
      } else {
        const msg = need === 0 ? Buffer.alloc(0) : take(need);
        need = 5;
        inMessage = false;
        yield msg;
      }
    }
  }
  if (inMessage || have > 0) throw new GrpcError(Status.INTERNAL, 'the stream ended inside a message');
}

async function writeMessage(stream: http2.Http2Stream, msg: Buffer): Promise<void> {
  if (stream.destroyed || stream.writableEnded) throw new GrpcError(Status.CANCELLED, 'the stream is closed');
  if (stream.write(frame(msg))) return;
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      stream.off('drain', done);
      stream.off('close', closed);
      if (err) reject(err);
      else resolve();
    };
    const closed = () => done(new GrpcError(Status.CANCELLED, 'the stream is closed'));
    stream.on('drain', done);
    stream.on('close', closed);
  });
}

/** One call a server answers. */
export interface ServerCall {
  /** The request's headers: gRPC metadata, lower-case keys. */
  readonly metadata: http2.IncomingHttpHeaders;
  /** The request's messages; ends when the client half-closes. */
  messages(): AsyncGenerator<Buffer>;
  /** Sends one response message, waiting while the client does not read. */
  send(msg: Buffer): Promise<void>;
  /** Aborted when the client cancels the call or the connection goes. */
  readonly signal: AbortSignal;
}

export type Method = (call: ServerCall) => Promise<void>;

/** A method taking one request and answering one response. */
export function unary<Req, Res>(decode: (b: Buffer) => Req, encode: (r: Res) => Buffer, fn: (req: Req, call: ServerCall) => Promise<Res>): Method {
  return async (call) => {
    let req: Req | undefined;
    for await (const m of call.messages()) {
      if (req !== undefined) throw new GrpcError(Status.INVALID_ARGUMENT, 'more than one request message');
      req = decodeOrInvalid(decode, m);
    }
    if (req === undefined) throw new GrpcError(Status.INVALID_ARGUMENT, 'no request message');
    await call.send(encode(await fn(req, call)));
  };
}

/** A method taking one request and answering a stream of responses. */
export function serverStream<Req>(decode: (b: Buffer) => Req, fn: (req: Req, call: ServerCall) => Promise<void>): Method {
  return async (call) => {
    const it = call.messages();
    const first = await it.next();
    if (first.done) throw new GrpcError(Status.INVALID_ARGUMENT, 'no request message');
    void drainRest(it);
    await fn(decodeOrInvalid(decode, first.value), call);
  };
}

async function drainRest(it: AsyncGenerator<Buffer>): Promise<void> {
  try {
    for await (const _ of { [Symbol.asyncIterator]: () => it }) void _;
  } catch {
    // The call's own end reports the stream's errors.
  }
}

function decodeOrInvalid<T>(decode: (b: Buffer) => T, msg: Buffer): T {
  try {
    return decode(msg);
  } catch (err) {
    throw new GrpcError(Status.INVALID_ARGUMENT, `invalid request message: ${(err as Error).message}`);
  }
}

/** Serves `methods` (by path, `/package.Service/Method`) on connections handed to accept(). */
export class GrpcServer {
  // A BuildKit client opens a few calls at a time (Solve, Status, the gateway's); a connection may not hold more.
  private readonly server = http2.createServer({ maxSessionMemory: 16, settings: { maxConcurrentStreams: 64 } });

  constructor(
    private readonly methods: ReadonlyMap<string, Method>,
    private readonly log: (msg: string) => void,
  ) {
    this.server.on('stream', (stream, headers) => void this.answer(stream, headers));
    this.server.on('sessionError', () => {});
  }

  /** Takes over an open connection whose first bytes (already read) are `head`. */
  accept(socket: Duplex, head: Buffer): http2.ServerHttp2Session {
    if (head.length) socket.unshift(head);
    let session: http2.ServerHttp2Session | undefined;
    const onSession = (s: http2.ServerHttp2Session) => {
      if (s.socket === socket || !session) session = s;
    };
    this.server.once('session', onSession);
    this.server.emit('connection', socket);
    this.server.off('session', onSession);
    session?.on('error', () => {});
    endWithPeer(socket, () => session?.destroy());
    return session!;
  }

  private async answer(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): Promise<void> {
    stream.on('error', () => {});
    const path = String(headers[':path'] ?? '');
    const method = this.methods.get(path);
    const abort = new AbortController();
    stream.once('close', () => abort.abort());
    let started = false;
    const start = () => {
      if (started || stream.destroyed) return;
      started = true;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    };
    const finish = (code: number, message: string) => {
      if (stream.destroyed) return;
      const status = { 'grpc-status': String(code), ...(message ? { 'grpc-message': encodeMessage(message) } : {}) };
      if (!started) {
        started = true;
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...status }, { endStream: true });
        return;
      }
      stream.once('wantTrailers', () => stream.sendTrailers(status));
      stream.end();
    };
    if (!method) {
      stream.resume();
      finish(Status.UNIMPLEMENTED, `unknown method ${path}`);
      return;
    }
    const call: ServerCall = {
      metadata: headers,
      messages: () => readMessages(stream),
      send: async (msg) => {
        start();
        await writeMessage(stream, msg);
      },
      signal: abort.signal,
    };
    try {
      await method(call);
      finish(Status.OK, '');
    } catch (err) {
      if (err instanceof GrpcError) finish(err.code, err.message);
      else {
        this.log(`buildkit: ${path}: ${(err as Error).stack ?? String(err)}`);
        finish(Status.UNKNOWN, (err as Error).message ?? String(err));
      }
    }
  }
}

/** One call made to a server: a stream of messages each way. */
export interface ClientCall {
  send(msg: Buffer): Promise<void>;
  /** Half-closes: the server's messages() ends. */
  closeSend(): void;
  /** The server's messages; throws the call's GrpcError after the last one if it failed. */
  messages(): AsyncGenerator<Buffer>;
  cancel(): void;
}

/**
 * The API's connections are half-open (a hijacked attach client half-closes and still reads),
 * and an HTTP/2 session on such a socket does not end when the peer does: a client gone without
 * a GOAWAY left its session, and a /session id with it, open for good. HTTP/2 peers never
 * half-close, so the end of what the peer sends ends the session.
 */
function endWithPeer(socket: Duplex, end: () => void): void {
  socket.once('end', end);
}

/** Calls a gRPC server that answers on an open connection (wharfd is the HTTP/2 client). */
export class GrpcClient {
  private readonly session: http2.ClientHttp2Session;

  constructor(socket: Duplex, head: Buffer = Buffer.alloc(0)) {
    if (head.length) socket.unshift(head);
    this.session = http2.connect('http://buildkit-session', { createConnection: () => socket, maxSessionMemory: 64 });
    this.session.on('error', () => {});
    endWithPeer(socket, () => this.session.destroy());
  }

  get closed(): boolean {
    return this.session.closed || this.session.destroyed;
  }

  onClose(fn: () => void): void {
    this.session.once('close', fn);
  }

  /** Opens a call; aborting `signal` cancels it. */
  call(path: string, metadata: Record<string, string | string[]> = {}, signal?: AbortSignal): ClientCall {
    // grpc-go's check of outgoing metadata: node would drop such a value without a word.
    for (const [key, value] of Object.entries(metadata)) {
      if ([value].flat().some((v) => /[^\x20-\x7e]/.test(v))) throw new GrpcError(Status.INTERNAL, `header key ${JSON.stringify(key)} contains value with non-printable ASCII characters`);
    }
    const req = this.session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...metadata });
    req.on('error', () => {});
    if (signal) {
      const onAbort = () => req.close(http2.constants.NGHTTP2_CANCEL);
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        req.once('close', () => signal.removeEventListener('abort', onAbort));
      }
    }
    let status: { code: number; message: string } | null = null;
    const readStatus = (h: http2.IncomingHttpHeaders) => {
      const code = h['grpc-status'];
      if (code !== undefined) status = { code: Number(code), message: decodeMessage(String(h['grpc-message'] ?? '')) };
    };
    req.on('response', readStatus);
    req.on('trailers', readStatus);
    return {
      send: (msg) => writeMessage(req, msg),
      closeSend: () => {
        if (!req.writableEnded) req.end();
      },
      cancel: () => req.close(http2.constants.NGHTTP2_CANCEL),
      async *messages() {
        yield* readMessages(req);
        const s = status as { code: number; message: string } | null;
        if (!s) throw new GrpcError(Status.UNAVAILABLE, req.rstCode ? `stream reset (${req.rstCode})` : 'the stream ended without a status');
        if (s.code !== Status.OK) throw new GrpcError(s.code, s.message);
      },
    };
  }

  /** One request, one answer (the last message if the server sends more). */
  async unary(path: string, msg: Buffer, metadata: Record<string, string | string[]> = {}, signal?: AbortSignal): Promise<Buffer> {
    const call = this.call(path, metadata, signal);
    await call.send(msg);
    call.closeSend();
    let out: Buffer | null = null;
    for await (const m of call.messages()) out = m;
    if (!out) throw new GrpcError(Status.INTERNAL, `${path}: no response message`);
    return out;
  }

  close(): void {
    if (!this.session.destroyed) this.session.destroy();
  }
}
