import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerRecord } from '../../../src/container/container.js';
import { isContainerMode, shareNetworkIdentity, validateContainerNetworkMode } from '../../../src/daemon/containers/network-mode.js';
import { isEngineError } from '../../../src/lib/errors.js';

const invalid = (message: string) => (err: unknown) => {
  assert.ok(isEngineError(err), String(err));
  assert.equal(err.kind, 'InvalidParameter');
  assert.equal(err.message, message);
  return true;
};

test('isContainerMode', () => {
  assert.equal(isContainerMode('container:abc'), true);
  assert.equal(isContainerMode('bridge'), false);
  assert.equal(isContainerMode(undefined), false);
});

test("container:<id> refuses what needs an own network, with Docker's texts", () => {
  const hc = { NetworkMode: 'container:x' };
  assert.throws(() => validateContainerNetworkMode({ Hostname: 'h' }, hc), invalid('conflicting options: hostname and the network mode'));
  assert.throws(() => validateContainerNetworkMode({}, { ...hc, Dns: ['1.1.1.1'] }), invalid('conflicting options: dns and the network mode'));
  assert.throws(
    () => validateContainerNetworkMode({}, { ...hc, ExtraHosts: ['a:1.2.3.4'] }),
    invalid('conflicting options: custom host-to-IP mapping and the network mode'),
  );
  assert.throws(
    () => validateContainerNetworkMode({}, { ...hc, Links: ['other:o'] }),
    invalid("conflicting options: container type network can't be used with links. This would result in undefined behavior"),
  );
  assert.throws(
    () => validateContainerNetworkMode({}, { ...hc, PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] } }),
    invalid('conflicting options: port publishing and the container type network mode'),
  );
  assert.throws(() => validateContainerNetworkMode({}, { ...hc, PublishAllPorts: true }), invalid('conflicting options: port publishing and the container type network mode'));
  assert.throws(
    () => validateContainerNetworkMode({ ExposedPorts: { '80/tcp': {} } }, hc),
    invalid('conflicting options: port exposing and the container type network mode'),
  );
  // Empty values are what the Docker CLI sends when nothing was asked for.
  validateContainerNetworkMode({ Hostname: '', ExposedPorts: {} }, { ...hc, Dns: [], ExtraHosts: null, PortBindings: {} });
  // Other modes are not concerned.
  validateContainerNetworkMode({ Hostname: 'h', ExposedPorts: { '80/tcp': {} } }, { NetworkMode: 'bridge', Dns: ['1.1.1.1'] });
});

test('shareNetworkIdentity takes the joined container’s /etc files and names', () => {
  const joined = {
    HostnamePath: '/c/a/hostname', HostsPath: '/c/a/hosts', ResolvConfPath: '/c/a/resolv.conf',
    Config: { Hostname: 'owner', Domainname: 'example.org' },
  } as ContainerRecord;
  const rec = {
    HostnamePath: '/c/b/hostname', HostsPath: '/c/b/hosts', ResolvConfPath: '/c/b/resolv.conf',
    Config: { Hostname: 'b0b0b0b0b0b0', Image: 'busybox' },
  } as ContainerRecord;
  shareNetworkIdentity(rec, joined);
  assert.deepEqual(
    [rec.HostnamePath, rec.HostsPath, rec.ResolvConfPath, rec.Config.Hostname, rec.Config.Domainname, rec.Config.Image],
    ['/c/a/hostname', '/c/a/hosts', '/c/a/resolv.conf', 'owner', 'example.org', 'busybox'],
  );
});
