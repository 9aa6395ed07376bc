import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frontendOptions } from '../../../src/buildkit/frontend-options.js';
import { GrpcError, Status } from '../../../src/buildkit/grpc.js';

test('buildx attributes become the classic builder options', () => {
  const o = frontendOptions({
    filename: 'Build.df',
    target: 'final',
    'build-arg:X': 'x',
    'build-arg:BUILDKIT_INLINE_CACHE': '1',
    'label:org.a': 'b',
    'no-cache': '',
    'image-resolve-mode': 'pull',
    'force-network-mode': 'host',
    'add-hosts': 'foo=1.2.3.4,bar=::1',
    'shm-size': '1048576',
    ulimit: 'nofile=1024:2048,nproc=50',
    'cgroup-parent': 'builds',
    'attest:provenance': 'mode=min',
    'some-future-option': 'x',
  });
  assert.equal(o.filename, 'Build.df');
  assert.equal(o.target, 'final');
  assert.deepEqual([...o.buildArgs], [['X', 'x']]);
  assert.deepEqual(o.labels, { 'org.a': 'b' });
  assert.equal(o.noCache, true);
  assert.equal(o.pull, true);
  assert.equal(o.networkMode, 'host');
  assert.deepEqual(o.extraHosts, ['foo:1.2.3.4', 'bar:::1']);
  assert.equal(o.shmSize, 1048576);
  assert.deepEqual(o.ulimits, [{ Name: 'nofile', Soft: 1024, Hard: 2048 }, { Name: 'nproc', Soft: 50, Hard: 50 }]);
  assert.equal(o.cgroupParent, 'builds');
});

test('defaults: the Dockerfile, the cache used, the default network', () => {
  const o = frontendOptions({ 'force-network-mode': 'sandbox' });
  assert.equal(o.filename, 'Dockerfile');
  assert.equal(o.noCache, false);
  assert.equal(o.pull, false);
  assert.equal(o.networkMode, '');
  assert.equal(o.hostname, 'buildkitsandbox');
  assert.equal(o.networkHostAllowed, false);
  assert.equal(frontendOptions({}, ['network.host']).networkHostAllowed, true);
});

test("the RUN steps' hostname: BuildKit's sandbox's, the `hostname` attribute, the BUILDKIT_SANDBOX_HOSTNAME build arg over it", () => {
  assert.equal(frontendOptions({ hostname: 'builder' }).hostname, 'builder');
  assert.equal(frontendOptions({ hostname: 'builder', 'build-arg:BUILDKIT_SANDBOX_HOSTNAME': 'from-arg' }).hostname, 'from-arg');
  assert.equal(frontendOptions({ 'build-arg:BUILDKIT_SANDBOX_HOSTNAME': '' }).hostname, 'buildkitsandbox');
});

test('BUILDKIT_CACHE_MOUNT_NS names the cache mounts\' namespace; it is no build arg of the Dockerfile', () => {
  const o = frontendOptions({ 'build-arg:BUILDKIT_CACHE_MOUNT_NS': 'proj' });
  assert.equal(o.cacheMountNamespace, 'proj');
  assert.deepEqual([...o.buildArgs], []);
  assert.equal(frontendOptions({}).cacheMountNamespace, '');
});

test('named contexts are no options of the classic builder: they are looked up as the build meets them', () => {
  const o = frontendOptions({ 'context:base': 'docker-image://alpine', 'input:x': 'y', 'build-arg:A': '1' });
  assert.deepEqual([...o.buildArgs], [['A', '1']]);
});

test('what the classic builder cannot do is refused by name', () => {
  const refused = (attrs: Record<string, string>, code: number, re: RegExp) =>
    assert.throws(() => frontendOptions(attrs), (e: unknown) => e instanceof GrpcError && e.code === code && re.test(e.message));
  refused({ platform: 'linux/amd64,linux/arm64' }, Status.UNIMPLEMENTED, /several platforms/);
  refused({ requestid: 'frontend.outline' }, Status.UNKNOWN, /^unsupported request frontend\.outline$/);
  refused({ 'shm-size': '-1' }, Status.INVALID_ARGUMENT, /invalid shm-size/);
  refused({ ulimit: 'nofile' }, Status.INVALID_ARGUMENT, /invalid ulimit "nofile"/);
});
