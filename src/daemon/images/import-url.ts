/**
 * `docker import <URL>` (POST /images/create?fromSrc=<url>): the daemon GETs the tarball itself,
 * as Docker's image router does. A source without a scheme is taken as http://; only http and
 * https are fetched (Node's fetch would also read data: URLs). Errors are classified as Docker's
 * GetWithStatusError classifies them.
 */
import { Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import { EngineError, invalidParameter, notFound, systemError, type ErrorKind } from '../../lib/errors.js';

/** How much of an error page is quoted in the message. */
const ERROR_BODY_MAX = 4096;

export async function openImportUrl(src: string, signal?: AbortSignal): Promise<{ url: string; body: Readable }> {
  const address = src.includes('://') ? src : `http://${src}`;
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw invalidParameter(`parse ${JSON.stringify(address)}: invalid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw systemError(`Get ${JSON.stringify(address)}: unsupported protocol scheme ${JSON.stringify(url.protocol.slice(0, -1))}`);
  }
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow', ...(signal ? { signal } : {}) });
  } catch (err) {
    const cause = (err as { cause?: NodeJS.ErrnoException & { hostname?: string; address?: string; port?: number } }).cause;
    const msg = `Get ${JSON.stringify(address)}: ${goDialError(cause) ?? cause?.message ?? (err as Error).message}`;
    // A name that does not resolve is NotFound, as Go's DNS error maps to.
    throw cause?.code === 'ENOTFOUND' ? notFound(msg) : systemError(msg, err);
  }
  if (res.status >= 400 || !res.body) {
    const text = res.body ? await readCapped(res.body as ReadableStream<Uint8Array>) : '';
    const msg = `failed to GET ${address} with status ${res.status} ${res.statusText}: ${text.trim()}`;
    const kinds: Record<number, ErrorKind> = { 400: 'InvalidParameter', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound' };
    throw new EngineError(kinds[res.status] ?? 'System', msg);
  }
  return { url: url.href, body: Readable.fromWeb(res.body as ReadableStream<Uint8Array>) };
}

async function readCapped(body: ReadableStream<Uint8Array>): Promise<string> {
  const parts: Buffer[] = [];
  let len = 0;
  for await (const chunk of body) {
    parts.push(Buffer.from(chunk));
    len += chunk.length;
    if (len >= ERROR_BODY_MAX) break;
  }
  return Buffer.concat(parts).subarray(0, ERROR_BODY_MAX).toString('utf8');
}

/** Go's wording of the dial errors clients match on ("no such host", "connection refused"). */
function goDialError(cause: (NodeJS.ErrnoException & { hostname?: string; address?: string; port?: number }) | undefined): string | undefined {
  if (cause?.code === 'ENOTFOUND' && cause.hostname) return `dial tcp: lookup ${cause.hostname}: no such host`;
  if (cause?.code === 'ECONNREFUSED' && cause.address) return `dial tcp ${cause.address}:${cause.port}: connect: connection refused`;
  return undefined;
}
