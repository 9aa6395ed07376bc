/** parseWords (build/parser.ts): BuildKit's word splitting of ENV, LABEL and ARG arguments. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dockerfileNodes, parseWords } from '../../../src/build/parser.js';

/** BuildKit's parseWords as a character-at-a-time state machine: the reference the slicing version must agree with. */
function referenceWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  let blankOK = false;
  let cur = '';
  const chars = [...rest];
  for (let i = 0; i <= chars.length; i++) {
    const end = i === chars.length;
    let ch = end ? '' : chars[i]!;
    if (phase === 'spaces') {
      if (end) break;
      if (/\s/.test(ch)) continue;
      phase = 'word';
    }
    if (end) {
      if (blankOK || cur.length > 0) words.push(cur);
      break;
    }
    if (phase === 'word') {
      if (/\s/.test(ch)) {
        phase = 'spaces';
        if (blankOK || cur.length > 0) words.push(cur);
        cur = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === escape) {
        if (i + 1 === chars.length) continue;
        cur += ch;
        ch = chars[++i]!;
      }
      cur += ch;
      continue;
    }
    if (ch === quote) phase = 'word';
    if (ch === escape && quote !== "'") {
      if (i + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      cur += ch;
      ch = chars[++i]!;
    }
    cur += ch;
  }
  return words;
}

test('words keep their quotes and escapes; empty quoted words count; a final escape is dropped', () => {
  assert.deepEqual(parseWords('A=1  B="two words" C=\'x y\'', '\\'), ['A=1', 'B="two words"', "C='x y'"]);
  assert.deepEqual(parseWords('a\\ b "" c\\', '\\'), ['a\\ b', '""', 'c']);
  // A single quote takes no escape: the quote opened after `s` runs to the end, one word in all.
  assert.deepEqual(parseWords("'it\\'s' \"q\\\"d\"", '\\'), ["'it\\'s' \"q\\\"d\""]);
  assert.deepEqual(parseWords('"a\\" b" c', '\\'), ['"a\\" b"', 'c']);
  assert.deepEqual(parseWords('x`\ty "z`', '`'), ['x`\ty', '"z']);
  assert.deepEqual(parseWords('\u00a0a\u3000b\ufeff', '\\'), ['a', 'b']);
});

test('agrees with the character-at-a-time reference on seeded random strings', () => {
  const alphabet = ['a', 'b', '=', "'", '"', '\\', '`', ' ', ' ', '\t', '\n', '\u00e9', '\u{1f600}', '\u00a0'];
  let state = 20261208;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31);
  for (let n = 0; n < 20_000; n++) {
    let s = '';
    const len = next() % 16;
    for (let k = 0; k < len; k++) s += alphabet[next() % alphabet.length];
    for (const escape of ['\\', '`']) assert.deepEqual(parseWords(s, escape), referenceWords(s, escape), JSON.stringify({ s, escape }));
  }
});

test('an instruction continued over many lines pauses while its lines are gathered', () => {
  const lines = Array.from({ length: 20_000 }, (_, i) => `K${i}=v \\`);
  const gen = dockerfileNodes(`FROM busybox\nENV ${lines.join('\n')}\n  Z=1\n`);
  let pauses = 0;
  let r = gen.next();
  for (; !r.done; r = gen.next()) pauses++;
  // One pause after each of the two instructions, and more within the ENV's 20,001 lines.
  assert.ok(pauses >= 6, `${pauses} pauses`);
  assert.equal(r.value.nodes[1]!.args.length, 3 * 20_001);
});
