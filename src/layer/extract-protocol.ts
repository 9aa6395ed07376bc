/**
 * Messages between the daemon's thread and a layer extraction worker (extract-pool.ts,
 * extract-worker.ts). Every message of a job carries its id, so what is still in flight from a
 * job that has ended is recognised and dropped on either side.
 */
import { EngineError, type ErrorKind } from '../lib/errors.js';
import type { ExtractOptions } from '../containerfs/extract.js';
import { RootPathError, type RootSpec } from '../containerfs/root.js';

/** Options of an extraction into a container root, as they cross: `clampNames` for the function a build context's names go through. */
export type TreeExtractOptions = Omit<ExtractOptions, 'rename'> & { clampNames?: boolean };

export type ExtractJob =
  /** A layer into its diff dir, with its tar-split record (layer-store.ts). */
  | { kind: 'layer'; diffDir: string; tarSplitPath: string }
  /** A layer's tar whose files are in place already: its digest, size and tar-split record only (layer-store.ts adoptRWLayer). */
  | { kind: 'record'; tarSplitPath: string }
  /** PUT /archive, COPY, a build context: into a directory of a container root (containerfs/extract.ts). */
  | { kind: 'tree'; root: RootSpec; dest: string; opts: TreeExtractOptions };

export type ToWorker =
  | { t: 'job'; id: number; job: ExtractJob }
  /** A chunk of the layer's (compressed) tar, in order. */
  | { t: 'data'; id: number; chunk: Uint8Array }
  | { t: 'end'; id: number }
  /** The source failed: stop, clean up the record, answer 'fail'. */
  | { t: 'abort'; id: number; message: string };

export type FromWorker =
  /** `bytes` of the job's input were consumed: the daemon may send that much more. */
  | { t: 'read'; id: number; bytes: number }
  /** A layer's digest and size; nothing for a tree. */
  | { t: 'done'; id: number; diffId?: string; size?: number }
  | { t: 'fail'; id: number; error: WireError };

/** An error as it crosses the thread boundary: an EngineError keeps its kind, a system error its code. */
export interface WireError {
  message: string;
  kind?: ErrorKind;
  code?: string;
  errno?: number;
  syscall?: string;
  /** A RootPathError's path: the error is rebuilt as one. */
  rootPath?: string;
}

export function toWire(err: unknown): WireError {
  if (err instanceof EngineError) return { message: err.message, kind: err.kind };
  if (err instanceof RootPathError) return { message: err.message, code: err.code, rootPath: err.path };
  if (err instanceof Error) {
    const e = err as NodeJS.ErrnoException;
    return {
      message: e.message,
      ...(e.code !== undefined ? { code: e.code } : {}),
      ...(e.errno !== undefined ? { errno: e.errno } : {}),
      ...(e.syscall !== undefined ? { syscall: e.syscall } : {}),
    };
  }
  return { message: String(err) };
}

export function fromWire(w: WireError): Error {
  if (w.kind !== undefined) return new EngineError(w.kind, w.message);
  if (w.rootPath !== undefined) return new RootPathError(w.code as RootPathError['code'], w.rootPath);
  const e: NodeJS.ErrnoException = new Error(w.message);
  if (w.code !== undefined) e.code = w.code;
  if (w.errno !== undefined) e.errno = w.errno;
  if (w.syscall !== undefined) e.syscall = w.syscall;
  return e;
}
