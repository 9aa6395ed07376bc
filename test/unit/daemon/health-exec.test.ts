import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerRecord, HealthState } from '../../../src/container/container.js';
import { applyProbeResult, healthTimings, probeCommand } from '../../../src/daemon/health.js';
import { execStartError } from '../../../src/daemon/exec.js';
import { replaceOrAppendEnv } from '../../../src/lib/env-list.js';
import { RuntimeStartError } from '../../../src/runtime/runtime.js';

const rec = (config: Partial<ContainerRecord['Config']>) => ({ Config: config }) as ContainerRecord;
const result = (code: number, start = '2024-01-01T00:00:10Z') => ({ Start: start, End: start, ExitCode: code, Output: '' });
const t = healthTimings({ Retries: 2, StartPeriod: 5_000_000_000 });
const started = Date.parse('2024-01-01T00:00:00Z');

test('probeCommand: CMD as is, CMD-SHELL through the shell (Config.Shell first), NONE and unknown types off', () => {
  assert.deepEqual(probeCommand(rec({ Healthcheck: { Test: ['CMD', 'curl', '-f', 'x'] } })), ['curl', '-f', 'x']);
  assert.deepEqual(probeCommand(rec({ Healthcheck: { Test: ['CMD-SHELL', 'exit 1'] } })), ['/bin/sh', '-c', 'exit 1']);
  assert.deepEqual(probeCommand(rec({ Shell: ['/bin/ash', '-ec'], Healthcheck: { Test: ['CMD-SHELL', 'true'] } })), ['/bin/ash', '-ec', 'true']);
  assert.equal(probeCommand(rec({ Healthcheck: { Test: ['NONE'] } })), undefined);
  assert.equal(probeCommand(rec({ Healthcheck: { Test: ['CMD'] } })), undefined);
  assert.equal(probeCommand(rec({ Healthcheck: { Test: ['WHAT', 'x'] } })), undefined);
  assert.equal(probeCommand(rec({})), undefined);
});

test('healthTimings: nanoseconds to ms with Docker defaults', () => {
  assert.deepEqual(healthTimings(undefined), { intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, startIntervalMs: 5_000, retries: 3 });
  assert.deepEqual(healthTimings({ Interval: 150_000_000, Timeout: 2_000_000_000, Retries: 5 }).intervalMs, 150);
});

test('applyProbeResult: streaks, retries, start period, five log entries', () => {
  let h: HealthState = { Status: 'starting', FailingStreak: 0, Log: [] };
  // Within the start period a failure does not count while starting.
  h = applyProbeResult(h, result(1, '2024-01-01T00:00:02Z'), t, started);
  assert.deepEqual([h.Status, h.FailingStreak], ['starting', 0]);
  h = applyProbeResult(h, result(1), t, started);
  assert.deepEqual([h.Status, h.FailingStreak], ['starting', 1]);
  h = applyProbeResult(h, result(2), t, started);
  assert.deepEqual([h.Status, h.FailingStreak], ['unhealthy', 2]);
  h = applyProbeResult(h, result(0), t, started);
  assert.deepEqual([h.Status, h.FailingStreak], ['healthy', 0]);
  h = applyProbeResult(h, result(1), t, started);
  assert.deepEqual([h.Status, h.FailingStreak], ['healthy', 1]);
  h = applyProbeResult(h, result(-1), t, started);
  assert.deepEqual([h.Status, h.FailingStreak], ['unhealthy', 2]);
  assert.equal(h.Log.length, 5);
  assert.equal(h.Log.at(-1)!.ExitCode, -1);
});

test('replaceOrAppendEnv: replace, append, a bare key unsets', () => {
  assert.deepEqual(replaceOrAppendEnv(['A=1', 'B=2', 'C=3'], ['B=x', 'D=4', 'C']), ['A=1', 'B=x', 'D=4']);
});

test('execStartError: Docker texts and 126/127', () => {
  const nf = execStartError(new RuntimeStartError('exec failed: unable to start container process: exec: "x": executable file not found in $PATH'));
  assert.equal(nf.exitCode, 127);
  assert.equal(nf.error.message, 'OCI runtime exec failed: exec failed: unable to start container process: exec: "x": executable file not found in $PATH: unknown');
  assert.equal(execStartError(new RuntimeStartError('exec failed: unable to start container process: exec: "/etc": permission denied')).exitCode, 126);
  assert.equal(execStartError(new RuntimeStartError('something else')).exitCode, 128);
});
