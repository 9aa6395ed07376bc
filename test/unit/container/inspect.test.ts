import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { toInspect } from '../../../src/container/inspect.js';
import { setRunning } from '../../../src/container/state.js';
import { makeRecord } from './helpers.js';

describe('container inspect', () => {
  it('has Docker keys in Docker order', () => {
    const rec = makeRecord({ Name: '/web' });
    setRunning(rec.State, 99, BigInt(Date.parse('2026-02-03T04:05:06Z')) * 1_000_000n + 789_123_456n);
    rec.NetworkSettings.Networks = { bridge: { IPAddress: '172.17.0.5', Gateway: '172.17.0.1', IPPrefixLen: 16, MacAddress: '02:42:ac:11:00:05' } };
    rec.NetworkSettings.Ports = { '80/tcp': null };
    const gd = { LowerDir: '/l', MergedDir: '/m', UpperDir: '/u', WorkDir: '/w' };
    const out = toInspect(rec, { graphDriverData: gd });
    assert.deepEqual(Object.keys(out), [
      'Id', 'Created', 'Path', 'Args', 'State', 'Image', 'ResolvConfPath', 'HostnamePath', 'HostsPath', 'LogPath',
      'Name', 'RestartCount', 'Driver', 'Platform', 'MountLabel', 'ProcessLabel', 'AppArmorProfile', 'ExecIDs',
      'HostConfig', 'GraphDriver', 'Mounts', 'Config', 'NetworkSettings',
    ]);
    assert.deepEqual(Object.keys(out.State), [
      'Status', 'Running', 'Paused', 'Restarting', 'OOMKilled', 'Dead', 'Pid', 'ExitCode', 'Error', 'StartedAt', 'FinishedAt',
    ]);
    assert.equal(out.State.Status, 'running');
    assert.equal(out.State.Pid, 99);
    assert.equal(out.State.StartedAt, '2026-02-03T04:05:06.789123456Z');
    assert.equal(out.State.FinishedAt, '0001-01-01T00:00:00Z');
    assert.equal(out.ExecIDs, null);
    assert.equal(out.Name, '/web');
    assert.deepEqual(out.GraphDriver, { Data: gd, Name: 'overlay2' });
    assert.deepEqual(Object.keys(out.GraphDriver), ['Data', 'Name']);
    assert.deepEqual(out.Mounts, []);
    assert.deepEqual(Object.keys(out.NetworkSettings), [
      'Bridge', 'SandboxID', 'SandboxKey', 'Ports', 'HairpinMode', 'LinkLocalIPv6Address', 'LinkLocalIPv6PrefixLen',
      'SecondaryIPAddresses', 'SecondaryIPv6Addresses', 'EndpointID', 'Gateway', 'GlobalIPv6Address',
      'GlobalIPv6PrefixLen', 'IPAddress', 'IPPrefixLen', 'IPv6Gateway', 'MacAddress', 'Networks',
    ]);
    assert.equal(out.NetworkSettings.IPAddress, '172.17.0.5', 'default-network addresses from the bridge endpoint');
    assert.equal(out.NetworkSettings.Gateway, '172.17.0.1');
    assert.deepEqual(out.NetworkSettings.Ports, { '80/tcp': null });
    assert.equal(out.NetworkSettings.Networks.bridge!.IPPrefixLen, 16);
    assert.equal(out.NetworkSettings.Networks.bridge!.DNSNames, null);
    // What the record holds is kept; what it lacks has Go's zero value, in Go's field order.
    for (const [k, v] of Object.entries(rec.HostConfig)) assert.deepEqual((out.HostConfig as Record<string, unknown>)[k], v, k);
    for (const [k, v] of Object.entries(rec.Config)) if (v !== undefined) assert.deepEqual((out.Config as Record<string, unknown>)[k], v, k);
    assert.deepEqual(Object.keys(out.HostConfig).slice(0, 3), ['Binds', 'ContainerIDFile', 'LogConfig']);
    assert.equal((out.HostConfig as Record<string, unknown>).MemorySwappiness, null);
    assert.deepEqual(Object.keys(out.Config).slice(0, 3), ['Hostname', 'Domainname', 'User']);
    assert.equal((out.Config as Record<string, unknown>).Volumes ?? null, null);
  });

  it('puts sizes after GraphDriver, exec IDs and health when present', () => {
    const rec = makeRecord();
    rec.State.Health = { Status: 'healthy', FailingStreak: 0, Log: [{ Start: 's', End: 'e', ExitCode: 0, Output: 'ok' }] };
    const out = toInspect(rec, { graphDriverData: null, sizeRw: 0, sizeRootFs: 4096, execIds: ['e1'] });
    const keys = Object.keys(out);
    assert.deepEqual(keys.slice(keys.indexOf('GraphDriver'), keys.indexOf('GraphDriver') + 4), ['GraphDriver', 'SizeRw', 'SizeRootFs', 'Mounts']);
    assert.equal(out.SizeRw, 0);
    assert.deepEqual(out.ExecIDs, ['e1']);
    assert.equal(Object.keys(out.State).at(-1), 'Health');
    assert.deepEqual(out.State.Health, { Status: 'healthy', FailingStreak: 0, Log: [{ Start: 's', End: 'e', ExitCode: 0, Output: 'ok' }] });
    assert.equal(out.State.Status, 'created');
  });
});
