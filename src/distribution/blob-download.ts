/**
 * Downloads one blob into a file, verifying its size and digest: a cut connection resumes with
 * `Range: bytes=<n>-` (or starts over when the registry answers 200), 5xx answers and cut
 * connections are retried with back-off, and a blob that does not match its descriptor fails.
 */
import { createHash, type Hash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { EngineError, systemError } from '../lib/errors.js';
import type { RegistrySession } from './client.js';
import type { Descriptor } from './manifest.js';

export interface DownloadOptions {
  onProgress?: (bytes: number) => void;
  /** Checked between chunks; a cancelled download stops with this error. */
  cancelled?: () => unknown;
}

export function verificationError(digest: string): Error {
  return systemError(`filesystem layer verification failed for digest ${digest}`);
}

/** A small blob (config) into memory, verified. */
export async function fetchBlobBuffer(s: RegistrySession, repo: string, desc: Descriptor, opts: DownloadOptions = {}): Promise<Buffer> {
  let parts: Buffer[] = [];
  await fetchInto(s, repo, desc, opts, {
    reset: async () => {
      parts = [];
    },
    write: async (chunk) => {
      parts.push(chunk);
    },
  });
  return Buffer.concat(parts);
}

/** Where a blob's bytes go, in order; reset() means "start over from byte 0". */
export interface BlobSink {
  reset(): Promise<void>;
  write(chunk: Buffer, offset: number): Promise<void>;
}

/**
 * Feeds the blob to `sink` as it arrives (resumed parts continue where the cut left off);
 * resolves once its size and digest are verified, which is only known at end of stream.
 * An error the sink throws that is also what `opts.cancelled()` returns ends the download.
 */
export async function streamBlob(s: RegistrySession, repo: string, desc: Descriptor, sink: BlobSink, opts: DownloadOptions = {}): Promise<void> {
  await fetchInto(s, repo, desc, opts, sink);
}

async function fetchInto(s: RegistrySession, repo: string, desc: Descriptor, opts: DownloadOptions, sink: BlobSink): Promise<void> {
  const path = `/v2/${repo}/blobs/${desc.digest}`;
  let hash: Hash = createHash('sha256');
  let got = 0;
  let lastErr: unknown = null;
  for (let attempt = 1; attempt <= s.client.attempts; attempt++) {
    const cancel = opts.cancelled?.();
    if (cancel) throw cancel;
    const headers: Record<string, string> = {};
    if (got > 0) headers.Range = `bytes=${got}-`;
    const res = await s.request('GET', path, { headers });
    if (res.status === 206 && got > 0) {
      const m = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
      if (!m || Number(m[1]) !== got) {
        res.body.resume();
        throw systemError(`unexpected Content-Range for ${desc.digest}: ${String(res.headers['content-range'])}`);
      }
    } else if (res.status === 200) {
      if (got > 0) {
        // The registry ignored Range: start over.
        got = 0;
        hash = createHash('sha256');
        await sink.reset();
      }
    } else {
      await s.fail(res, 'GET');
    }
    try {
      for await (const c of res.body) {
        const chunk = c as Buffer;
        const cancelled = opts.cancelled?.();
        if (cancelled) {
          res.body.destroy();
          throw cancelled;
        }
        if (got + chunk.length > desc.size) {
          res.body.destroy();
          throw verificationError(desc.digest);
        }
        hash.update(chunk);
        await sink.write(chunk, got);
        got += chunk.length;
        opts.onProgress?.(got);
      }
    } catch (err) {
      if (err instanceof EngineError || err === opts.cancelled?.()) throw err;
      lastErr = err;
      if (attempt < s.client.attempts) await sleep(s.backoff(attempt));
      continue;
    }
    if (got < desc.size) {
      // Closed early without an error: treat as a cut connection.
      lastErr = new Error('unexpected EOF');
      if (attempt < s.client.attempts) await sleep(s.backoff(attempt));
      continue;
    }
    if (`sha256:${hash.digest('hex')}` !== desc.digest) throw verificationError(desc.digest);
    return;
  }
  // Go's io.ErrUnexpectedEOF, what dockerd reports for a body cut short.
  throw systemError('unexpected EOF', lastErr);
}
