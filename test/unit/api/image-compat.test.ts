import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imageInspectForVersion, imageListForVersion, imageSummariesForVersion } from '../../../src/api/image-compat.js';
import type { ImageInspect, ImageSummary } from '../../../src/api/types.js';

const stored = () => ({ Env: ['PATH=/bin'], Cmd: ['sh'], Labels: null });
const inspect = (config: Record<string, unknown>) =>
  ({ Id: 'sha256:1', Size: 42, Created: '', Config: config, Container: 'c', ContainerConfig: {} }) as unknown as ImageInspect;

test('image inspect: each API version gets the Config fields and extras its Docker returned', () => {
  const own = stored();
  const v150 = imageInspectForVersion(inspect(own), '1.50');
  assert.deepEqual(v150.Config, { Env: ['PATH=/bin'], Cmd: ['sh'], Labels: null, Entrypoint: null, OnBuild: null, User: '', Volumes: null, WorkingDir: '' });
  assert.equal(v150.VirtualSize, undefined);
  assert.equal(v150.Container, undefined);
  assert.equal(v150.ContainerConfig, undefined);
  assert.equal(v150.Created, '');
  // The image store's own config object is left as it was.
  assert.deepEqual(own, stored());

  const v149 = imageInspectForVersion(inspect(stored()), '1.49');
  const c = v149.Config as unknown as Record<string, unknown>;
  assert.equal(c.Hostname, '');
  assert.equal(c.AttachStdout, false);
  assert.equal(c.Image, '');
  assert.deepEqual(c.Cmd, ['sh']);

  const v141 = imageInspectForVersion(inspect(stored()), '1.41');
  assert.equal(v141.VirtualSize, 42);
  assert.equal(v141.Created, '0001-01-01T00:00:00Z');
  assert.equal(v141.Container, 'c');
  assert.deepEqual(v141.ContainerConfig, {});
});

test('image list and df: VirtualSize below API 1.44 only', () => {
  const list = () => [{ Id: 'a', Size: 7 } as ImageSummary];
  assert.equal(imageSummariesForVersion(list(), '1.43')[0]!.VirtualSize, 7);
  assert.equal(imageSummariesForVersion(list(), '1.44')[0]!.VirtualSize, undefined);
});

test('image list: the count of containers from API 1.51, -1 before; df keeps its count', () => {
  const list = () => [{ Id: 'a', Size: 7, Containers: 2 } as ImageSummary];
  assert.equal(imageListForVersion(list(), '1.50')[0]!.Containers, -1);
  assert.equal(imageListForVersion(list(), '1.51')[0]!.Containers, 2);
  assert.equal(imageListForVersion(list(), '1.43')[0]!.VirtualSize, 7);
  assert.equal(imageSummariesForVersion(list(), '1.24')[0]!.Containers, 2);
});
