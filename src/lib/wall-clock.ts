/**
 * The wall clock in nanoseconds, as Go's time.Now().UnixNano(): Date.now() gives milliseconds only,
 * so the fraction below them comes from the monotonic clock, anchored to Date.now() and re-anchored
 * whenever the two part by a millisecond (a clock step, a slew). A reading therefore always lies in
 * the millisecond Date.now() gives at that moment, and each reading is later than the one before
 * while the wall clock does not go back (times that order uses, as Go's do). Event times, /info's
 * SystemTime and a container's Created, StartedAt and FinishedAt all come from here, so a client
 * that takes SystemTime as `since` or `until` for /events sees exactly the events before or after
 * it, and containers created one after another never share a creation time.
 */
let anchorNs = 0n;
let anchorHr = 0n;
let last = 0n;

export function wallClockNs(): bigint {
  const hr = process.hrtime.bigint();
  const wallMs = Date.now();
  const wallNs = BigInt(wallMs) * 1_000_000n;
  let ns = anchorNs + (hr - anchorHr);
  if (anchorNs === 0n || ns < wallNs || ns >= wallNs + 1_000_000n) {
    anchorNs = wallNs;
    anchorHr = hr;
    ns = wallNs;
  }
  // Re-anchoring backwards (the monotonic clock ran ahead) must not make a reading go back within
  // the millisecond it already reached, nor may two readings be equal.
  if (ns <= last && last + 1n < wallNs + 1_000_000n) ns = last + 1n;
  else if (ns <= last && last < wallNs + 1_000_000n) {
    // The last nanosecond of this millisecond is taken (the monotonic clock ran past it while
    // Date.now() had not): wait for the next millisecond, less than one away.
    while (Date.now() === wallMs);
    return wallClockNs();
  }
  last = ns;
  return ns;
}

/** Now as Go's time.Now() marshals itself: RFC 3339 to the nanosecond, trailing zeros dropped. */
export function rfc3339NanoNow(): string {
  return rfc3339NanoFromNs(wallClockNs());
}

/** Go's time.Time in RFC 3339 with up to nine fraction digits, trailing zeros dropped, in UTC. */
export function rfc3339NanoFromNs(ns: bigint): string {
  const secs = ns / 1_000_000_000n;
  const frac = ns % 1_000_000_000n;
  const base = new Date(Number(secs) * 1000).toISOString().replace(/\.\d{3}Z$/, '');
  const digits = frac === 0n ? '' : '.' + frac.toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${digits}Z`;
}

const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/i;

/** Nanoseconds since the epoch of an RFC 3339 time with up to nine fraction digits; undefined when it does not parse. */
export function rfc3339ToNs(time: string): bigint | undefined {
  const m = RFC3339.exec(time);
  if (!m) return undefined;
  const secondsMs = Date.parse(`${m[1]}${m[3]!.toUpperCase()}`);
  if (Number.isNaN(secondsMs)) return undefined;
  return BigInt(secondsMs) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}
