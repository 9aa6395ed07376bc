/** What the daemon hands runc: config.json and an exec's process.json, written from the spec. */
import { randomUUID } from 'node:crypto';

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

