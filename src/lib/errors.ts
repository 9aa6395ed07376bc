/**
 * The engine's error kinds. Every error that reaches the API is one of these; the API maps
 * kinds to HTTP status codes in one place (api/errors.ts). Messages follow Docker's wording
 * where Docker has one, because clients parse them.
 */
export type ErrorKind =
  | 'NotFound'
  | 'InvalidParameter'
  | 'Conflict'
  | 'NotModified'
  | 'Forbidden'
  | 'Unauthorized'
  | 'Unavailable'
  | 'NotImplemented'
  | 'System';

export class EngineError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = `${kind}Error`;
  }
}

export const notFound = (msg: string) => new EngineError('NotFound', msg);
export const invalidParameter = (msg: string) => new EngineError('InvalidParameter', msg);
export const conflict = (msg: string) => new EngineError('Conflict', msg);
export const notModified = (msg = '') => new EngineError('NotModified', msg);
export const forbidden = (msg: string) => new EngineError('Forbidden', msg);
/** Bad credentials (POST /auth): 401. */
export const unauthorized = (msg: string) => new EngineError('Unauthorized', msg);
export const unavailable = (msg: string) => new EngineError('Unavailable', msg);
export const notImplemented = (msg: string) => new EngineError('NotImplemented', msg);
export const systemError = (msg: string, cause?: unknown) => new EngineError('System', msg, { cause });

export function isEngineError(err: unknown, kind?: ErrorKind): err is EngineError {
  return err instanceof EngineError && (kind === undefined || err.kind === kind);
}

/** Docker's texts for the common lookups. */
export const noSuchContainer = (ref: string) => notFound(`No such container: ${ref}`);
export const noSuchImage = (ref: string) => notFound(`No such image: ${ref}`);
