import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandOf, effectiveNetworkMode, mergeImageConfig, validateContainerConfig, validateHostConfig } from '../../../src/daemon/containers/config.js';
import { isEngineError } from '../../../src/lib/errors.js';
import type { HealthConfig } from '../../../src/api/types.js';

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

test("moby's merge: an empty map or list takes the image's (null too); Labels never null; no Shell or OnBuild", () => {
  const bare = { Cmd: ['sh'], Volumes: null, ExposedPorts: null, Env: null, Labels: null, Shell: ['/bin/bash', '-c'], OnBuild: ['RUN x'] };
  const c = mergeImageConfig({ Image: 'x', Volumes: {}, ExposedPorts: {}, Env: [] }, bare);
  assert.equal(c.Volumes, null);
  assert.equal(c.ExposedPorts, null);
  assert.equal(c.Env, null);
  assert.deepEqual(c.Labels, {});
  assert.equal(c.Shell, undefined);
  assert.equal(c.OnBuild, undefined);
  const both = mergeImageConfig({ Image: 'x', Volumes: { '/u': {} }, ExposedPorts: { '1/tcp': {} } }, { ...image, Volumes: { '/i': {} } });
  assert.deepEqual(both.Volumes, { '/u': {}, '/i': {} });
  assert.deepEqual(both.ExposedPorts, { '1/tcp': {}, '80/tcp': {} });
  // The image's maps are copied: a container's changes never reach the image's config.
  const img = { ...image, Volumes: { '/i': {} } };
  const taken = mergeImageConfig({ Image: 'x', Volumes: {}, ExposedPorts: {} }, img);
  taken.Volumes!['/mine'] = {};
  taken.ExposedPorts!['9/tcp'] = {};
  assert.deepEqual(img.Volumes, { '/i': {} });
  assert.deepEqual(img.ExposedPorts, { '80/tcp': {} });
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
  rejects({ NanoCpus: 3e9 }, /range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available/);
  rejects({ NanoCpus: 1e9, CpuQuota: 1000 }, /Conflicting options: Nano CPUs and CPU Quota cannot both be set/);
  rejects({ NanoCpus: 1e9, CpuPeriod: 1000 }, /Conflicting options: Nano CPUs and CPU Period cannot both be set/);
  rejects({ MemorySwappiness: 101 }, /Invalid value: 101, valid memory swappiness range is 0-100/);
  rejects({ CpuPeriod: 10 }, /CPU cfs period can not be less than 1ms/);
  rejects({ BlkioWeight: 5 }, /Range of blkio weight is from 10 to 1000/);
  rejects({ IOMaximumIOps: 5 }, /Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps/);
  rejects({ CpusetCpus: '0-x' }, /Invalid value 0-x for cpuset cpus/);
  rejects({ Isolation: 'hyperv' }, /invalid isolation 'hyperv' on linux/);
  rejects({ StorageOpt: { size: '1G' } }, /--storage-opt is supported only for overlay over xfs with 'pquota' mount option/);
  rejects({ StorageOpt: { foo: 'x' } }, /Unknown option foo/);
  rejects({ RestartPolicy: { Name: 'sometimes' } }, /unknown policy 'sometimes'/);
  rejects({ RestartPolicy: { Name: 'always', MaximumRetryCount: 3 } }, /maximum retry count can only be used with 'on-failure'/);
  rejects({ RestartPolicy: { Name: 'on-failure', MaximumRetryCount: -1 } }, /cannot be negative/);
  rejects({ AutoRemove: true, RestartPolicy: { Name: 'always' } }, /can't create 'AutoRemove' container with restart policy/);
  validateHostConfig({ Memory: 64 << 20, MemorySwap: -1, NanoCpus: 1.5e9, RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 } }, 2);
});

test('effective network mode defaults to bridge', () => {
  assert.equal(effectiveNetworkMode({}), 'bridge');
  assert.equal(effectiveNetworkMode({ NetworkMode: 'default' }), 'bridge');
  assert.equal(effectiveNetworkMode({ NetworkMode: 'none' }), 'none');
});

test('limits the host cannot apply are discarded with Docker warnings; cpusets are checked against the host', async () => {
  const { ALL_SUPPORTED } = await import('../../../src/daemon/containers/config.js');
  const host = { ...ALL_SUPPORTED, blkioWeight: false, swapLimit: false, cpus: '0-1', mems: '0' };
  const h: Record<string, unknown> = { Memory: 64 << 20, BlkioWeight: 300, CpusetCpus: '1', OomKillDisable: true };
  const warnings = validateHostConfig(h, 2, host);
  assert.deepEqual(warnings, [
    'Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.',
    'Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.',
  ]);
  assert.equal(h.BlkioWeight, 0);
  assert.equal(h.MemorySwap, -1);
  assert.throws(() => validateHostConfig({ CpusetCpus: '5' }, 2, host), /Requested CPUs are not available - requested 5, available: 0-1/);
  assert.throws(() => validateHostConfig({ CpusetMems: '1' }, 2, host), /Requested memory nodes are not available - requested 1, available: 0/);
  assert.deepEqual(validateHostConfig({ OomKillDisable: true }, 2, host), [
    'OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.',
  ]);
});

test('health config: zero numbers are no fields (omitempty), and StartInterval comes from the image too', () => {
  const own = mergeImageConfig({ Image: 'x', Healthcheck: { Test: ['CMD', 'true'], Interval: 1e9, StartInterval: 0, Retries: 0 } }, undefined);
  assert.deepEqual(own.Healthcheck, { Test: ['CMD', 'true'], Interval: 1e9 });
  const image = { Healthcheck: { Test: ['CMD', 'img'], StartInterval: 5e9, Timeout: 0 } };
  assert.deepEqual(mergeImageConfig({ Image: 'x', Healthcheck: { Interval: 2e9 } }, image).Healthcheck, { Test: ['CMD', 'img'], Interval: 2e9, StartInterval: 5e9 });
  assert.deepEqual(mergeImageConfig({ Image: 'x' }, image).Healthcheck, { Test: ['CMD', 'img'], StartInterval: 5e9 });
});

test("create's Config checks, in moby's order and words", () => {
  const wd = { Image: 'x', WorkingDir: '/a/b/../c/' };
  validateContainerConfig(wd);
  assert.equal(wd.WorkingDir, '/a/c');
  assert.throws(() => validateContainerConfig({ Image: 'x', WorkingDir: 'rel' }), { message: "the working directory 'rel' is invalid, it needs to be an absolute path" });
  assert.throws(() => validateContainerConfig({ Image: 'x', StopSignal: 'BOGUS' }), { kind: 'InvalidParameter', message: 'invalid signal: BOGUS' });
  assert.doesNotThrow(() => validateContainerConfig({ Image: 'x', StopSignal: 'SIGUSR1' }));
  assert.throws(() => validateContainerConfig({ Image: 'x', Healthcheck: { Test: ['CMD', 'x'], Interval: 5 } }), { message: 'Interval in Healthcheck cannot be less than 1ms' });
  assert.throws(() => validateContainerConfig({ Image: 'x', Healthcheck: { Retries: -1 } }), { message: 'Retries in Healthcheck cannot be negative' });
  assert.throws(() => validateContainerConfig({ Image: 'x', Healthcheck: { StartInterval: 999_999 } }), { message: 'StartInterval in Healthcheck cannot be less than 1ms' });
  assert.doesNotThrow(() => validateContainerConfig({ Image: 'x', Healthcheck: { Interval: 0, Timeout: 1_000_000 } }));
  // docker-py's Healthcheck sends null for what it was not given; Go decodes null to zero.
  const nulls = { Test: ['CMD', 'true'], Interval: 1e9, Timeout: null, Retries: null, StartPeriod: null, StartInterval: null } as unknown as HealthConfig;
  assert.doesNotThrow(() => validateContainerConfig({ Image: 'x', Healthcheck: nulls }));
  assert.throws(() => validateHostConfig({ AutoRemove: true, RestartPolicy: { Name: 'always' } }), { message: "can't create 'AutoRemove' container with restart policy" });
  assert.doesNotThrow(() => validateHostConfig({ AutoRemove: true, RestartPolicy: { Name: 'no' } }));
});

test("create's HostConfig namespace modes and capabilities, in moby's words", () => {
  assert.throws(() => validateHostConfig({ IpcMode: 'bogus' }), { kind: 'InvalidParameter', message: 'invalid IPC mode: bogus' });
  assert.throws(() => validateHostConfig({ PidMode: 'container:' }), { message: 'invalid PID mode: container:' });
  assert.throws(() => validateHostConfig({ UTSMode: 'private' }), { message: 'invalid UTS mode: private' });
  assert.throws(() => validateHostConfig({ CapAdd: ['BOGUS'] }), { kind: 'InvalidParameter', message: 'invalid CapAdd: unknown capability: "CAP_BOGUS"' });
  assert.throws(() => validateHostConfig({ CapDrop: ['net_admin', 'nope'] }), { message: 'invalid CapDrop: unknown capability: "CAP_NOPE"' });
  // The IPC mode is checked before the capabilities, as moby does.
  assert.throws(() => validateHostConfig({ IpcMode: 'x', CapAdd: ['BOGUS'] }), { message: 'invalid IPC mode: x' });
  for (const ok of ['', 'none', 'private', 'host', 'shareable', 'container:abc', 'container:']) assert.doesNotThrow(() => validateHostConfig({ IpcMode: ok }), ok);
  assert.doesNotThrow(() => validateHostConfig({ PidMode: 'container:abc', UTSMode: 'host', CapAdd: ['ALL', 'net_admin', 'CAP_SYS_TIME'], CapDrop: null }));
  // An update never looks at them: they cannot change.
  assert.doesNotThrow(() => validateHostConfig({ IpcMode: 'bogus' }, 2, undefined, true));
});
