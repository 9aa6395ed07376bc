/**
 * Request bodies decoded as Docker's Go code decodes them (encoding/json into typed structs),
 * the one mechanism every route uses:
 *   - struct field names match case-insensitively (an exact match first), so `detachKeys` is
 *     `DetachKeys`; the decoded object carries the canonical names;
 *   - a value of the wrong JSON type is a 400 with Go's wording
 *     (`invalid JSON: json: cannot unmarshal object into Go struct field ExecConfig.Env of type string`);
 *   - `null` leaves a field unset; integers must be integral and in range;
 *   - Go's strslice leniency: a plain string where a list of strings is expected.
 * Fields a shape does not list pass through unchecked (Go would drop them; routes never read them).
 */
import type { IncomingMessage } from 'node:http';
import { decodeGoJSON, type StructShape } from '../lib/go-json.js';
import { checkForJSON, readJSONBody } from './request.js';

/**
 * Decodes an already parsed JSON body into `shape` (a struct). undefined (no body) and null
 * stay as they are: the route decides what an empty body means.
 */
export function decodeJSON<T>(parsed: unknown, shape: StructShape): T | undefined {
  if (parsed === undefined || parsed === null) return undefined;
  return decodeGoJSON<T>(parsed, shape, 'invalid JSON: ');
}

/** Docker's httputils.ReadJSON: Content-Type check, body read, decode into `shape`. */
export async function readJSON<T>(req: IncomingMessage, shape: StructShape): Promise<T | undefined> {
  checkForJSON(req);
  return decodeJSON<T>(await readJSONBody(req), shape);
}
