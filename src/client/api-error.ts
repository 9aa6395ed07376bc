/** An error answered by the daemon: HTTP status and the body's "message". */
export class ApiError extends Error {
  readonly statusCode: number;

  constructor(statusCode: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = statusCode;
  }
}

/**
 * The daemon could not be reached, worded as the Docker CLI words it: "permission denied while
 * trying to connect…" when the socket refuses this user, "Cannot connect… Is the docker daemon
 * running?" when nothing listens, "error during connect: …" for the rest (TLS failures…).
 */
export class ConnectionError extends Error {
  readonly host: string;
  override readonly cause?: unknown;
  /** True for EACCES/EPERM on the socket. */
  readonly permissionDenied: boolean;

  constructor(host: string, cause?: unknown, where: { request?: string; socketPath?: string } = {}) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const permissionDenied = code === 'EACCES' || code === 'EPERM';
    const request = where.request ? `${where.request}: ` : '';
    let message: string;
    if (permissionDenied) {
      const dial = where.socketPath ? `dial unix ${where.socketPath}: connect: permission denied` : 'permission denied';
      message = `permission denied while trying to connect to the Docker daemon socket at ${host}: ${request}${dial}`;
    } else if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ENOTSOCK' || code === undefined) {
      message = `Cannot connect to the Docker daemon at ${host}. Is the docker daemon running?`;
    } else {
      message = `error during connect: ${request}${goTlsReason(cause as NodeJS.ErrnoException) ?? (cause as Error).message}`;
    }
    super(message);
    this.name = 'ConnectionError';
    this.host = host;
    this.cause = cause;
    this.permissionDenied = permissionDenied;
  }
}

const UNKNOWN_AUTHORITY = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
]);

/** Go's words for OpenSSL's TLS failures (`remote error: tls: certificate required`, …). */
function goTlsReason(err: NodeJS.ErrnoException): string | undefined {
  if (UNKNOWN_AUTHORITY.has(err.code ?? '')) return 'tls: failed to verify certificate: x509: certificate signed by unknown authority';
  const alert = /(?:sslv3|tlsv1[0-3]?) alert ([a-z ]+)/.exec(err.message);
  return alert ? `remote error: tls: ${alert[1]}` : undefined;
}

