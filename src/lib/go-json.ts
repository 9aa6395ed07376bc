/**
 * JSON decoded as Go's encoding/json decodes it into typed structs, for input Docker reads into
 * Go types (API request bodies, image configs from a registry or an archive):
 *   - struct field names match case-insensitively (an exact match first); the decoded object
 *     carries the canonical names;
 *   - a value of the wrong JSON type fails with Go's UnmarshalTypeError wording;
 *   - `null` leaves a field unset and is the zero value as an element of a list or map;
 *     integers must be integral and in range;
 *   - Go's strslice leniency: a plain string where a list of strings is expected.
 * Fields a shape does not list pass through unchecked (Go would drop them; callers never read them).
 */
import { invalidParameter } from './errors.js';

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
  /** Go's time.Time: an RFC 3339 string. */
  | 'time'
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

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;


/**
 * How Go names a JSON value in an UnmarshalTypeError: a number with its literal only where it
 * was meant for a number and did not fit (the literal as JS prints it back).
 */
function jsonKind(v: unknown, goType: string): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return goType in INT_RANGES || goType === 'float64' ? `number ${v}` : 'number';
  if (typeof v === 'object') return 'object';
  return typeof v;
}

function structName(goType: string): string {
  return goType.slice(goType.lastIndexOf('.') + 1);
}

/** What Go stores for a `null` element of a list or map: the element type's zero value. */
function zeroValue(shape: Shape): unknown {
  switch (shape) {
    case 'string':
      return '';
    case 'bool':
      return false;
    case 'int64':
    case 'int':
    case 'uint16':
    case 'uint32':
    case 'uint64':
    case 'float64':
      return 0;
    case 'struct':
      return {};
    case 'strslice':
    case 'time':
    case 'any':
      return null;
  }
  return 'fields' in shape ? {} : null;
}

class Decoder {
  constructor(
    private readonly root: string,
    /** Put before Go's message (the API's `invalid JSON: `). */
    private readonly prefix: string,
  ) {}

  private fail(value: unknown, path: string, goType: string): never {
    if (path === '') throw invalidParameter(`${this.prefix}json: cannot unmarshal ${jsonKind(value, goType)} into Go value of type ${goType}`);
    throw invalidParameter(`${this.prefix}json: cannot unmarshal ${jsonKind(value, goType)} into Go struct field ${this.root}.${path} of type ${goType}`);
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
      case 'time':
        if (typeof value !== 'string') throw invalidParameter(`${this.prefix}Time.UnmarshalJSON: input is not a JSON string`);
        if (!RFC3339.test(value) || isNaN(Date.parse(value))) {
          throw invalidParameter(`${this.prefix}parsing time ${JSON.stringify(JSON.stringify(value))} as "\\"2006-01-02T15:04:05Z07:00\\""`);
        }
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
        throw invalidParameter(`${this.prefix}${path || shape.goType} takes at most ${shape.length} values`);
      }
      return value.map((item) => (item === null ? zeroValue(shape.array) : this.check(item, shape.array, path)));
    }
    if (typeof value !== 'object' || Array.isArray(value)) this.fail(value, path, shape.goType);
    const obj = value as Record<string, unknown>;
    if ('map' in shape) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(obj)) if (k !== '__proto__') out[k] = v === null ? zeroValue(shape.map) : this.check(v, shape.map, path);
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
 * Deepest nesting of arrays and objects accepted from a client, an image or a registry. Go's
 * decoder stops at 10000; what the daemon stores or answers is written with JSON.stringify,
 * which ran out of stack at 5000 (a create or an image inspect answered 500 "Maximum call stack
 * size exceeded"), so input stops far below both.
 */
export const MAX_JSON_DEPTH = 1000;

/**
 * Most arrays, objects and elements (members or array items) a client's JSON body may have.
 * JSON.parse builds each one as a heap object, synchronously: 32 MiB of `{},{},…` is 11 million
 * objects, seconds of a blocked event loop and a gigabyte of heap, where Go's decoder skips a
 * field it does not know without building anything. No real body comes near (the default
 * seccomp profile is about 2000; an Env that large could not be passed to execve).
 */
export const MAX_JSON_VALUES = 500_000;

/**
 * What makes `text` too costly to parse: nesting deeper than `maxDepth`, or more than
 * `maxValues` arrays, objects and elements; undefined when neither (strings skipped, escapes
 * honoured). One pass, no allocation.
 */
export function jsonTooCostly(text: string, maxDepth: number, maxValues = Infinity): 'depth' | 'values' | undefined {
  let depth = 0;
  let values = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return 'depth';
      if (++values > maxValues) return 'values';
    } else if (c === 0x5d || c === 0x7d) depth--;
    else if (c === 0x2c && ++values > maxValues) return 'values';
  }
  return undefined;
}

/** Whether `text` nests arrays or objects deeper than `max` (strings skipped, escapes honoured). */
export function nestsDeeperThan(text: string, max: number): boolean {
  return jsonTooCostly(text, max) === 'depth';
}

/** Decodes a parsed JSON value into `shape` (a struct); Go's errors, each after `prefix`. */
export function decodeGoJSON<T>(parsed: unknown, shape: StructShape, prefix = ''): T {
  return new Decoder(structName(shape.goType), prefix).check(parsed, shape, '') as T;
}
