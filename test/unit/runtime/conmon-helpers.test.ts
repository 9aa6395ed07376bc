import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeSignal } from '../../../src/runtime/conmon.js';
import { runtimeErrorMessage } from '../../../src/runtime/conmon-io.js';

test('signals: names with or without SIG, any case, numbers', () => {
  assert.equal(normalizeSignal('SIGKILL'), '9');
  assert.equal(normalizeSignal('kill'), '9');
  assert.equal(normalizeSignal('TERM'), '15');
  assert.equal(normalizeSignal('sighup'), '1');
  assert.equal(normalizeSignal(9), '9');
  assert.equal(normalizeSignal('10'), '10');
  assert.equal(normalizeSignal('RTMIN+1'), '35');
  assert.throws(() => normalizeSignal('NOPE'), /invalid signal: NOPE/);
  assert.throws(() => normalizeSignal(0), /invalid signal: 0/);
  assert.throws(() => normalizeSignal('99'), /invalid signal: 99/);
});

test('runc error lines: logrus text and JSON', () => {
  const text =
    'time="2024-01-01T00:00:00Z" level=error msg="runc create failed: unable to start container process: exec: \\"nosuchcmd\\": executable file not found in $PATH"\n';
  assert.equal(runtimeErrorMessage(text), 'runc create failed: unable to start container process: exec: "nosuchcmd": executable file not found in $PATH');
  assert.equal(runtimeErrorMessage('{"level":"error","msg":"container does not exist"}\n'), 'container does not exist');
  assert.equal(runtimeErrorMessage('plain failure\n'), 'plain failure');
});
