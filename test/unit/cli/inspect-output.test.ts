import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspectOutput } from '../../../src/cli/format/inspect-output.js';
import { StatusError } from '../../../src/cli/cli-context.js';

test('inspect prints an indented array, [] for nothing, JSON lines, or a template per object', () => {
  const items = [{ Name: 'a', Labels: { x: '1' } }, { Name: 'b', Labels: {} }];
  assert.equal(inspectOutput(items, undefined), `${JSON.stringify(items, null, 4)}\n`);
  assert.equal(inspectOutput([], undefined), '[]\n');
  assert.equal(inspectOutput(items, 'json'), '{"Name":"a","Labels":{"x":"1"}}\n{"Name":"b","Labels":{}}\n');
  assert.equal(inspectOutput(items, '{{.Name}}'), 'a\nb\n');
});

test('a template that fails is a status-1 template parsing error', () => {
  assert.throws(
    () => inspectOutput([{ Name: 'a' }], '{{.Name.Nope}}'),
    (err: unknown) => err instanceof StatusError && /^template parsing error: /.test(err.message),
  );
});
