import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bytesSize, ellipsis, humanDuration, humanSize, humanSizeWithPrecision, ramInBytes, truncateId } from '../../../src/cli/format/units.js';
import { tabwrite } from '../../../src/cli/format/tabwriter.js';
import { getTimestamp } from '../../../src/cli/time-opts.js';
import { parseGoDuration } from '../../../src/lib/go-duration.js';

describe('HumanDuration', () => {
  const s = 1000;
  it('uses go-units wording', () => {
    assert.equal(humanDuration(500), 'Less than a second');
    assert.equal(humanDuration(1 * s), '1 second');
    assert.equal(humanDuration(2 * s), '2 seconds');
    assert.equal(humanDuration(59 * s), '59 seconds');
    assert.equal(humanDuration(60 * s), 'About a minute');
    assert.equal(humanDuration(119 * s), 'About a minute');
    assert.equal(humanDuration(47 * 60 * s), '47 minutes');
    assert.equal(humanDuration(60 * 60 * s), 'About an hour');
    assert.equal(humanDuration(89 * 60 * s), 'About an hour');
    assert.equal(humanDuration(90 * 60 * s), '2 hours');
    assert.equal(humanDuration(47 * 3600 * s), '47 hours');
    assert.equal(humanDuration(48 * 3600 * s), '2 days');
    assert.equal(humanDuration(14 * 86400 * s), '2 weeks');
    assert.equal(humanDuration(60 * 86400 * s), '2 months');
    assert.equal(humanDuration(3 * 365 * 86400 * s), '3 years');
  });
});

describe('HumanSize', () => {
  it('matches HumanSizeWithPrecision(…, 3) and HumanSize', () => {
    assert.equal(humanSizeWithPrecision(4261550, 3), '4.26MB');
    assert.equal(humanSizeWithPrecision(0, 3), '0B');
    assert.equal(humanSizeWithPrecision(999, 3), '999B');
    assert.equal(humanSizeWithPrecision(1000, 3), '1kB');
    assert.equal(humanSizeWithPrecision(1234567890, 3), '1.23GB');
    assert.equal(humanSizeWithPrecision(125_000_000, 3), '125MB');
    assert.equal(humanSize(1234567), '1.235MB');
    assert.equal(bytesSize(2 * 1024 ** 3), '2GiB');
  });

  it('parses RAM sizes like RAMInBytes', () => {
    assert.equal(ramInBytes('32'), 32);
    assert.equal(ramInBytes('32b'), 32);
    assert.equal(ramInBytes('32k'), 32 * 1024);
    assert.equal(ramInBytes('32KiB'), 32 * 1024);
    assert.equal(ramInBytes('1.5g'), 1.5 * 1024 ** 3);
    assert.throws(() => ramInBytes('32x'), /invalid suffix: 'x'/);
    assert.throws(() => ramInBytes(''), /invalid size: ''/);
  });

  it('truncates IDs and ellipsizes', () => {
    assert.equal(truncateId('sha256:0123456789abcdef'), '0123456789ab');
    assert.equal(ellipsis('sleep 1000', 20), 'sleep 1000');
    assert.equal(ellipsis('abcdefghijklmnopqrstuvwxyz', 20), 'abcdefghijklmnopqrs…');
  });
});

describe('tabwriter', () => {
  it('aligns tab-terminated cells with minwidth 10 and padding 3', () => {
    assert.equal(tabwrite('A\tBBBBBBBBBBBB\tC\nxx\ty\tzzz\n'), 'A         BBBBBBBBBBBB   C\nxx        y              zzz\n');
  });
  it('does not pad the last cell and handles ragged lines as column blocks', () => {
    assert.equal(tabwrite('a\tb\nccc\n\td\n'), 'a         b\nccc\n          d\n');
  });
});

describe('--since/--until', () => {
  const now = Date.UTC(2024, 0, 1, 12, 0, 0);
  it('parses Go durations', () => {
    assert.equal(parseGoDuration('1h30m'), 5400e9);
    assert.equal(parseGoDuration('500ms'), 500e6);
    assert.throws(() => parseGoDuration('10x'), /unknown unit "x"/);
  });
  it('turns durations and timestamps into API values', () => {
    assert.equal(getTimestamp('10m', now), String(now / 1000 - 600));
    assert.equal(getTimestamp('2024-01-01T10:00:00Z', now), `${Date.UTC(2024, 0, 1, 10) / 1000}.000000000`);
    assert.equal(getTimestamp('2024-01-01T10:00:00.5+02:00', now), `${Date.UTC(2024, 0, 1, 8) / 1000}.500000000`);
    assert.equal(getTimestamp('1700000000', now), '1700000000');
    assert.equal(getTimestamp('1700000000.123', now), '1700000000.123');
    assert.throws(() => getTimestamp('yesterday', now), /failed to parse value as time or duration: "yesterday"/);
  });
});
