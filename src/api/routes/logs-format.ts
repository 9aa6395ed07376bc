/** Formatting of `docker logs` output: timestamps and since/until parsing. */
import { invalidParameter } from '../../lib/errors.js';
import { goQueryEscape } from '../../lib/go-url.js';

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * Docker's RFC3339NanoFixed in UTC (`2006-01-02T15:04:05.000000000Z`): nine fraction digits
 * always, so that columns line up. Unparseable input is returned unchanged.
 */
export function rfc3339NanoFixed(time: string): string {
  const m = RFC3339.exec(time);
  if (!m) return time;
  const ms = Date.parse(`${m[1]}${m[3]!.toUpperCase()}`);
  if (Number.isNaN(ms)) return time;
  const nanos = (m[2] ?? '').padEnd(9, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${nanos}Z`;
}

/**
 * `since` / `until` as the API carries them: Unix seconds with an optional fraction
 * (`1700000000.123456789`), as the CLI sends; RFC3339 is accepted too. Empty or 0 = unset.
 */
export function parseLogTime(raw: string | null, name: string): number | undefined {
  if (raw === null || raw === '') return undefined;
  let secs: number;
  if (/^-?\d+(\.\d+)?$/.test(raw)) secs = Number(raw);
  else {
    const ms = Date.parse(raw);
    if (Number.isNaN(ms)) throw invalidParameter(`invalid value for "${name}": failed to parse value as time or duration: ${JSON.stringify(raw)}`);
    secs = ms / 1000;
  }
  return secs === 0 ? undefined : secs;
}

/** `tail`: a line count; "all", empty, negative or unparseable means everything (as Docker). */
export function parseTail(raw: string | null): number | undefined {
  if (raw === null || raw === '' || raw === 'all') return undefined;
  if (!/^\d+$/.test(raw)) return undefined;
  return Number(raw);
}

/** The `--details` prefix of a log line: `k=v,k2=v2 ` (keys sorted, escaped as Docker escapes them). */
export function detailsPrefix(attrs: Record<string, string>): string {
  const pairs = Object.keys(attrs)
    .sort()
    .map((k) => `${goQueryEscape(k)}=${goQueryEscape(attrs[k]!)}`);
  return pairs.join(',') + ' ';
}
