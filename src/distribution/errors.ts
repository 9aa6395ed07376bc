/**
 * Registry errors: the v2 API's `{"errors":[{"code","message","detail"}]}` bodies, worded as
 * Docker's errcode package words them (`manifest unknown: manifest unknown`), and Docker's
 * translation of pull failures into the texts users know.
 */
import { EngineError, notFound, systemError } from '../lib/errors.js';
import { familiarName, familiarString, type Reference } from '../image/reference.js';

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  409: 'Conflict', 416: 'Requested Range Not Satisfiable', 429: 'Too Many Requests', 500: 'Internal Server Error',
  502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

export function statusLine(status: number): string {
  return `${status} ${STATUS_TEXT[status] ?? ''}`.trim();
}

/** One error of a registry response (errcode.Error). */
export class RegistryError extends Error {
  constructor(
    readonly code: string,
    readonly detailMessage: string,
    readonly status: number,
  ) {
    // errcode: "<code lower-cased, _ as space>: <message>"
    super(`${code.toLowerCase().replace(/_/g, ' ')}: ${detailMessage}`);
  }
}

/** A member of a JSON object matched as Go's encoding/json matches field names: exact first, else without case. */
function field(obj: unknown, name: string): unknown {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  const o = obj as Record<string, unknown>;
  if (Object.hasOwn(o, name)) return o[name];
  const key = Object.keys(o).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : o[key];
}

/** Parses an error response body; falls back to Docker's texts for bodies without errors. */
export function registryErrorOf(status: number, body: Buffer): RegistryError | Error {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    const errors = field(parsed, 'errors');
    const first = Array.isArray(errors) ? (errors[0] as unknown) : undefined;
    const code = field(first, 'code');
    if (typeof code === 'string' && code) {
      const message = field(first, 'message');
      return new RegistryError(code, typeof message === 'string' ? message : '', status);
    }
    const details = field(parsed, 'details');
    if (typeof details === 'string') return new RegistryError(status === 401 ? 'UNAUTHORIZED' : 'UNKNOWN', details, status);
  } catch {
    // not JSON
  }
  if (status === 401) return new RegistryError('UNAUTHORIZED', 'authentication required', status);
  if (status === 403) return new RegistryError('DENIED', 'requested access to the resource is denied', status);
  if (status === 404) return new RegistryError('NOT_FOUND', 'not found', status);
  if (status === 429) return new RegistryError('TOOMANYREQUESTS', 'too many requests', status);
  return new Error(`received unexpected HTTP status: ${statusLine(status)}`);
}

/** Docker's translatePullError: not-found kinds get the familiar texts and status 404. */
export function translatePullError(err: unknown, ref: Reference): Error {
  if (err instanceof RegistryError) {
    switch (err.code) {
      case 'DENIED':
        return notFound(`pull access denied for ${familiarName(ref)}, repository does not exist or may require 'docker login': ${err.message}`);
      case 'MANIFEST_UNKNOWN':
        return notFound(`manifest for ${familiarString(ref)} not found: ${err.message}`);
      case 'NAME_UNKNOWN':
        return notFound(`repository ${familiarName(ref)} not found: ${err.message}`);
    }
    return systemError(err.message, err);
  }
  if (err instanceof EngineError) return err;
  return systemError(err instanceof Error ? err.message : String(err), err);
}
