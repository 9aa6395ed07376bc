/**
 * ADD's URL sources: each is fetched (streamed to a file, never held in memory) into its own
 * subdirectory of a private temporary directory, named after the last path component of the URL,
 * mode 0600 and the Last-Modified time as its mtime, as Docker's classic builder does. A remote
 * archive is not unpacked.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, utimes } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { invalidParameter } from '../lib/errors.js';

export const isRemoteURL = (s: string): boolean => /^https?:\/\//i.test(s);

/** Downloads `urls` below `dir`; returns each file's path relative to `dir` (`/<i>/<name>`). */
export async function downloadSources(urls: string[], dir: string, signal: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  for (const [i, url] of urls.entries()) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw invalidParameter(`ADD failed: invalid URL ${url}`);
    }
    let name = '';
    try {
      name = posix.basename(decodeURIComponent(parsed.pathname));
    } catch {
      name = posix.basename(parsed.pathname);
    }
    if (name === '' || name === '/' || name === '.' || name === '..') name = '__unnamed__';
    let res: Response;
    try {
      res = await fetch(url, { signal, redirect: 'follow' });
    } catch (err) {
      throw invalidParameter(`ADD failed: failed to GET ${url}: ${(err as Error).message}`);
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => {});
      throw invalidParameter(`ADD failed: failed to GET ${url} with status ${res.status} ${res.statusText}`);
    }
    const sub = join(dir, String(i));
    await mkdir(sub, { mode: 0o700 });
    const file = join(sub, name);
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(file, { mode: 0o600, flags: 'wx' }));
    const lm = res.headers.get('last-modified');
    const when = lm ? new Date(lm) : null;
    if (when && !Number.isNaN(when.getTime())) await utimes(file, when, when);
    out.push(`/${i}/${name}`);
  }
  return out;
}

/** `remote=<url>`: the context (a tar or a Dockerfile) streamed from an http(s) URL. */
export async function fetchContext(url: string, signal: AbortSignal): Promise<Readable> {
  let res: Response;
  try {
    res = await fetch(url, { signal, redirect: 'follow' });
  } catch (err) {
    throw invalidParameter(`unable to fetch the build context from ${url}: ${(err as Error).message}`);
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => {});
    throw invalidParameter(`unable to fetch the build context from ${url}: status ${res.status} ${res.statusText}`);
  }
  return Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
}
