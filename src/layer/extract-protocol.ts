/**
 * Messages between the daemon's thread and a layer extraction worker (extract-pool.ts,
 * extract-worker.ts). Every message of a job carries its id, so what is still in flight from a
 * job that has ended is recognised and dropped on either side.
 */
import { EngineError, type ErrorKind } from '../lib/errors.js';

export type ToWorker =
  | { t: 'job'; id: number; diffDir: string; tarSplitPath: string }
  /** A chunk of the layer's (compressed) tar, in order. */
  | { t: 'data'; id: number; chunk: Uint8Array }
  | { t: 'end'; id: number }
  /** The source failed: stop, clean up the record, answer 'fail'. */
  | { t: 'abort'; id: number; message: string };

export type FromWorker =
  /** `bytes` of the job's input were consumed: the daemon may send that much more. */
  | { t: 'read'; id: number; bytes: number }
  | { t: 'done'; id: number; diffId: string; size: number }
  | { t: 'fail'; id: number; error: WireError };

/** An error as it crosses the thread boundary: an EngineError keeps its kind, a system error its code. */
export interface WireError {
  message: string;
  kind?: ErrorKind;
  code?: string;
  errno?: number;
  syscall?: string;
}

export function toWire(err: unknown): WireError {
  if (err instanceof EngineError) return { message: err.message, kind: err.kind };
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
  const e: NodeJS.ErrnoException = new Error(w.message);
  if (w.code !== undefined) e.code = w.code;
  if (w.errno !== undefined) e.errno = w.errno;
  if (w.syscall !== undefined) e.syscall = w.syscall;
  return e;
}
