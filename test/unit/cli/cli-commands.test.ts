import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HistoryRow, historyFormat } from '../../../src/cli/history.js';
import { parseGoBool as parseBool } from '../../../src/lib/go-bool.js';
import { goJson } from '../../../src/lib/go-template.js';
import { COMMANDS, rowsFor } from '../../../src/cli/commands.js';

test('history rows: <missing> ids kept, CREATED BY cut at 45 columns, raw sizes without -H', () => {
  const h = { Id: '<missing>', Created: 0, CreatedBy: `/bin/sh -c\t${'x'.repeat(60)}`, Tags: null, Size: 1234567, Comment: '' };
  const row = new HistoryRow(h, false, true);
  assert.equal(row.ID(), '<missing>');
  assert.equal(row.CreatedBy(), `/bin/sh -c ${'x'.repeat(33)}…`);
  assert.equal([...row.CreatedBy()].length, 45);
  assert.equal(row.Size(), '1234567');
  assert.equal(row.CreatedSince(), row.CreatedAt());
  assert.equal(new HistoryRow(h, true, false).Size(), '1.23MB');
  assert.equal(new HistoryRow({ ...h, Id: `sha256:${'a'.repeat(64)}` }, true, true).ID(), 'a'.repeat(12));
});

test('history formats and pflag booleans', () => {
  assert.equal(historyFormat(undefined, true, true), '{{.ID}}');
  assert.match(historyFormat('table', false, false), /CreatedAt/);
  assert.match(historyFormat('', false, true), /CreatedSince/);
  assert.equal(historyFormat('{{.Size}}', true, true), '{{.Size}}');
  assert.equal(parseBool('false'), false);
  assert.equal(parseBool('T'), true);
  assert.equal(parseBool('busybox'), undefined);
});

test('json output escapes HTML characters as Go does', () => {
  assert.equal(goJson({ a: '<x> & y' }), '{"a":"\\u003cx\\u003e \\u0026 y"}');
});

test('system prune warning lists what goes, and the filters', async () => {
  const { systemPruneWarning, imageLines, section } = await import('../../../src/cli/prune.js');
  assert.equal(
    systemPruneWarning({ volumes: true, filter: ['label=a'] }),
    'WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n' +
      '  - all anonymous volumes not used by at least one container\n  - all dangling images\n  - unused build cache\n\n' +
      '  Items to be pruned will be filtered with:\n  - label=a\n\nAre you sure you want to continue?',
  );
  assert.match(systemPruneWarning({ all: true }), /all images without at least one container associated to them\n {2}- all build cache\n\nAre/);
  assert.deepEqual(imageLines([{ Untagged: 'a:1' }, { Deleted: 'sha256:x' }]), ['untagged: a:1', 'deleted: sha256:x']);
  assert.equal(section('T:', []), '');
});

test('rowsFor: the version flag alone defines no command; help, or -v beside anything else, all or what is named', () => {
  const flags = new Set(['-H', '--host']);
  assert.deepEqual(rowsFor(['--version'], flags), []);
  assert.deepEqual(rowsFor(['-v'], flags), []);
  assert.equal(rowsFor(['--help'], flags), COMMANDS);
  assert.equal(rowsFor(['-v', 'ps'], flags), COMMANDS);
  assert.equal(rowsFor([], flags), COMMANDS);
  assert.deepEqual(rowsFor(['-H', 'unix:///x', 'ps', '-a'], flags).map((r) => r[0]), ['ps']);
});
