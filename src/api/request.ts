/** Request parsing shared by the routes: query values as Docker's httputils reads them, bodies, filters. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import { invalidParameter } from '../lib/errors.js';
import { FREE_BYTES, reserveBodyBytes } from './body-budget.js';
import { MAX_JSON_DEPTH, MAX_JSON_VALUES, jsonTooCostly } from '../lib/go-json.js';
import type { Filters } from './types.js';
import { goDecoderHasMore, scanGoJSON } from '../lib/go-json-syntax.js';

/** Docker's BoolValue: "", "0", "no", "false", "none" (any case, trimmed) are false, anything else true. */
export function boolValue(q: URLSearchParams, key: string): boolean {
  const v = (q.get(key) ?? '').trim().toLowerCase();
  return !(v === '' || v === '0' || v === 'no' || v === 'false' || v === 'none');
}

/** Docker's BoolValueOrDefault: the default when the key is absent. */
export function boolValueOrDefault(q: URLSearchParams, key: string, dflt: boolean): boolean {
  return q.has(key) ? boolValue(q, key) : dflt;
}

/** Go's strconv.Atoi, with its error text; undefined when the parameter is absent or empty. */
export function intValue(q: URLSearchParams, key: string): number | undefined {
  const raw = q.get(key);
  if (raw === null || raw === '') return undefined;
  if (!/^[+-]?\d+$/.test(raw)) throw invalidParameter(`strconv.Atoi: parsing ${JSON.stringify(raw)}: invalid syntax`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw invalidParameter(`strconv.Atoi: parsing ${JSON.stringify(raw)}: value out of range`);
  return n;
}

/** Parses `filters`: JSON `map[string][]string`, or the `map[string]map[string]bool` form. */
export function parseFilters(raw: string | null): Filters {
  const out: Filters = {};
  if (raw === null || raw === '') return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalidParameter('invalid filter');
  }
  if (parsed === null) return out;
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw invalidParameter('invalid filter');
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (value === null) {
      out[key] = [];
    } else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
      out[key] = [...new Set(value as string[])];
    } else if (typeof value === 'object' && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'boolean')) {
      out[key] = Object.keys(value);
    } else {
      throw invalidParameter('invalid filter');
    }
  }
  return out;
}

/**
 * Most bytes a JSON request body may have: far above any real one (a create body with an inline
 * seccomp profile is under 100 KiB), far below what would strain the daemon's memory.
 */
export const MAX_JSON_BODY = 32 * 1024 * 1024;

/**
 * Reads the whole request body, refusing one larger than `limit` bytes. Past its first
 * FREE_BYTES the body waits for room in the daemon-wide pool (api/body-budget.ts); the for-await
 * loop reads no further meanwhile, so the client's sending waits too.
 */
export async function readBody(req: IncomingMessage, limit = MAX_JSON_BODY): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw invalidParameter(`request body too large: more than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  let release: (() => void) | undefined;
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > limit) throw invalidParameter(`request body too large: more than ${limit} bytes`);
      if (!release && size > FREE_BYTES) release = await reserveBodyBytes((declared || limit) - FREE_BYTES);
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    // A body cut short (the client closed its side before Content-Length bytes): Go's reader
    // reports unexpected EOF, and Docker answers 400.
    if ((err as NodeJS.ErrnoException).code === 'ECONNRESET') throw invalidParameter('unexpected EOF');
    throw err;
  } finally {
    release?.();
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/**
 * The request body as a stream the backend may destroy when it stops reading (bad input):
 * destroying the request itself would cut the connection before the error is answered, and the
 * client, still sending, would see a broken pipe. The unread rest of the body is discarded
 * instead, so the client finishes sending and reads the answer (as Go's server does).
 */
export function detachedBody(req: IncomingMessage): Readable {
  const body = new PassThrough();
  // The reader sees a failure through its read; once it stopped reading, nobody needs to.
  body.on('error', () => {});
  req.on('error', (err) => {
    if (!body.destroyed) body.destroy(err);
  });
  body.once('close', () => {
    if (req.complete) return;
    req.unpipe(body);
    req.resume();
  });
  req.pipe(body);
  return body;
}

/** Docker's CheckForJSON: a body needs `Content-Type: application/json` (no header is fine without a body). */
export function checkForJSON(req: IncomingMessage): void {
  const ct = req.headers['content-type'];
  const len = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
  if (!ct && !hasBody) return;
  const mediaType = (ct ?? '').split(';')[0]!.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    throw invalidParameter(`unsupported Content-Type header (${ct ?? ''}): must be 'application/json'`);
  }
}

/** A request body's JSON (undefined when empty), with Docker's `invalid JSON: …` 400s. */
export function parseJSONBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  const cost = jsonTooCostly(text, MAX_JSON_DEPTH, MAX_JSON_VALUES);
  if (cost === 'depth') throw invalidParameter('invalid JSON: exceeded max depth');
  if (cost === 'values') throw invalidParameter(`invalid JSON: more than ${MAX_JSON_VALUES} values`);
  try {
    return JSON.parse(text);
  } catch {
    // As Go's json.Decoder: its syntax error text, or the first value when only a closing
    // bracket follows it, else Docker's "unexpected content after JSON".
    const bytes = Buffer.from(text);
    const scan = scanGoJSON(bytes);
    if ('error' in scan) throw invalidParameter(`invalid JSON: ${scan.error}`);
    if (goDecoderHasMore(bytes, scan.end)) throw invalidParameter('unexpected content after JSON');
    return JSON.parse(bytes.subarray(0, scan.end).toString());
  }
}

/** Parses a JSON body; undefined when the body is empty. */
export async function readJSONBody(req: IncomingMessage): Promise<unknown> {
  return parseJSONBody((await readBody(req)).toString('utf8'));
}

export function sendJSON(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export function sendEmpty(res: ServerResponse, status: number): void {
  if (status === 204 || status === 304) res.writeHead(status);
  else res.writeHead(status, { 'Content-Length': 0 });
  res.end();
}

/** Waits until everything written so far is flushed, or the peer went away. */
export function drain(res: ServerResponse): Promise<void> {
  if (!res.writableNeedDrain) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
