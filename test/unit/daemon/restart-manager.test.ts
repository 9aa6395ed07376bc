import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RestartManager, policyWantsRestart } from '../../../src/daemon/containers/restart-manager.js';

test('back-off doubles from 100 ms and caps at one minute', () => {
  const m = new RestartManager({ Name: 'always' });
  const delays = Array.from({ length: 12 }, () => m.shouldRestart(1, false, 50).delayMs);
  assert.deepEqual(delays.slice(0, 5), [100, 200, 400, 800, 1600]);
  assert.equal(delays[11], 60_000);
  assert.equal(m.count, 12);
});

test('a run of 10 s or more resets the back-off', () => {
  const m = new RestartManager({ Name: 'always' });
  m.shouldRestart(1, false, 10);
  m.shouldRestart(1, false, 10);
  assert.equal(m.shouldRestart(1, false, 10_000).delayMs, 100);
});

test('on-failure restarts only non-zero exits, up to the maximum', () => {
  const m = new RestartManager({ Name: 'on-failure', MaximumRetryCount: 2 });
  assert.equal(m.shouldRestart(0, false, 1).restart, false);
  assert.equal(m.shouldRestart(3, false, 1).restart, true);
  assert.equal(m.shouldRestart(3, false, 1).restart, true);
  assert.equal(m.shouldRestart(3, false, 1).restart, false);
});

test('unless-stopped does not restart a manually stopped container; cancel stops everything', () => {
  assert.equal(new RestartManager({ Name: 'unless-stopped' }).shouldRestart(0, true, 1).restart, false);
  assert.equal(new RestartManager({ Name: 'unless-stopped' }).shouldRestart(0, false, 1).restart, true);
  const m = new RestartManager({ Name: 'always' });
  m.cancel();
  assert.equal(m.shouldRestart(1, false, 1).restart, false);
  m.reset();
  assert.equal(m.shouldRestart(1, false, 1).restart, true);
});

test('no policy never restarts; always restarts even a manually stopped container at daemon start', () => {
  assert.equal(policyWantsRestart({ Name: 'no' }, 1, false, 0), false);
  assert.equal(policyWantsRestart({}, 1, false, 0), false);
  assert.equal(policyWantsRestart({ Name: 'always' }, 0, true, 0), true);
  assert.equal(policyWantsRestart({ Name: 'unless-stopped' }, 0, true, 0), false);
});
