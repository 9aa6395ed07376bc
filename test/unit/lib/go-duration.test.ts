import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatGoDuration, parseGoDuration, parseGoDurationNs } from '../../../src/lib/go-duration.js';

const S = 1_000_000_000n;
const MIN = 60n * S;

test("durations as Go's time.ParseDuration reads them, to the nanosecond", () => {
  const cases: Array<[string, bigint]> = [
    ['0', 0n],
    ['-0', 0n],
    ['+0', 0n],
    ['5s', 5n * S],
    ['-5s', -5n * S],
    ['+5s', 5n * S],
    ['5.6s', 5n * S + 600_000_000n],
    ['5.s', 5n * S],
    ['.5s', 500_000_000n],
    ['1.004s', S + 4_000_000n],
    ['100.00100s', 100n * S + 1_000_000n],
    ['10ns', 10n],
    ['11us', 11_000n],
    ['12\u00b5s', 12_000n],
    ['12\u03bcs', 12_000n],
    ['13ms', 13_000_000n],
    ['15m', 15n * MIN],
    ['16h', 960n * MIN],
    ['3h30m', 210n * MIN],
    ['10.5s4m', 4n * MIN + 10n * S + 500_000_000n],
    ['-2m3.4s', -(2n * MIN + 3n * S + 400_000_000n)],
    ['1h2m3s4ms5us6ns', 62n * MIN + 3n * S + 4_005_006n],
    ['0.3333333333333333333h', 20n * MIN],
    ['9007199254740993ns', (1n << 53n) + 1n],
    ['9223372036854775807ns', (1n << 63n) - 1n],
    ['9223372036854775.807us', (1n << 63n) - 1n],
    ['-9223372036854775808ns', -(1n << 63n)],
    ['0.830103483285477580700h', 49n * MIN + 48n * S + 372_539_827n],
  ];
  for (const [text, ns] of cases) assert.equal(parseGoDurationNs(text), ns, text);
  assert.equal(parseGoDuration('1.5s'), 1.5e9);
});

test("bad durations are refused with Go's messages, quoted as the time package quotes", () => {
  const cases: Array<[string, string]> = [
    ['', 'time: invalid duration ""'],
    ['3', 'time: missing unit in duration "3"'],
    ['-', 'time: invalid duration "-"'],
    ['s', 'time: invalid duration "s"'],
    ['.', 'time: invalid duration "."'],
    ['-.', 'time: invalid duration "-."'],
    ['.s', 'time: invalid duration ".s"'],
    ['1d', 'time: unknown unit "d" in duration "1d"'],
    ['1 s', 'time: unknown unit " s" in duration "1 s"'],
    ['1s\u00e9', 'time: unknown unit "s\\xc3\\xa9" in duration "1s\\xc3\\xa9"'],
    ['\ufffd hello', 'time: invalid duration "\\xef\\xbf\\xbd hello"'],
    ['1"s\t', 'time: unknown unit "\\"s\\x09" in duration "1\\"s\\x09"'],
    ['9223372036854775808ns', 'time: invalid duration "9223372036854775808ns"'],
    ['-9223372036854775809ns', 'time: invalid duration "-9223372036854775809ns"'],
    ['2562048h', 'time: invalid duration "2562048h"'],
  ];
  for (const [text, message] of cases) assert.throws(() => parseGoDurationNs(text), { message }, JSON.stringify(text));
});

test("durations printed as Go's time.Duration String() prints them", () => {
  const cases: Array<[bigint, string]> = [
    [0n, '0s'],
    [1n, '1ns'],
    [999n, '999ns'],
    [1_100n, '1.1µs'],
    [2_200_000n, '2.2ms'],
    [300_000_000n, '300ms'],
    [3_300_000_000n, '3.3s'],
    [30n * S, '30s'],
    [2n * MIN, '2m0s'],
    [4n * MIN + 5n * S, '4m5s'],
    [4n * MIN + 5_001_000_000n, '4m5.001s'],
    [60n * MIN, '1h0m0s'],
    [306n * MIN + 7_001_000_000n, '5h6m7.001s'],
    [8n * MIN + 1n, '8m0.000000001s'],
    [-1_500_000_000n, '-1.5s'],
    [(1n << 63n) - 1n, '2562047h47m16.854775807s'],
    [-(1n << 63n), '-2562047h47m16.854775808s'],
  ];
  for (const [ns, text] of cases) assert.equal(formatGoDuration(ns), text, text);
  assert.equal(formatGoDuration(1_500), '1.5µs');
});
