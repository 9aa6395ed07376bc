/**
 * What the daemon hands runc: config.json and an exec's process.json, written from the spec
 * and checked for strings runc could echo back without end.
 */
import { randomUUID } from 'node:crypto';
import { RuntimeStartError } from './runtime.js';

const U64_MAX = (1n << 64n) - 1n;

/**
 * The spec as JSON. An rlimit is a uint64 for runc; Docker passes the API's int64 through Go's
 * uint64 conversion, so -1 is RLIM_INFINITY (`--ulimit core=-1`). A JS number cannot spell
 * 18446744073709551615, so such a value is written as a token no spec string can contain (a
 * fresh nonce) and the token is replaced by the digits.
 */
export function ociJson(spec: unknown): string {
  const nonce = randomUUID();
  let wide = false;
  const text = JSON.stringify(spec, (key, value: unknown) => {
    if ((key !== 'soft' && key !== 'hard') || typeof value !== 'number' || (value >= 0 && Number.isSafeInteger(value))) return value;
    wide = true;
    return `${nonce}:${uint64Of(value)}`;
  });
  return wide ? text.replaceAll(new RegExp(`"${nonce}:(\\d+)"`, 'g'), '$1') : text;
}

function uint64Of(n: number): bigint {
  if (!Number.isFinite(n) || n >= 2 ** 64) return U64_MAX;
  return BigInt.asUintN(64, BigInt(Math.trunc(n)));
}

/** Longest string runc may see in a path or name (PATH_MAX); runc echoes these in its errors. */
export const MAX_RUNTIME_STRING = 4096;

/**
 * Refuses a spec with a path, name or option longer than PATH_MAX. runc repeats such a string
 * in its error, and conmon reads runc's stderr only after runc exits: an error over the pipe's
 * 64 KiB leaves runc blocked on the write and conmon waiting for it, so the start would hang
 * until the daemon's timeout. The kernel refuses such a path anyway (ENAMETOOLONG). The
 * environment and the arguments after the first are not paths and may be as long as exec allows.
 */
export function checkRuntimeStrings(spec: unknown, what: string): void {
  const long = findLong(spec, []);
  if (long) {
    throw new RuntimeStartError(`${what}: ${long.path} is ${long.bytes} bytes long: file name too long (the limit is ${MAX_RUNTIME_STRING})`);
  }
}

function findLong(value: unknown, path: string[]): { path: string; bytes: number } | undefined {
  if (typeof value === 'string') {
    // Bytes never outnumber UTF-16 units by more than 3:1; only count when it could matter.
    const bytes = value.length * 3 > MAX_RUNTIME_STRING ? Buffer.byteLength(value) : value.length;
    return bytes > MAX_RUNTIME_STRING ? { path: path.join('.').replace(/\.(\d+)(?=\.|$)/g, '[$1]'), bytes } : undefined;
  }
  if (Array.isArray(value)) {
    const from = path.at(-1) === 'args' ? value.slice(0, 1) : value;
    for (let i = 0; i < from.length; i++) {
      const hit = findLong(from[i], [...path, String(i)]);
      if (hit) return hit;
    }
    return undefined;
  }
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'env' || k === 'annotations') continue;
      const hit = findLong(v, [...path, k]);
      if (hit) return hit;
    }
  }
  return undefined;
}
