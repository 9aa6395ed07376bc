import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandOf, effectiveNetworkMode, mergeImageConfig, validateHostConfig } from '../../../src/daemon/container-config.js';
import { isEngineError } from '../../../src/lib/errors.js';

const image = {
  Env: ['PATH=/usr/bin:/bin', 'LANG=C'],
  Cmd: ['nginx', '-g', 'daemon off;'],
  Entrypoint: ['/docker-entrypoint.sh'],
  WorkingDir: '/srv',
  User: 'www',
  Labels: { a: 'image', b: 'image' },
  ExposedPorts: { '80/tcp': {} },
  StopSignal: 'SIGQUIT',
};

test('image config fills what the user left empty', () => {
  const c = mergeImageConfig({ Image: 'nginx' }, image);
  assert.deepEqual(c.Cmd, image.Cmd);
  assert.deepEqual(c.Entrypoint, image.Entrypoint);
  assert.equal(c.WorkingDir, '/srv');
  assert.equal(c.User, 'www');
  assert.equal(c.StopSignal, 'SIGQUIT');
  assert.deepEqual(c.ExposedPorts, { '80/tcp': {} });
});

test('user env wins per key and image env is appended', () => {
  const c = mergeImageConfig({ Image: 'x', Env: ['LANG=de', 'FOO=1'] }, image);
  assert.deepEqual(c.Env, ['LANG=de', 'FOO=1', 'PATH=/usr/bin:/bin']);
});

test('user labels override image labels', () => {
  const c = mergeImageConfig({ Image: 'x', Labels: { b: 'user' } }, image);
  assert.deepEqual(c.Labels, { a: 'image', b: 'user' });
});

test('a user Cmd keeps the image entrypoint; a user entrypoint drops the image Cmd', () => {
  const a = mergeImageConfig({ Image: 'x', Cmd: ['ls'] }, image);
  assert.deepEqual([a.Entrypoint, a.Cmd], [image.Entrypoint, ['ls']]);
  const b = mergeImageConfig({ Image: 'x', Entrypoint: ['sh'] }, image);
  assert.deepEqual([b.Entrypoint, b.Cmd], [['sh'], undefined]);
});

test('--entrypoint "" clears the entrypoint and inherits no Cmd', () => {
  const c = mergeImageConfig({ Image: 'x', Entrypoint: [''], Cmd: ['ls'] }, image);
  assert.equal(c.Entrypoint, null);
  assert.deepEqual(commandOf(c), { path: 'ls', args: [] });
  const d = mergeImageConfig({ Image: 'x', Entrypoint: [''] }, image);
  assert.throws(() => commandOf(d), /No command specified/);
});

test('commandOf splits entrypoint + cmd', () => {
  assert.deepEqual(commandOf({ Entrypoint: ['a', 'b'], Cmd: ['c'] }), { path: 'a', args: ['b', 'c'] });
});

const rejects = (h: object, re: RegExp) =>
  assert.throws(() => validateHostConfig(h, 2), (e: unknown) => isEngineError(e, 'InvalidParameter') && re.test((e as Error).message));

test('host config validation matches Docker', () => {
  rejects({ Memory: 1024 }, /Minimum memory limit allowed is 6MB/);
  rejects({ Memory: 10 << 20, MemorySwap: 5 << 20 }, /Minimum memoryswap limit should be larger than memory limit/);
  rejects({ NanoCpus: 3e9 }, /Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available/);
  rejects({ NanoCpus: 1e9, CpuQuota: 1000 }, /Conflicting options: Nano CPUs and CPU Period cannot both be set/);
  rejects({ RestartPolicy: { Name: 'sometimes' } }, /unknown policy 'sometimes'/);
  rejects({ RestartPolicy: { Name: 'always', MaximumRetryCount: 3 } }, /maximum retry count can only be used with 'on-failure'/);
  rejects({ RestartPolicy: { Name: 'on-failure', MaximumRetryCount: -1 } }, /cannot be negative/);
  rejects({ AutoRemove: true, RestartPolicy: { Name: 'always' } }, /auto-remove/);
  validateHostConfig({ Memory: 64 << 20, MemorySwap: -1, NanoCpus: 1.5e9, RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 } }, 2);
});

test('effective network mode defaults to bridge', () => {
  assert.equal(effectiveNetworkMode({}), 'bridge');
  assert.equal(effectiveNetworkMode({ NetworkMode: 'default' }), 'bridge');
  assert.equal(effectiveNetworkMode({ NetworkMode: 'none' }), 'none');
});
