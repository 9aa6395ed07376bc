import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterBool, labelMatches, parseFilterTime } from '../../../src/lib/filters.js';

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

test("filterBool takes only 1/true or 0/false, and words the rest as Docker's GetBoolOrDefault", () => {
  assert.equal(filterBool({}, 'dangling', true), true);
  assert.equal(filterBool({ dangling: ['true'] }, 'dangling', false), true);
  assert.equal(filterBool({ dangling: ['0', 'false'] }, 'dangling', true), false);
  assert.throws(() => filterBool({ dangling: ['maybe'] }, 'dangling', false), { kind: 'InvalidParameter', message: "invalid filter 'dangling=[maybe]'" });
  assert.throws(() => filterBool({ dangling: ['TRUE'] }, 'dangling', false), { message: "invalid filter 'dangling=[TRUE]'" });
  assert.throws(() => filterBool({ dangling: ['true', '0'] }, 'dangling', false), { message: "invalid filter 'dangling=[true 0]'" });
  assert.throws(() => filterBool({ dangling: [] }, 'dangling', false), { message: "invalid filter 'dangling'" });
});
