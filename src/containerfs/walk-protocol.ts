/**
 * Messages between the daemon's thread and a file tree worker (walk-pool.ts, walk-worker.ts).
 * Every message of a job carries its id, so what is still in flight from a job that has ended is
 * recognised and dropped on either side.
 */
import type { WireError } from '../layer/extract-protocol.js';
import type { WalkOptions, WalkSpec } from './walk.js';
import type { CopyFilterSpec } from './copy-filter.js';

export type ToWorker =
  /** Walk `spec` into a tar, sent back as 'data' messages. */
  | { t: 'walk'; id: number; spec: WalkSpec; opts: WalkOptions }
  /** A layer's exact tar rebuilt from its tar-split record and diff dir (layer/tar-split.ts), sent back as 'data' messages. */
  | { t: 'assemble'; id: number; tarSplitPath: string; diffDir: string }
  /** The bytes below `path`, as Docker counts them (lib/dir-size.ts). */
  | { t: 'size'; id: number; path: string }
  /** The classic builder's hash of the tree at `at` (tree-hash.ts), of what `filter` takes. */
  | { t: 'hash'; id: number; at: string; filter?: CopyFilterSpec }
  /** The paths below the directory `at` that the COPY wildcard `pattern` matches (go-match.ts). */
  | { t: 'glob'; id: number; at: string; pattern: string }
  /** `bytes` of the job's output were taken by the consumer: the worker may send that much more. */
  | { t: 'read'; id: number; bytes: number }
  /** The consumer is gone: stop (closing what the walk holds open) and answer 'done'. */
  | { t: 'abort'; id: number };

export type FromWorker =
  | { t: 'data'; id: number; chunk: Uint8Array }
  | { t: 'done'; id: number; hash?: string; size?: number; paths?: string[] }
  | { t: 'fail'; id: number; error: WireError };
