/**
 * ADD's URL sources: each is fetched (streamed to a file, never held in memory) into its own
 * subdirectory of a private temporary directory, mode 0600 and the Last-Modified time as its
 * mtime, as Docker's builders do. A remote archive is not unpacked.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, utimes } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { httpRequest, isTransportError, type HttpResponse } from '../distribution/http.js';
import { invalidParameter } from '../lib/errors.js';
import { parseMediaType } from '../lib/go-media-type.js';

/** A server that stops sending for this long fails the build. */
const IDLE_TIMEOUT_MS = 5 * 60_000;

export const isRemoteURL = (s: string): boolean => /^https?:\/\//i.test(s);

const UNNAMED = '__unnamed__';
const usable = (name: string) => name !== '' && name !== '/' && name !== '.' && name !== '..' && !name.includes('\0');

/** The URL's path as Go's url.URL.Path holds it: percent-decoded. */
function urlPath(url: URL): string {
  try {
    return decodeURIComponent(url.pathname);
  } catch {
    return url.pathname;
  }
}

/**
 * The classic builder's name for a download (moby's getFilenameForDownload): the URL path's last
 * element unless the path ends in `/`, else the Content-Disposition's `filename`, else none.
 */
function classicName(path: string, disposition: string | undefined): string | null {
  if (path !== '' && !path.endsWith('/')) return posix.basename(path);
  const filename = disposition === undefined ? undefined : parseMediaType(disposition)?.params?.filename;
  if (filename && !filename.endsWith('/')) return posix.basename(filename);
  return null;
}

/**
 * Downloads `urls` below `dir`; returns each source's path relative to `dir`. `checksum` (ADD
 * --checksum, `sha256:<hex>`…): the digest every download must have, hashed as it is written;
 * BuildKit's `digest mismatch` otherwise.
 *
 * BuildKit's Dockerfile frontend names the file after the URL path's last element, else
 * `__unnamed__`, and copies it as a file (`/<i>/<name>`). The classic builder also asks the
 * Content-Disposition header when the path ends in `/`; a download it still cannot name is
 * written as `__unnamed__` but its source is the directory holding it (`/<i>`), so the file lands
 * inside the destination.
 */
export async function downloadSources(urls: string[], dir: string, signal: AbortSignal, checksum?: string, classic = false): Promise<string[]> {
  const out: string[] = [];
  for (const [i, url] of urls.entries()) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw invalidParameter(`ADD failed: invalid URL ${url}`);
    }
    const res = await get(parsed, signal, (reason) => `ADD failed: failed to GET ${url}: ${reason}`);
    if (res.status < 200 || res.status > 299) {
      res.body.destroy();
      throw invalidParameter(`ADD failed: failed to GET ${url} with status ${res.status} ${res.body.statusMessage ?? ''}`);
    }
    const disposition = res.headers['content-disposition'];
    const named = classic ? classicName(urlPath(parsed), typeof disposition === 'string' ? disposition : undefined) : posix.basename(urlPath(parsed));
    const unnamed = named === null || !usable(named);
    const name = unnamed ? UNNAMED : named;
    const sub = join(dir, String(i));
    await mkdir(sub, { mode: 0o700 });
    const file = join(sub, name);
    // The caller has checked the form (`sha256|sha384|sha512:<hex>`).
    const algorithm = checksum?.slice(0, checksum.indexOf(':'));
    const hash = algorithm === undefined ? null : createHash(algorithm);
    await pipeline(
      res.body,
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash?.update(chunk);
          yield chunk;
        }
      },
      createWriteStream(file, { mode: 0o600, flags: 'wx' }),
    );
    const got = hash && `${algorithm}:${hash.digest('hex')}`;
    if (got && got !== checksum) throw invalidParameter(`digest mismatch for ${url}: ${got} (expected: ${checksum})`);
    const lm = res.headers['last-modified'];
    const when = lm ? new Date(lm) : null;
    if (when && !Number.isNaN(when.getTime())) await utimes(file, when, when);
    out.push(classic && unnamed ? `/${i}` : `/${i}/${name}`);
  }
  return out;
}

/** `remote=<url>`: the context (a tar or a Dockerfile) streamed from an http(s) URL. */
export async function fetchContext(url: string, signal: AbortSignal): Promise<Readable> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidParameter(`unable to fetch the build context from ${url}: invalid URL`);
  }
  const fail = (reason: string) => `unable to fetch the build context from ${url}: ${reason}`;
  const res = await get(parsed, signal, fail);
  if (res.status < 200 || res.status > 299) {
    res.body.destroy();
    throw invalidParameter(fail(`status ${res.status} ${res.body.statusMessage ?? ''}`));
  }
  return res.body;
}

/**
 * A GET over the registry client's transport, so that https is verified against the host's CAs
 * as Go's client verifies it, not node's built-in list; any failure is the build's error.
 */
async function get(url: URL, signal: AbortSignal, fail: (reason: string) => string): Promise<HttpResponse> {
  try {
    return await httpRequest('GET', url, { signal, timeoutMs: IDLE_TIMEOUT_MS });
  } catch (err) {
    throw invalidParameter(fail(isTransportError(err) ? err.reason : (err as Error).message));
  }
}
