/** Docker's --since/--until timestamp parsing (timetypes.GetTimestamp). */
import { parseGoDuration } from '../lib/go-duration.js';

const TS_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?)?([zZ]|[+-]\d{2}:\d{2})?$/;

/**
 * Turns a --since/--until value into what the API expects: a duration ("10m") becomes
 * `now - d` in unix seconds; an RFC3339-like time becomes `sec.nanos`; a unix timestamp
 * passes through. Same rules and messages as Docker's timetypes.GetTimestamp.
 */
export function getTimestamp(value: string, now: number = Date.now()): string {
  if (value !== '0') {
    try {
      const ns = parseGoDuration(value);
      return String(Math.floor((now - ns / 1e6) / 1000));
    } catch {
      // not a duration
    }
  }
  const m = TS_RE.exec(value);
  if (m) {
    const [, y, mo, d, h = '0', mi = '0', sec = '0', frac = '', zone] = m;
    let ms: number;
    if (zone) {
      ms = Date.UTC(+y!, +mo! - 1, +d!, +h, +mi, +sec);
      if (zone !== 'z' && zone !== 'Z') {
        const sign = zone[0] === '-' ? -1 : 1;
        ms -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
      }
    } else {
      ms = new Date(+y!, +mo! - 1, +d!, +h, +mi, +sec).getTime();
    }
    const nanos = frac ? frac.slice(1).padEnd(9, '0') : '000000000';
    return `${Math.floor(ms / 1000)}.${nanos}`;
  }
  if (value.includes('-')) {
    throw new Error(`parsing time "${value}": cannot parse "${value}" as RFC3339`);
  }
  if (!/^\d+(\.\d{1,9})?$/.test(value)) {
    throw new Error(`failed to parse value as time or duration: "${value}"`);
  }
  return value;
}
