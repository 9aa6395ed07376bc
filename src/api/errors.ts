/** Maps engine errors to HTTP status codes and Docker's `{"message": "…"}` body, in one place. */
import type { ServerResponse } from 'node:http';
import { EngineError, type ErrorKind } from '../lib/errors.js';

const STATUS: Record<ErrorKind, number> = {
  NotFound: 404,
  InvalidParameter: 400,
  Conflict: 409,
  NotModified: 304,
  Forbidden: 403,
  Unauthorized: 401,
  Unavailable: 503,
  NotImplemented: 501,
  System: 500,
};

export function statusForError(err: unknown): number {
  return err instanceof EngineError ? STATUS[err.kind] ?? 500 : 500;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The JSON body Docker sends for an error. */
export function errorBody(err: unknown): string {
  return JSON.stringify({ message: errorMessage(err) });
}

/**
 * Answers the request with the error, unless the response has already started (then the
 * connection is cut, the only signal left).
 */
export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = statusForError(err);
  if (status === 304) {
    res.writeHead(304);
    res.end();
    return;
  }
  const body = errorBody(err) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
