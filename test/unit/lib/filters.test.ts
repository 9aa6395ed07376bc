import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelMatches, parseFilterTime } from '../../../src/lib/filters.js';

test('label filters: key alone or key=value', () => {
  assert.equal(labelMatches({ a: '1' }, 'a'), true);
  assert.equal(labelMatches({ a: '1' }, 'a=1'), true);
  assert.equal(labelMatches({ a: '1' }, 'a=2'), false);
  assert.equal(labelMatches({ a: '' }, 'a='), true);
  assert.equal(labelMatches({}, 'a'), false);
  assert.equal(labelMatches(null, 'toString'), false);
});

test('filter times: Go durations, unix seconds, RFC3339', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseFilterTime('1h', now), now / 1000 - 3600);
  assert.equal(parseFilterTime('90m', now), now / 1000 - 5400);
  assert.equal(parseFilterTime('1700000000.5', now), 1700000000.5);
  assert.equal(parseFilterTime('2025-12-31T23:00:00Z', now), now / 1000 - 3600);
  assert.throws(() => parseFilterTime('yesterday', now), /failed to parse value as time or duration: "yesterday"/);
});

test("filterMatches is Docker's Args.Match: exact, unanchored regexp, Go's (?i), bad patterns skipped", async () => {
  const { filterMatches } = await import('../../../src/lib/filters.js');
  assert.equal(filterMatches(undefined, 'x'), true);
  assert.equal(filterMatches([], 'x'), true);
  assert.equal(filterMatches(['net'], 'mynet2'), true);
  assert.equal(filterMatches(['^mynet$'], 'mynet2'), false);
  assert.equal(filterMatches(['^mynet$'], 'mynet'), true);
  assert.equal(filterMatches(['(?i)^MY'], 'mynet'), true);
  assert.equal(filterMatches(['[', 'zzz'], 'a[b'), false);
  assert.equal(filterMatches(['a[b'], 'a[b'), true);
});
