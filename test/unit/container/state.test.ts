import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initialState } from '../../../src/container/container.js';
import {
  cancelRestarting,
  formatRFC3339Nano,
  humanDuration,
  isRunning,
  isStopped,
  parseRFC3339Seconds,
  setDead,
  setError,
  setPaused,
  setRemoving,
  setRestarting,
  setRunning,
  setStartFailed,
  setStopped,
  setUnpaused,
  stateStatus,
  statusText,
} from '../../../src/container/state.js';
import { rfc3339ToNs } from '../../../src/lib/wall-clock.js';

const T0 = Date.parse('2026-11-23T08:00:00Z');
const at = (ms: number) => BigInt(T0 + ms) * 1_000_000n;

describe('container state', () => {
  it('formats and parses RFC3339Nano', () => {
    assert.equal(formatRFC3339Nano(new Date('2026-11-23T08:19:52.123Z')), '2026-11-23T08:19:52.123000000Z');
    assert.equal(parseRFC3339Seconds('2026-11-23T08:19:52.123456789Z'), Date.parse('2026-11-23T08:19:52Z') / 1000 + 0.123456789);
    assert.equal(parseRFC3339Seconds('2026-11-23T10:19:52.5+02:00'), Date.parse('2026-11-23T08:19:52Z') / 1000 + 0.5);
    assert.ok(Number.isNaN(parseRFC3339Seconds('yesterday')));
  });

  it('humanDuration matches go-units', () => {
    const s = 1000, m = 60 * s, h = 60 * m, d = 24 * h;
    const cases: Array<[number, string]> = [
      [0, 'Less than a second'], [999, 'Less than a second'], [-5 * s, 'Less than a second'],
      [1 * s, '1 second'], [1999, '1 second'], [3 * s, '3 seconds'], [59 * s, '59 seconds'],
      [60 * s, 'About a minute'], [119 * s, 'About a minute'], [2 * m, '2 minutes'], [59 * m, '59 minutes'],
      [60 * m, 'About an hour'], [89 * m, 'About an hour'], [90 * m, '2 hours'], [47 * h, '47 hours'],
      [48 * h, '2 days'], [3 * d, '3 days'], [13 * d, '13 days'], [14 * d, '2 weeks'], [59 * d, '8 weeks'],
      [60 * d, '2 months'], [729 * d, '24 months'], [730 * d, '2 years'], [1100 * d, '3 years'],
    ];
    for (const [ms, text] of cases) assert.equal(humanDuration(ms), text, `${ms} ms`);
  });

  it('walks created -> running -> paused -> exited with Docker status texts', () => {
    const s = initialState();
    assert.equal(stateStatus(s), 'created');
    assert.equal(statusText(s, T0), 'Created');
    setRunning(s, 42, at(0));
    assert.equal(s.Status, 'running');
    assert.equal(s.Pid, 42);
    assert.equal(statusText(s, T0 + 3000), 'Up 3 seconds');
    s.Health = { Status: 'starting', FailingStreak: 0, Log: [] };
    assert.equal(statusText(s, T0 + 3000), 'Up 3 seconds (health: starting)');
    s.Health = { Status: 'healthy', FailingStreak: 0, Log: [] };
    assert.equal(statusText(s, T0 + 3000), 'Up 3 seconds (healthy)');
    s.Health = null;
    setPaused(s);
    assert.equal(s.Status, 'paused');
    assert.ok(isRunning(s));
    assert.equal(statusText(s, T0 + 3000), 'Up 3 seconds (Paused)');
    setUnpaused(s);
    assert.equal(s.Status, 'running');
    setStopped(s, 0, at(10_000));
    assert.equal(s.Status, 'exited');
    assert.equal(s.Pid, 0);
    assert.ok(isStopped(s));
    assert.equal(statusText(s, T0 + 10_000 + 5 * 60_000), 'Exited (0) 5 minutes ago');
    setError(s, new Error('boom'));
    assert.equal(s.Error, 'boom');
    setRunning(s, 7, at(20_000));
    assert.equal(s.Error, '');
    setStopped(s, 137, at(21_000), true);
    assert.equal(s.OOMKilled, true);
    assert.equal(statusText(s, T0 + 21_000), 'Exited (137) Less than a second ago');
  });

  it('restarting, removing and dead', () => {
    const s = initialState();
    setRunning(s, 5, at(0));
    setRestarting(s, 1, at(1000));
    assert.equal(s.Status, 'restarting');
    assert.equal(s.Running, true, 'Docker keeps Running while restarting');
    assert.equal(statusText(s, T0 + 3000), 'Restarting (1) 2 seconds ago');
    // Also when a caller clears Running while restarting.
    assert.equal(statusText({ ...s, Running: false }, T0 + 3000), 'Restarting (1) 2 seconds ago');
    cancelRestarting(s);
    assert.equal(s.Status, 'exited');
    assert.equal(setRemoving(s), false);
    assert.equal(setRemoving(s), true, 'second call reports removal already under way');
    assert.equal(s.Status, 'removing');
    assert.equal(statusText(s), 'Removal In Progress');
    setDead(s);
    assert.equal(s.Status, 'dead');
    assert.equal(statusText(s), 'Dead');
    const never = initialState();
    never.StartedAt = '2026-01-01T00:00:00Z';
    assert.equal(statusText(never), '', 'started but never finished and not running: empty, as Docker');
  });
  it('a failed start: not running, the exit code and error kept; FinishedAt only for a container that ran', () => {
    const fresh = initialState();
    setStartFailed(fresh, 127, new Error('exec: not found'), at(1000));
    assert.equal(stateStatus(fresh), 'created');
    assert.equal(fresh.ExitCode, 127);
    assert.equal(fresh.Error, 'exec: not found');
    assert.equal(fresh.FinishedAt, initialState().FinishedAt);
    const ran = setRunning(initialState(), 42, at(0));
    setRestarting(ran, 1, at(500));
    assert.equal(isRunning(ran), true);
    setStartFailed(ran, 128, 'boom', at(2000));
    assert.deepEqual([ran.Status, ran.Running, ran.Restarting, ran.Pid], ['exited', false, false, 0]);
    assert.equal(ran.FinishedAt, '2026-11-23T08:00:02Z');
  });

  it('times are Go RFC3339Nano from the nanosecond wall clock: trailing zeros dropped, each later than the last', () => {
    const s = initialState();
    setRunning(s, 1, at(0) + 120_000_000n);
    assert.equal(s.StartedAt, '2026-11-23T08:00:00.12Z');
    setStopped(s, 0, at(0) + 120_000_007n);
    assert.equal(s.FinishedAt, '2026-11-23T08:00:00.120000007Z');
    const before = BigInt(Date.now()) * 1_000_000n;
    const seen: bigint[] = [];
    for (let i = 0; i < 200; i++) {
      setRunning(s, 1);
      setStopped(s, 0);
      seen.push(rfc3339ToNs(s.StartedAt)!, rfc3339ToNs(s.FinishedAt)!);
    }
    const after = BigInt(Date.now() + 1) * 1_000_000n;
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, `reading ${i} is later than the one before`);
    assert.ok(seen[0]! >= before && seen.at(-1)! < after);
    assert.ok(seen.some((t) => t % 1_000_000n !== 0n), 'digits below the millisecond');
  });
});
