/** Environment lists merged as moby merges them (lib/env-list.ts): ENV's dispatchEnv, exec's ReplaceOrAppendEnvValues. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replaceOrAppendEnv, setEnv } from '../../../src/lib/env-list.js';

test('a replaced key keeps its place, a new one is appended, a later pair sees an earlier one', () => {
  const list = ['PATH=/bin', 'A=1', 'B=2'];
  const pairs: Array<[string, string]> = [['A', 'x'], ['C', '3'], ['C', '4'], ['PATH', '/usr/bin']];
  assert.deepEqual(setEnv(list, pairs), ['PATH=/usr/bin', 'A=x', 'B=2', 'C=4']);
  assert.deepEqual(list, ['PATH=/bin', 'A=1', 'B=2'], 'the list given is left as it was');
});

test('of a key listed twice, the first entry is replaced; keys are case-sensitive; an entry without = is its key', () => {
  assert.deepEqual(setEnv(['A=1', 'a=2', 'A=3', 'BARE'], [['A', 'new'], ['BARE', 'v']]), ['A=new', 'a=2', 'A=3', 'BARE=v']);
});

// A search of the list per entry takes minutes for 100,000 (the timeout fails it); a map, milliseconds.
test('100,000 new keys merge', { timeout: 60_000 }, () => {
  const pairs = Array.from({ length: 100_000 }, (_, i) => [`K${i}`, `${i}`] as [string, string]);
  const out = setEnv(['PATH=/bin'], pairs);
  assert.equal(out.length, 100_001);
  assert.equal(out[100_000], 'K99999=99999');
});

test("replaceOrAppendEnv: moby's ReplaceOrAppendEnvValues, over 100,000 entries too", { timeout: 60_000 }, () => {
  // The last default of a key is replaced; a key given twice is appended twice; an unset goes at the end.
  assert.deepEqual(replaceOrAppendEnv(['A=1', 'A=2', 'B=2'], ['A=x', 'N=1', 'N=2', 'B', 'B=back']), ['A=1', 'A=x', 'B=back', 'N=1', 'N=2']);
  assert.deepEqual(replaceOrAppendEnv(['A=1', 'B=2'], ['B', 'GONE']), ['A=1']);
  const many = Array.from({ length: 100_000 }, (_, i) => `K${i}=${i}`);
  const out = replaceOrAppendEnv(many, many.map((kv) => `${kv}!`));
  assert.equal(out.length, 100_000);
  assert.equal(out[99_999], 'K99999=99999!');
});
