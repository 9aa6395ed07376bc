import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateCreateStrings } from '../../../src/daemon/containers/create-strings.js';
import type { ContainerConfig, HostConfig } from '../../../src/api/types.js';
import { isEngineError } from '../../../src/lib/errors.js';

/** The 400 message of a refused request, or undefined when it passes. */
function refusal(hc: Omit<HostConfig, 'Devices'> & { Devices?: Array<{ PathOnHost: string; PathInContainer?: string; CgroupPermissions?: string }> }, config: ContainerConfig = {}): string | undefined {
  try {
    validateCreateStrings(config, { NetworkMode: 'bridge', ...hc } as HostConfig);
    return undefined;
  } catch (err) {
    assert.ok(isEngineError(err, 'InvalidParameter'), String(err));
    return (err as Error).message;
  }
}

test('ExtraHosts: Docker\'s name:ip check; a newline can add no /etc/hosts line', () => {
  assert.equal(refusal({ ExtraHosts: ['db:10.0.0.2', 'v6:fe80::1', 'gw:host-gateway'] }), undefined);
  assert.equal(refusal({ ExtraHosts: ['db:10.0.0.2\n6.6.6.6 bank.example'] }), 'invalid IP address in add-host: "10.0.0.2\\n6.6.6.6 bank.example"');
  assert.equal(refusal({ ExtraHosts: ['a\n6.6.6.6 bank.example:10.0.0.2'] }), 'bad format for add-host: "a\\n6.6.6.6 bank.example:10.0.0.2"');
  assert.equal(refusal({ ExtraHosts: ['10.0.0.2'] }), 'bad format for add-host: "10.0.0.2"');
  assert.equal(refusal({ ExtraHosts: ['db:not-an-ip'] }), 'invalid IP address in add-host: "not-an-ip"');
  assert.equal(refusal({ ExtraHosts: [':10.0.0.2'] }), 'bad format for add-host: ":10.0.0.2"');
  assert.equal(refusal({ ExtraHosts: ['nocolon'] }), 'bad format for add-host: "nocolon"');
});

test('hostname, domainname, DNS servers, search domains and options are one field each', () => {
  assert.equal(refusal({}, { Hostname: 'web-1', Domainname: 'example.org' }), undefined);
  assert.equal(refusal({}, { Hostname: 'a\n6.6.6.6 b' }), 'invalid hostname format: "a\\n6.6.6.6 b"');
  assert.equal(refusal({}, { Hostname: 'x'.repeat(65) }), `invalid hostname format: "${'x'.repeat(65)}"`);
  assert.equal(refusal({}, { Domainname: 'a b' }), 'invalid domainname format: "a b"');
  assert.equal(refusal({ Dns: ['1.1.1.1', '::1'], DnsSearch: ['example.org', '.'], DnsOptions: ['ndots:2'] }), undefined);
  assert.equal(refusal({ Dns: ['1.1.1.1\nnameserver 6.6.6.6'] }), '1.1.1.1\nnameserver 6.6.6.6 is not an ip address');
  assert.equal(refusal({ DnsSearch: ['a.test\nnameserver 6.6.6.6'] }), 'a.test\nnameserver 6.6.6.6 is not a valid domain');
  assert.equal(refusal({ DnsSearch: ['123'] }), '123 is not a valid domain');
  assert.equal(refusal({ DnsOptions: ['ndots:1 rotate'] }), 'invalid DNS option "ndots:1 rotate"');
  assert.equal(refusal({}, { Env: ['=x'] }), 'invalid environment variable: =x');
  assert.equal(refusal({}, { MacAddress: '02:42:ac:11:00:02\nlink del eth0' } as ContainerConfig), 'invalid MAC address 02:42:ac:11:00:02\nlink del eth0');
});

test('sysctls: namespaced ones only (the Docker CLI\'s list), no net.* with the host network', () => {
  assert.equal(refusal({ Sysctls: { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '1', 'fs.mqueue.msg_max': '10' } }), undefined);
  assert.equal(refusal({ Sysctls: { 'kernel.panic': '1' } }), "sysctl 'kernel.panic=1' is not allowed");
  assert.equal(refusal({ Sysctls: { 'vm.swappiness': '1' } }), "sysctl 'vm.swappiness=1' is not allowed");
  assert.equal(refusal({ Sysctls: { 'net/../../kernel/panic': '1' } }), "sysctl 'net/../../kernel/panic=1' is not allowed");
  assert.equal(refusal({ Sysctls: { 'net..ipv4': '1' } }), "sysctl 'net..ipv4=1' is not allowed");
  assert.equal(refusal({ NetworkMode: 'host', Sysctls: { 'net.ipv4.ip_forward': '1' } }), 'sysctl "net.ipv4.ip_forward" not allowed in host network namespace');
  assert.equal(refusal({ NetworkMode: 'host', Sysctls: { 'kernel.shmmax': '1' } }), undefined);
});

test('tmpfs: absolute destinations only (Docker\'s texts), no option that makes it a bind', () => {
  assert.equal(refusal({ Tmpfs: { '/run': 'size=1m,mode=1777' } }), undefined);
  assert.equal(refusal({ Tmpfs: { 'run': '' } }), "invalid mount path: 'run' mount path must be absolute");
  assert.equal(refusal({ Tmpfs: { '../../x': '' } }), "invalid mount path: '../../x' mount path must be absolute");
  assert.equal(refusal({ Tmpfs: { '/': '' } }), "invalid specification: destination can't be '/'");
  assert.equal(refusal({ Tmpfs: { '/x': 'size=1m,bind' } }), 'invalid tmpfs option "bind"');
});

test('devices, device cgroup rules, cgroup parent, annotations', () => {
  assert.equal(refusal({ Devices: [{ PathOnHost: '/dev/net/tun', PathInContainer: '/dev/net/tun', CgroupPermissions: 'rwm' }] }), undefined);
  assert.equal(refusal({ Devices: [{ PathOnHost: '/dev/fuse' }] }), undefined);
  assert.equal(refusal({ Devices: [{ PathOnHost: 'dev/fuse' }] }), 'dev/fuse is not an absolute path');
  assert.equal(refusal({ Devices: [{ PathOnHost: '/dev/fuse', CgroupPermissions: 'rwx' }] }), 'bad mode specified: rwx');
  assert.equal(refusal({ DeviceCgroupRules: ['c 10:200 rwm', 'a *:* m'] }), undefined);
  assert.equal(refusal({ DeviceCgroupRules: ['c 10:200 rwm\nb *:* rwm'] }), "invalid device cgroup rule format: 'c 10:200 rwm\nb *:* rwm'");
  assert.equal(refusal({ CgroupParent: '/custom/parent' }), undefined);
  assert.equal(refusal({ CgroupParent: 'a\nb' }), 'invalid cgroup parent "a\\nb"');
  assert.equal(refusal({ Annotations: { '': 'x' } }), 'invalid Annotations: the empty string is not permitted as an annotation key');
});
