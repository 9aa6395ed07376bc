/**
 * Regular expressions that come from clients (filters, log options) or are built from their
 * globs (COPY sources, image reference filters), run as Go runs them: RE2 syntax, in time linear
 * in the input (re2js, a port of RE2). JavaScript's RegExp backtracks: a `name` filter of
 * `(a+)+c` against a 30-character container name held the daemon's one thread for 100 s.
 */
import { RE2JS } from 're2js';

export interface GoRegexp {
  /** Whether the expression matches some part of `s` (Go's MatchString). */
  test(s: string): boolean;
}

const cache = new Map<string, GoRegexp>();
const CACHE_SIZE = 256;

/** `pattern` compiled as Go's regexp.Compile does; throws Go's `error parsing regexp: …` for what RE2 refuses. */
export function compileGoRegexp(pattern: string): GoRegexp {
  let re = cache.get(pattern);
  if (re) return re;
  re = RE2JS.compile(pattern);
  if (cache.size >= CACHE_SIZE) cache.clear();
  cache.set(pattern, re);
  return re;
}
