/** `network ls` and `network prune` filters, as Docker applies them. */
import type { Filters } from '../api/types.js';
import { invalidParameter } from '../lib/errors.js';
import type { NetworkRecord } from './types.js';

const LIST_KEYS = new Set(['driver', 'id', 'label', 'name', 'scope', 'type', 'dangling']);
const PREDEFINED = new Set(['bridge', 'host', 'none']);

function labelMatch(labels: Record<string, string>, spec: string): boolean {
  const i = spec.indexOf('=');
  if (i < 0) return spec in labels;
  return labels[spec.slice(0, i)] === spec.slice(i + 1);
}

/** Matches one network against list filters; `endpoints` is its count of active endpoints. */
export function listFilter(filters: Filters): (n: NetworkRecord, endpoints: number) => boolean {
  for (const k of Object.keys(filters)) if (!LIST_KEYS.has(k)) throw invalidParameter(`invalid filter '${k}'`);
  for (const t of filters.type ?? []) if (t !== 'custom' && t !== 'builtin') throw invalidParameter(`invalid filter: 'type'='${t}'`);
  for (const d of filters.dangling ?? []) {
    if (!['true', 'false', '1', '0'].includes(d)) throw invalidParameter(`invalid filter 'dangling=${d}'`);
  }
  return (n, endpoints) => {
    const any = (key: string, pred: (v: string) => boolean) => !filters[key]?.length || filters[key]!.some(pred);
    return (
      any('driver', (v) => n.Driver === v) &&
      any('id', (v) => n.Id.startsWith(v) || n.Id.includes(v)) &&
      any('name', (v) => n.Name.includes(v)) &&
      any('scope', (v) => v === n.Scope) &&
      any('type', (v) => (v === 'builtin') === PREDEFINED.has(n.Name)) &&
      any('dangling', (v) => (v === 'true' || v === '1') === (endpoints === 0 && !PREDEFINED.has(n.Name))) &&
      (filters.label ?? []).every((l) => labelMatch(n.Labels ?? {}, l))
    );
  };
}

/** Go-style durations (`24h`, `90m`) or timestamps, relative to `now`, to unix seconds. */
function untilSeconds(v: string, now: number): number {
  const dur = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)$/.exec(v);
  if (dur) {
    const mult: Record<string, number> = { ns: 1e-9, us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
    return now / 1000 - Number(dur[1]) * mult[dur[2]!]!;
  }
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalidParameter(`failed to parse value as time or duration: "${v}"`);
  return t / 1000;
}

/** True when a network must be KEPT by prune (filters `until`, `label`, `label!`). */
export function pruneKeep(filters: Filters, now = Date.now()): (n: NetworkRecord) => boolean {
  for (const k of Object.keys(filters)) if (!['until', 'label', 'label!'].includes(k)) throw invalidParameter(`invalid filter '${k}'`);
  const until = filters.until?.length ? Math.min(...filters.until.map((u) => untilSeconds(u, now))) : undefined;
  return (n) => {
    if (until !== undefined && Date.parse(n.Created) / 1000 >= until) return true;
    if (!(filters.label ?? []).every((l) => labelMatch(n.Labels ?? {}, l))) return true;
    if ((filters['label!'] ?? []).some((l) => labelMatch(n.Labels ?? {}, l))) return true;
    return false;
  };
}
