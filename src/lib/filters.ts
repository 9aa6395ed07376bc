/** Helpers shared by the list and prune filters of containers, images and networks. */
import { invalidParameter } from './errors.js';

/** One `key` or `key=value` label filter against a label map (Docker's MatchKVList, one value). */
export function labelMatches(labels: Record<string, string> | null | undefined, spec: string): boolean {
  const l = labels ?? {};
  const i = spec.indexOf('=');
  if (i < 0) return Object.hasOwn(l, spec);
  const key = spec.slice(0, i);
  return Object.hasOwn(l, key) && l[key] === spec.slice(i + 1);
}

const GO_DURATION_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/**
 * A filter time as Docker takes it (`until`, `since` on prune): a Go duration before `now`
 * (`24h`, `90m`), unix seconds (`1700000000.5`) or an RFC3339 time; returns unix seconds.
 */
export function parseFilterTime(v: string, now = Date.now()): number {
  const dur = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)$/.exec(v);
  if (dur) return now / 1000 - Number(dur[1]) * GO_DURATION_SECONDS[dur[2]];
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalidParameter(`failed to parse value as time or duration: "${v}"`);
  return t / 1000;
}
