/** `network ls` and `network prune` filters, as Docker applies them. */
import { filterMatches, labelMatches, parseFilterTime } from '../lib/filters.js';
import type { Filters } from '../api/types.js';
import { invalidParameter } from '../lib/errors.js';
import type { NetworkRecord } from './types.js';

const LIST_KEYS = new Set(['driver', 'id', 'label', 'name', 'scope', 'type', 'dangling']);
const PREDEFINED = new Set(['bridge', 'host', 'none']);

/** Matches one network against list filters; `endpoints` is its count of active endpoints. */
export function listFilter(filters: Filters): (n: NetworkRecord, endpoints: number) => boolean {
  for (const k of Object.keys(filters)) if (!LIST_KEYS.has(k)) throw invalidParameter(`invalid filter '${k}'`);
  for (const t of filters.type ?? []) if (t !== 'custom' && t !== 'builtin') throw invalidParameter(`invalid filter: 'type'='${t}'`);
  const dangling = filters.dangling ?? [];
  if (dangling.length > 1) throw invalidParameter(`got more than one value for filter key "dangling"`);
  for (const d of dangling) {
    if (!['true', 'false', '1', '0'].includes(d)) {
      throw invalidParameter(`invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")`);
    }
  }
  return (n, endpoints) => {
    const any = (key: string, pred: (v: string) => boolean) => !filters[key]?.length || filters[key]!.some(pred);
    return (
      any('driver', (v) => n.Driver === v) &&
      filterMatches(filters.id, n.Id) &&
      filterMatches(filters.name, n.Name) &&
      any('scope', (v) => v === n.Scope) &&
      any('type', (v) => (v === 'builtin') === PREDEFINED.has(n.Name)) &&
      any('dangling', (v) => (v === 'true' || v === '1') === (endpoints === 0 && !PREDEFINED.has(n.Name))) &&
      (filters.label ?? []).every((l) => labelMatches(n.Labels ?? {}, l))
    );
  };
}

/** True when a network must be KEPT by prune (filters `until`, `label`, `label!`). */
export function pruneKeep(filters: Filters, now = Date.now()): (n: NetworkRecord) => boolean {
  for (const k of Object.keys(filters)) if (!['until', 'label', 'label!'].includes(k)) throw invalidParameter(`invalid filter '${k}'`);
  const until = filters.until?.length ? Math.min(...filters.until.map((u) => parseFilterTime(u, now))) : undefined;
  return (n) => {
    if (until !== undefined && Date.parse(n.Created) / 1000 >= until) return true;
    if (!(filters.label ?? []).every((l) => labelMatches(n.Labels ?? {}, l))) return true;
    if ((filters['label!'] ?? []).some((l) => labelMatches(n.Labels ?? {}, l))) return true;
    return false;
  };
}
