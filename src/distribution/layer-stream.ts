/**
 * One layer of a pull, downloaded and extracted at the same time: the registry's bytes are
 * hashed (digest and size checked at end of stream) while they flow through a pipe into the
 * layer store's staging extractor (gunzip/zstd/none → tar reader → extractor). The staged layer
 * is handed back only when the blob verified; on a mismatch, a truncation or any error the
 * staging directory is removed. A cut connection resumed with Range keeps feeding the same
 * extractor; a registry that answers a Range request with the whole blob makes the extraction
 * start over in a fresh staging directory.
 */
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { LayerStore, StagedLayer } from '../layer/layer-store.js';
import { streamBlob } from './blob-download.js';
import type { RegistrySession } from './client.js';
import type { Descriptor } from './manifest.js';

export interface LayerStreamOptions {
  onProgress?: (bytes: number) => void;
  /** Another layer's failure: stop this one with that error. */
  cancelled?: () => unknown;
}

/** Thrown into a staging extractor that is abandoned because its blob starts over. */
class RestartExtraction extends Error {}

interface Extraction {
  pipe: PassThrough;
  staged: Promise<StagedLayer>;
  /** Settles (never rejects) when the extractor has finished either way. */
  settled: Promise<void>;
  error: unknown;
}

function startExtraction(layers: LayerStore): Extraction {
  // A small buffer: the extractor's pace is what the download should follow.
  const pipe = new PassThrough({ highWaterMark: 1 << 20 });
  // The stager sees a destroyed pipe through its reads, possibly only after it has set up its
  // directories; until then the 'error' event must not go unheard.
  pipe.on('error', () => {});
  const x: Extraction = { pipe, staged: layers.stageLayer(pipe), settled: Promise.resolve(), error: null };
  x.settled = x.staged.then(
    () => {},
    (err) => {
      x.error ??= err;
    },
  );
  return x;
}

/** Discards a staging that did finish (its blob then failed), or waits for one that fails. */
async function abandon(layers: LayerStore, x: Extraction, reason: unknown): Promise<void> {
  x.pipe.destroy(reason instanceof Error ? reason : new Error(String(reason)));
  const staged = await x.staged.catch(() => null);
  if (staged) await layers.discardStaged(staged);
}

/** Downloads `desc` from `repo` into a staged (not yet registered) layer. */
export async function streamLayer(s: RegistrySession, repo: string, desc: Descriptor, layers: LayerStore, opts: LayerStreamOptions = {}): Promise<StagedLayer> {
  let x = startExtraction(layers);
  // The extractor's own failure (bad tar, disk full) ends the download with that error.
  const cancelled = () => opts.cancelled?.() ?? x.error;
  try {
    await streamBlob(
      s,
      repo,
      desc,
      {
        reset: async () => {
          await abandon(layers, x, new RestartExtraction('blob restarted from its first byte'));
          x = startExtraction(layers);
        },
        write: async (chunk) => {
          if (!x.pipe.write(chunk)) await Promise.race([once(x.pipe, 'drain'), x.settled]);
          const stop = cancelled();
          if (stop) throw stop;
        },
      },
      { cancelled, ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) },
    );
  } catch (err) {
    await abandon(layers, x, err);
    throw err;
  }
  x.pipe.end();
  return x.staged;
}
