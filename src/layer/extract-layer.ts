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
 * What extractLayerTar() returns and records for `src`, without writing a file: for a layer
 * whose files are where the extraction would have put them (an upper dir taken over whole).
 * The size counts the payloads, as the extractor counts what it writes.
 */
export async function recordLayerTar(src: Readable, tarSplitPath: string): Promise<ExtractedLayer> {
  let tarSplit: TarSplitWriter | null = null;
  try {
    tarSplit = new TarSplitWriter(tarSplitPath, layerRelativePathOrNull);
    const reader = new TarReader(src, tarSplit);
    let size = 0;
    for await (const entry of reader.entries()) {
      if (entry.header.type === 'file' || entry.header.type === 'other') size += entry.header.size;
      await entry.skip();
    }
    await tarSplit.close();
    return { diffId: reader.digest(), size };
  } catch (err) {
    await tarSplit?.abort();
    src.destroy();
    throw err;
  }
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
