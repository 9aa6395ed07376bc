/**
 * One HTTP/1.1 request and its whole answer over a unix socket, with node:net alone. The CLI's
 * JSON requests (ping, version, ps, inspect, create, start, rm…) go through it: loading node:http
 * and making its first request cost about a fifth of `wharf version`'s CPU time, which matters for
 * a command that runs for a few tens of milliseconds (README, Benchmark). Streams, hijacks and TLS
 * keep node:http (engine-client.ts). The request says `Connection: close`, so the answer is
 * everything the daemon sends before it closes; the body is then cut by Content-Length or decoded
 * from chunks.
 */
import { connect } from 'node:net';

export interface UnixResponse {
  status: number;
  /** The reason phrase of the status line (`Not Found`). */
  reason: string;
  /** Lower-cased names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  body: Buffer;
}

/** Thrown for an answer that is not HTTP/1.x as this reader understands it. */
export class MalformedResponse extends Error {}

const HEAD_END = Buffer.from('\r\n\r\n');

function decodeChunked(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol < 0) throw new MalformedResponse('truncated chunked body');
    const size = parseInt(data.subarray(at, eol).toString('latin1').split(';')[0]!.trim(), 16);
    if (!Number.isFinite(size) || size < 0) throw new MalformedResponse('bad chunk size');
    if (size === 0) return Buffer.concat(parts); // trailers, if any, are not used
    const start = eol + 2;
    if (start + size > data.length) throw new MalformedResponse('truncated chunk');
    parts.push(data.subarray(start, start + size));
    at = start + size + 2;
  }
}

/** Parses one complete answer (head and all the bytes after it). 1xx interim answers are skipped. */
export function parseResponse(data: Buffer, method: string): UnixResponse {
  for (;;) {
    const end = data.indexOf(HEAD_END);
    if (end < 0) throw new MalformedResponse('truncated response head');
    const lines = data.subarray(0, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
    if (!m) throw new MalformedResponse(`malformed status line ${JSON.stringify(lines[0] ?? '')}`);
    const status = Number(m[1]);
    const rest = data.subarray(end + HEAD_END.length);
    if (status >= 100 && status < 200) {
      data = rest;
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
    let body: Buffer;
    if (method === 'HEAD' || status === 204 || status === 304) body = Buffer.alloc(0);
    else if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) body = decodeChunked(rest);
    else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (!Number.isSafeInteger(n) || n < 0 || n > rest.length) throw new MalformedResponse('truncated body');
      body = rest.subarray(0, n);
    } else body = rest;
    return { status, reason: m[2] ?? '', headers, body };
  }
}

/**
 * Sends `head` (the request line and headers, without the blank line; `Connection: close` is added)
 * and `body` to the socket and resolves with the answer once the daemon has closed; `sent` is
 * called once the request is written. Connection errors reject with node's error (its `code`:
 * ENOENT, ECONNREFUSED, EACCES…).
 */
export function unixExchange(socketPath: string, method: string, head: string, body?: Buffer, sent?: () => void): Promise<UnixResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = connect(socketPath);
    sock.on('error', reject);
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('end', () => {
      try {
        resolve(parseResponse(Buffer.concat(chunks), method));
      } catch (err) {
        reject(err);
      }
    });
    // Not half-closed after the body: node's HTTP server takes a client's FIN for the client gone.
    const request = body ? Buffer.concat([Buffer.from(`${head}\r\nConnection: close\r\n\r\n`, 'latin1'), body]) : `${head}\r\nConnection: close\r\n\r\n`;
    sock.write(request, (err) => {
      if (!err) sent?.();
    });
  });
}
