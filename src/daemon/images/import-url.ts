/**
 * `docker import <URL>` (POST /images/create?fromSrc=<url>): the daemon GETs the tarball itself,
 * as Docker's image router does. A source without a scheme is taken as http://; only http and
 * https are fetched, over the registry client's transport: TLS is verified against the host's CAs
 * as Go verifies it (SSL_CERT_FILE or the distribution's bundle), not node's built-in list. Errors
 * are classified as Docker's GetWithStatusError classifies them.
 */
import type { Readable } from 'node:stream';
import { httpRequest, isTransportError, type HttpResponse } from '../../distribution/http.js';
import { EngineError, invalidParameter, notFound, systemError, type ErrorKind } from '../../lib/errors.js';

/** How much of an error page is quoted in the message. */
const ERROR_BODY_MAX = 4096;
/** A server that stops sending for this long fails the import (Go's client would wait forever). */
const IDLE_TIMEOUT_MS = 5 * 60_000;

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
  let res: HttpResponse;
  try {
    res = await httpRequest('GET', url, { ...(signal ? { signal } : {}), timeoutMs: IDLE_TIMEOUT_MS });
  } catch (err) {
    if (!isTransportError(err)) throw err;
    const msg = `Get ${JSON.stringify(address)}: ${err.reason}`;
    // A name that does not resolve is NotFound, as Go's DNS error maps to.
    throw err.code === 'ENOTFOUND' ? notFound(msg) : systemError(msg, err);
  }
  if (res.status >= 400) {
    const text = await readCapped(res.body);
    const msg = `failed to GET ${address} with status ${res.status} ${res.body.statusMessage ?? ''}: ${text.trim()}`;
    const kinds: Record<number, ErrorKind> = { 400: 'InvalidParameter', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound' };
    throw new EngineError(kinds[res.status] ?? 'System', msg);
  }
  return { url: url.href, body: res.body };
}

async function readCapped(body: Readable): Promise<string> {
  const parts: Buffer[] = [];
  let len = 0;
  for await (const chunk of body) {
    parts.push(chunk as Buffer);
    len += (chunk as Buffer).length;
    if (len >= ERROR_BODY_MAX) break;
  }
  body.destroy();
  return Buffer.concat(parts).subarray(0, ERROR_BODY_MAX).toString('utf8');
}
