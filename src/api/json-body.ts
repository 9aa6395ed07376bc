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
import { invalidParameter } from '../lib/errors.js';
import { checkForJSON, readJSONBody } from './request.js';

export type Shape =
  | 'string'
  | 'bool'
  | 'int64'
  | 'int'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'float64'
  | 'strslice'
  | 'struct'
  /** Any JSON value (Go's interface{}, json.RawMessage). */
  | 'any'
  | { array: Shape; goType: string; length?: number }
  | { map: Shape; goType: string }
  | StructShape;

export interface StructShape {
  fields: Record<string, Shape>;
  goType: string;
}

export const strings: Shape = { array: 'string', goType: '[]string' };
export const stringMap: Shape = { map: 'string', goType: 'map[string]string' };
export const emptySet: Shape = { map: 'struct', goType: 'map[string]struct {}' };

/** 64-bit integers are held to what a JS number keeps exactly. */
const INT_RANGES: Record<string, [number, number]> = {
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  int: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint16: [0, 65535],
  uint32: [0, 2 ** 32 - 1],
  uint64: [0, Number.MAX_SAFE_INTEGER],
};

/** How Go names a JSON value in an UnmarshalTypeError. */
function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return `number ${v}`;
  if (typeof v === 'object') return 'object';
  return typeof v;
}

function structName(goType: string): string {
  return goType.slice(goType.lastIndexOf('.') + 1);
}

class Decoder {
  constructor(private readonly root: string) {}

  private fail(value: unknown, path: string, goType: string): never {
    if (path === '') throw invalidParameter(`invalid JSON: json: cannot unmarshal ${jsonKind(value)} into Go value of type ${goType}`);
    throw invalidParameter(`invalid JSON: json: cannot unmarshal ${jsonKind(value)} into Go struct field ${this.root}.${path} of type ${goType}`);
  }

  /** Checks `value` against `shape`; returns it normalized (canonical field names, strslice lists). */
  check(value: unknown, shape: Shape, path: string): unknown {
    if (value === null) return null;
    switch (shape) {
      case 'any':
        return value;
      case 'string':
        if (typeof value !== 'string') this.fail(value, path, 'string');
        return value;
      case 'bool':
        if (typeof value !== 'boolean') this.fail(value, path, 'bool');
        return value;
      case 'struct':
        if (typeof value !== 'object' || Array.isArray(value)) this.fail(value, path, 'struct {}');
        return value;
      case 'strslice':
        if (typeof value === 'string') return [value];
        if (!Array.isArray(value)) this.fail(value, path, 'strslice.StrSlice');
        for (const item of value) if (typeof item !== 'string') this.fail(item, path, 'string');
        return value;
      case 'float64':
        if (typeof value !== 'number') this.fail(value, path, 'float64');
        return value;
      case 'int64':
      case 'int':
      case 'uint16':
      case 'uint32':
      case 'uint64': {
        const [lo, hi] = INT_RANGES[shape]!;
        if (typeof value !== 'number' || !Number.isInteger(value) || value < lo || value > hi) this.fail(value, path, shape);
        return value;
      }
    }
    if ('array' in shape) {
      if (!Array.isArray(value)) this.fail(value, path, shape.goType);
      if (shape.length !== undefined && value.length > shape.length) {
        throw invalidParameter(`invalid JSON: ${path || shape.goType} takes at most ${shape.length} values`);
      }
      return value.map((item) => this.check(item, shape.array, path));
    }
    if (typeof value !== 'object' || Array.isArray(value)) this.fail(value, path, shape.goType);
    const obj = value as Record<string, unknown>;
    if ('map' in shape) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(obj)) if (k !== '__proto__') out[k] = this.check(v, shape.map, path);
      return out;
    }
    return this.struct(obj, shape, path);
  }

  private struct(obj: Record<string, unknown>, shape: StructShape, path: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const names = Object.keys(shape.fields);
    for (const [key, v] of Object.entries(obj)) {
      // encoding/json: the exact name, else the first that equals it ignoring case; later keys win.
      const field = Object.hasOwn(shape.fields, key) ? key : names.find((n) => n.toLowerCase() === key.toLowerCase());
      if (field === undefined) {
        // Assigning a JSON "__proto__" key would set the object's prototype (and so fields).
        if (key !== '__proto__' && !Object.hasOwn(out, key)) out[key] = v;
        continue;
      }
      out[field] = this.check(v, shape.fields[field]!, path ? `${path}.${field}` : field);
    }
    return out;
  }
}

/**
 * Decodes an already parsed JSON body into `shape` (a struct). undefined (no body) and null
 * stay as they are: the route decides what an empty body means.
 */
export function decodeJSON<T>(parsed: unknown, shape: StructShape): T | undefined {
  if (parsed === undefined || parsed === null) return undefined;
  return new Decoder(structName(shape.goType)).check(parsed, shape, '') as T;
}

/** Docker's httputils.ReadJSON: Content-Type check, body read, decode into `shape`. */
export async function readJSON<T>(req: IncomingMessage, shape: StructShape): Promise<T | undefined> {
  checkForJSON(req);
  return decodeJSON<T>(await readJSONBody(req), shape);
}
