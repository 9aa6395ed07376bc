/** An error answered by the daemon: HTTP status and the body's "message". */
export class ApiError extends Error {
  readonly statusCode: number;

  constructor(statusCode: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = statusCode;
  }
}

/** The daemon could not be reached at all (socket missing, refused...). */
export class ConnectionError extends Error {
  readonly host: string;
  override readonly cause?: unknown;

  constructor(host: string, cause?: unknown) {
    super(`Cannot connect to the Docker daemon at ${host}. Is the docker daemon running?`);
    this.name = 'ConnectionError';
    this.host = host;
    this.cause = cause;
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.statusCode === 404;
}
