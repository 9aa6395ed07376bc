/**
 * One layer from its (possibly compressed) tar stream into a diff directory: decompression, the
 * tar reader (which hashes the diffID and feeds the tar-split record) and the extractor, as one
 * pipeline. The daemon runs it on a worker thread (extract-pool.ts); it is plain code that runs
 * as well on any thread.
 */
import type { Readable } from 'node:stream';
import { decompressed } from './decompress.js';
import { LayerExtractor, layerRelativePathOrNull } from './extract.js';
import { TarReader } from './tar-reader.js';
import { TarSplitWriter } from './tar-split.js';

export interface ExtractedLayer {
  /** sha256 of the uncompressed tar. */
  diffId: string;
  /** Sum of regular file sizes written. */
  size: number;
}

/**
 * Extracts `src` into `diffDir` (an empty directory) and writes its tar-split record to
 * `tarSplitPath`. On error the record is closed (the caller removes both) and `src` is destroyed.
 */
export async function extractLayerTar(src: Readable, diffDir: string, tarSplitPath: string): Promise<ExtractedLayer> {
  let stream: Readable | null = null;
  let tarSplit: TarSplitWriter | null = null;
  try {
    stream = (await decompressed(src)).stream;
    tarSplit = new TarSplitWriter(tarSplitPath, layerRelativePathOrNull);
    const reader = new TarReader(stream, tarSplit);
    const { size } = await new LayerExtractor(diffDir).extract(reader);
    await tarSplit.close();
    return { diffId: reader.digest(), size };
  } catch (err) {
    await tarSplit?.abort();
    // Ends a decompressor process (zstd, xz) with its input.
    src.destroy();
    stream?.destroy();
    throw err;
  }
}
