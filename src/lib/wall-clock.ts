/**
 * The wall clock in nanoseconds, as Go's time.Now().UnixNano(): Date.now() gives milliseconds only,
 * so the fraction below them comes from the monotonic clock, anchored to Date.now() and re-anchored
 * whenever the two part by a millisecond (a clock step, a slew). A reading therefore always lies in
 * the millisecond Date.now() gives at that moment, and each reading is later than the one before
 * while the wall clock does not go back (times that order uses, as Go's do). Event times and /info's SystemTime both come from here, so a client that takes
 * SystemTime as `since` or `until` for /events sees exactly the events before or after it.
 */
let anchorNs = 0n;
let anchorHr = 0n;
let last = 0n;

export function wallClockNs(): bigint {
  const hr = process.hrtime.bigint();
  const wallNs = BigInt(Date.now()) * 1_000_000n;
  let ns = anchorNs + (hr - anchorHr);
  if (anchorNs === 0n || ns < wallNs || ns >= wallNs + 1_000_000n) {
    anchorNs = wallNs;
    anchorHr = hr;
    ns = wallNs;
  }
  // Re-anchoring backwards (the monotonic clock ran ahead) must not make a reading go back within
  // the millisecond it already reached, nor may two readings be equal.
  if (ns <= last && last + 1n < wallNs + 1_000_000n) ns = last + 1n;
  last = ns;
  return ns;
}

/** Go's time.Time in RFC 3339 with up to nine fraction digits, trailing zeros dropped, in UTC. */
export function rfc3339NanoFromNs(ns: bigint): string {
  const secs = ns / 1_000_000_000n;
  const frac = ns % 1_000_000_000n;
  const base = new Date(Number(secs) * 1000).toISOString().replace(/\.\d{3}Z$/, '');
  const digits = frac === 0n ? '' : '.' + frac.toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${digits}Z`;
}
