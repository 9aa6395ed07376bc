import { test } from 'node:test';
import assert from 'node:assert/strict';
import { platformArgs } from '../../../src/build/platform-args.js';

test("BuildKit's platform ARGs: containerd's platform strings, arm64's v8 implied, the target stage or `default`", () => {
  const args = new Map(platformArgs({ os: 'linux', architecture: 'arm64', variant: 'v8' }, { os: 'linux', architecture: 'arm', variant: 'v7' }, ''));
  assert.deepEqual(Object.fromEntries(args), {
    BUILDPLATFORM: 'linux/arm64',
    BUILDOS: 'linux',
    BUILDOSVERSION: '',
    BUILDARCH: 'arm64',
    BUILDVARIANT: '',
    TARGETPLATFORM: 'linux/arm/v7',
    TARGETOS: 'linux',
    TARGETOSVERSION: '',
    TARGETARCH: 'arm',
    TARGETVARIANT: 'v7',
    TARGETSTAGE: 'default',
  });
  assert.equal(new Map(platformArgs({ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'amd64' }, 'final')).get('TARGETSTAGE'), 'final');
});
