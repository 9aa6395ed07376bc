/** ENV's merge into the config's list (env-merge.ts), as moby's dispatchEnv makes it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setEnv } from '../../../src/build/env-merge.js';

test('a replaced key keeps its place, a new one is appended, a later pair sees an earlier one', () => {
  const list = ['PATH=/bin', 'A=1', 'B=2'];
  const pairs: Array<[string, string]> = [['A', 'x'], ['C', '3'], ['C', '4'], ['PATH', '/usr/bin']];
  assert.deepEqual(setEnv(list, pairs), ['PATH=/usr/bin', 'A=x', 'B=2', 'C=4']);
  assert.deepEqual(list, ['PATH=/bin', 'A=1', 'B=2'], 'the list given is left as it was');
});

test('of a key listed twice, the first entry is replaced; keys are case-sensitive; an entry without = is its key', () => {
  assert.deepEqual(setEnv(['A=1', 'a=2', 'A=3', 'BARE'], [['A', 'new'], ['BARE', 'v']]), ['A=new', 'a=2', 'A=3', 'BARE=v']);
});

test('100,000 new keys merge in linear time', () => {
  const pairs = Array.from({ length: 100_000 }, (_, i) => [`K${i}`, `${i}`] as [string, string]);
  const started = Date.now();
  const out = setEnv(['PATH=/bin'], pairs);
  assert.equal(out.length, 100_001);
  assert.equal(out[100_000], 'K99999=99999');
  // The search per pair took minutes for this many; the map takes tens of milliseconds.
  assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
});
