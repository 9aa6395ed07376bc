import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adaptCreateBody } from '../../../src/api/create-compat.js';
import type { ContainerCreateBody } from '../../../src/api/types.js';

const MAC = '02:42:ac:11:00:99';

test('below 1.44 the container-wide MacAddress becomes the main endpoint\'s; endpoint MACs alone are ignored', () => {
  const a: ContainerCreateBody = { Image: 'x', MacAddress: MAC, HostConfig: { NetworkMode: 'default' } };
  assert.deepEqual(adaptCreateBody(a, '1.43'), []);
  assert.equal(a.NetworkingConfig?.EndpointsConfig?.bridge?.MacAddress, MAC);
  const b: ContainerCreateBody = { Image: 'x', HostConfig: { NetworkMode: 'net1' }, NetworkingConfig: { EndpointsConfig: { net1: { MacAddress: MAC } } } };
  adaptCreateBody(b, '1.43');
  assert.equal(b.NetworkingConfig!.EndpointsConfig!.net1!.MacAddress, '');
  const host: ContainerCreateBody = { Image: 'x', MacAddress: MAC, HostConfig: { NetworkMode: 'host' } };
  assert.throws(() => adaptCreateBody(host, '1.43'), /conflicting options: mac-address and the network mode/);
  const two: ContainerCreateBody = { Image: 'x', NetworkingConfig: { EndpointsConfig: { a: {}, b: {} } } };
  assert.throws(() => adaptCreateBody(two, '1.43'), /Container cannot be created with multiple network endpoints: a, b/);
});

test('from 1.44 the container-wide MacAddress is migrated with Docker\'s deprecation warning, and must agree', () => {
  const a: ContainerCreateBody = { Image: 'x', MacAddress: MAC, HostConfig: { NetworkMode: 'net1' } };
  assert.deepEqual(adaptCreateBody(a, '1.50'), ['The container-wide MacAddress field is now deprecated. It should be specified in EndpointsConfig instead.']);
  assert.equal(a.NetworkingConfig!.EndpointsConfig!.net1!.MacAddress, MAC);
  assert.equal(a.MacAddress, '');
  const clash: ContainerCreateBody = {
    Image: 'x',
    MacAddress: MAC,
    HostConfig: { NetworkMode: 'net1' },
    NetworkingConfig: { EndpointsConfig: { net1: { MacAddress: '02:00:00:00:00:01' } } },
  };
  assert.throws(() => adaptCreateBody(clash, '1.50'), /must match the endpoint-specific MAC address/);
  const none: ContainerCreateBody = { Image: 'x', MacAddress: MAC, HostConfig: { NetworkMode: 'none' } };
  assert.equal(adaptCreateBody(none, '1.50').length, 1);
  assert.equal(none.NetworkingConfig, undefined);
});

test('fields newer than the request version are dropped or refused', () => {
  const a: ContainerCreateBody = { Image: 'x', Healthcheck: { Test: ['CMD', 'true'], StartInterval: 5e9 }, HostConfig: { Annotations: { a: 'b' } } };
  adaptCreateBody(a, '1.42');
  assert.equal(a.HostConfig!.Annotations, null);
  assert.equal(a.Healthcheck!.StartInterval, 0);
  const sub = { Image: 'x', HostConfig: { Mounts: [{ Type: 'volume', Target: '/x', VolumeOptions: { Subpath: 'a' } }] } } as unknown as ContainerCreateBody;
  assert.throws(() => adaptCreateBody(sub, '1.44'), /VolumeOptions.Subpath needs API v1.45 or newer/);
  adaptCreateBody(sub, '1.45');
});

test("from API 1.48 the daemon warns that --volume-driver does not reach --mount volumes without their own driver", () => {
  const body = (driverName?: string): ContainerCreateBody => ({
    Image: 'x',
    HostConfig: { VolumeDriver: 'local', Mounts: [{ Type: 'volume', Target: '/x', ...(driverName ? { VolumeOptions: { DriverConfig: { Name: driverName } } } : {}) }] },
  });
  assert.deepEqual(adaptCreateBody(body(), '1.48'), [
    "WARNING: the container-wide volume-driver configuration is ignored for volumes specified via 'mount'. Use '--mount type=volume,volume-driver=...' instead",
  ]);
  assert.deepEqual(adaptCreateBody(body('local'), '1.48'), []);
  assert.deepEqual(adaptCreateBody(body(), '1.47'), [], 'the CLI warned itself before 1.48');
  const image = { Image: 'x', HostConfig: { Mounts: [{ Type: 'image', Source: 'busybox', Target: '/i' }] } } as ContainerCreateBody;
  assert.throws(() => adaptCreateBody(image, '1.47'), /Mount type "Image" needs API v1.48 or newer/);
});
