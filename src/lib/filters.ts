/** Helpers shared by the list and prune filters of containers, images and networks. */
import { invalidParameter } from './errors.js';
import { compileGoRegexp } from './go-regexp.js';

/** One `key` or `key=value` label filter against a label map (Docker's MatchKVList, one value). */
export function labelMatches(labels: Record<string, string> | null | undefined, spec: string): boolean {
  const l = labels ?? {};
  const i = spec.indexOf('=');
  if (i < 0) return Object.hasOwn(l, spec);
  const key = spec.slice(0, i);
  return Object.hasOwn(l, key) && l[key] === spec.slice(i + 1);
}

/**
 * Docker's filters.Args.Match: no values matches everything; otherwise any value equal to the
 * source or matching it as an unanchored regular expression (`^name$` for an exact name).
 */
export function filterMatches(values: readonly string[] | undefined, source: string): boolean {
  if (!values || values.length === 0) return true;
  for (const v of values) {
    if (v === source) return true;
    try {
      if (compileGoRegexp(v).test(source)) return true;
    } catch {
      // Docker skips values that are not valid regexps.
    }
  }
  return false;
}

const GO_DURATION_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/**
 * A filter time as Docker takes it (`until`, `since` on prune): a Go duration before `now`
 * (`24h`, `90m`), unix seconds (`1700000000.5`) or an RFC3339 time; returns unix seconds.
 */
export function parseFilterTime(v: string, now = Date.now()): number {
  const dur = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)$/.exec(v);
  if (dur) return now / 1000 - Number(dur[1]) * GO_DURATION_SECONDS[dur[2]!]!;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalidParameter(`failed to parse value as time or duration: "${v}"`);
  return t / 1000;
}

/**
 * Docker's filters.Args.GetBoolOrDefault: `dflt` without the key; true or false when the values
 * say only "1"/"true" or only "0"/"false"; anything else (none, other words, both) is
 * `invalid filter 'key=[v …]'`, the values as Go prints a string slice.
 */
export function filterBool(filters: Record<string, string[]> | undefined, key: string, dflt: boolean): boolean {
  const values = filters?.[key];
  if (values === undefined) return dflt;
  if (values.length === 0) throw invalidParameter(`invalid filter '${key}'`);
  const isFalse = values.includes('0') || values.includes('false');
  const isTrue = values.includes('1') || values.includes('true');
  if (isFalse === isTrue) throw invalidParameter(`invalid filter '${key}=[${values.join(' ')}]'`);
  return isTrue;
}
