import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rfc3339NanoFromNs, rfc3339ToNs, wallClockNs } from '../../../src/lib/wall-clock.js';

test('a wall-clock reading lies in the millisecond Date.now() gives, each later than the one before', () => {
  let previous = 0n;
  let subMillisecond = 0;
  for (let i = 0; i < 20_000; i++) {
    const before = BigInt(Date.now()) * 1_000_000n;
    const ns = wallClockNs();
    const after = BigInt(Date.now()) * 1_000_000n;
    assert.ok(ns >= before && ns < after + 1_000_000n, `${ns} outside [${before}, ${after + 1_000_000n})`);
    assert.ok(ns > previous, `${ns} after ${previous}`);
    if (ns % 1_000_000n !== 0n) subMillisecond++;
    previous = ns;
  }
  assert.ok(subMillisecond > 10_000, `only ${subMillisecond} readings had digits below the millisecond`);
});

test("Go's RFC3339Nano: up to nine fraction digits, trailing zeros dropped", () => {
  assert.equal(rfc3339NanoFromNs(1_796_668_900_282_533_632n), '2026-12-07T18:41:40.282533632Z');
  assert.equal(rfc3339NanoFromNs(1_796_668_900_280_000_000n), '2026-12-07T18:41:40.28Z');
  assert.equal(rfc3339NanoFromNs(1_796_668_900_000_000_000n), '2026-12-07T18:41:40Z');
  assert.equal(rfc3339NanoFromNs(1_796_668_900_000_000_001n), '2026-12-07T18:41:40.000000001Z');
});

test('an RFC 3339 time back to nanoseconds: any offset, up to nine digits, undefined when it does not parse', () => {
  assert.equal(rfc3339ToNs('2026-12-07T18:41:40.282533632Z'), 1_796_668_900_282_533_632n);
  assert.equal(rfc3339ToNs('2026-12-07T18:41:40.28Z'), 1_796_668_900_280_000_000n);
  assert.equal(rfc3339ToNs('2026-12-07T20:41:40.000000001+02:00'), 1_796_668_900_000_000_001n);
  assert.equal(rfc3339ToNs('2026-12-07t18:41:40z'), 1_796_668_900_000_000_000n);
  for (const bad of ['', 'yesterday', '2026-12-07T18:41:40.1234567891Z', '2026-12-07T18:41:40', '2026-13-07T18:41:40Z']) {
    assert.equal(rfc3339ToNs(bad), undefined, bad);
  }
  for (const ns of [1n, 1_796_668_900_282_533_632n, 1_796_668_900_000_000_000n]) assert.equal(rfc3339ToNs(rfc3339NanoFromNs(ns)), ns);
});

// Last in the file: it leaves the clock's state ahead of the real one.
test('a reading that used up its millisecond is followed by one in the next, not one back', () => {
  const realNow = Date.now;
  const realHr = process.hrtime.bigint;
  const baseMs = realNow() + 60_000;
  let wallMs = baseMs;
  let hr = 1_000_000_000n;
  let spins = 0;
  Date.now = () => {
    // While the test waits for the next millisecond, Date.now() moves on after a few looks.
    if (wallMs === baseMs && hr > 1_001_000_000n && ++spins > 3) wallMs = baseMs + 1;
    return wallMs;
  };
  process.hrtime.bigint = () => hr;
  try {
    const first = wallClockNs();
    assert.equal(first, BigInt(baseMs) * 1_000_000n);
    hr += 999_999n;
    const second = wallClockNs();
    assert.equal(second, first + 999_999n);
    // The monotonic clock passes the millisecond while Date.now() has not: re-anchoring would
    // go back to its start, and the millisecond has no nanosecond left.
    hr += 1_000n;
    const third = wallClockNs();
    assert.ok(third > second, `${third} after ${second}`);
    assert.equal(third, BigInt(baseMs + 1) * 1_000_000n);
  } finally {
    Date.now = realNow;
    process.hrtime.bigint = realHr;
  }
});
