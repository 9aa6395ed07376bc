import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NamedContexts, UnsupportedNamedContext } from '../../../src/build/named-contexts.js';

test('a name is looked up in its familiar form without :latest, the platform-specific key first', () => {
  const c = new NamedContexts({
    'context:busybox': 'docker-image://busybox:1.36',
    'context:alpine::linux/arm64': 'docker-image://arm-alpine',
    'context:alpine': 'docker-image://any-alpine',
    'context:myreg:5000/app:v1': 'local:app',
    'build-arg:context:busybox': 'not a context',
  });
  assert.equal(c.size, 4);
  for (const name of ['busybox', 'busybox:latest', 'docker.io/library/busybox', 'docker.io/library/busybox:latest', 'library/busybox']) {
    assert.deepEqual(c.lookup(name, 'linux/amd64'), { key: 'busybox', source: { kind: 'image', ref: 'busybox:1.36' } }, name);
  }
  assert.equal(c.lookup('busybox:1.36', 'linux/amd64'), undefined);
  assert.deepEqual(c.lookup('alpine', 'linux/arm64'), { key: 'alpine::linux/arm64', source: { kind: 'image', ref: 'arm-alpine' } });
  assert.deepEqual(c.lookup('alpine', 'linux/amd64'), { key: 'alpine', source: { kind: 'image', ref: 'any-alpine' } });
  assert.deepEqual(c.lookup('myreg:5000/app:v1', 'linux/amd64'), { key: 'myreg:5000/app:v1', source: { kind: 'local', dirName: 'app' } });
  assert.equal(c.lookup('myreg:5000/app', 'linux/amd64'), undefined);
});

test('scratch and context are never replaced; a name that is no reference matches nothing', () => {
  const c = new NamedContexts({ 'context:scratch': 'docker-image://busybox', 'context:context': 'local:x' });
  assert.equal(c.lookup('scratch', 'linux/amd64'), undefined);
  assert.equal(c.lookup('SCRATCH', 'linux/amd64'), undefined);
  assert.equal(c.lookup('context', 'linux/amd64'), undefined);
  assert.equal(c.lookup('Not/A:Ref!', 'linux/amd64'), undefined);
  assert.equal(new NamedContexts({}).lookup('busybox', 'linux/amd64'), undefined);
});

test('git repositories and URLs: a URL is a repository when it names one as moby tells them', () => {
  const c = new NamedContexts({
    'context:a': 'git://example.invalid/r.git',
    'context:b': 'git@example.invalid:r.git',
    'context:c': 'https://example.invalid/ctx.tar',
    'context:d': 'https://example.invalid/r.git#main:sub',
  });
  assert.deepEqual(c.lookup('a', 'linux/amd64')?.source, { kind: 'git', url: 'git://example.invalid/r.git' });
  assert.deepEqual(c.lookup('b', 'linux/amd64')?.source, { kind: 'git', url: 'git@example.invalid:r.git' });
  assert.deepEqual(c.lookup('c', 'linux/amd64')?.source, { kind: 'http', url: 'https://example.invalid/ctx.tar' });
  assert.deepEqual(c.lookup('d', 'linux/amd64')?.source, { kind: 'git', url: 'https://example.invalid/r.git#main:sub' });
});

test('sources this builder cannot take are refused when their name is met, by name', () => {
  const c = new NamedContexts({
    'context:a': 'oci-layout://store@sha256:' + 'a'.repeat(64),
    'context:d': 'input:d',
    'context:e': 'ftp://x',
    'context:f': 'nocolon',
    'context:g': 'docker-image://scratch',
  });
  assert.throws(() => c.lookup('a', 'linux/amd64'), (e: Error) => e instanceof UnsupportedNamedContext && /^named context a \(oci-layout:\/\/store@sha256:a+\): oci-layout sources are not supported/.test(e.message));
  assert.throws(() => c.lookup('d', 'linux/amd64'), /input sources are not supported/);
  assert.throws(() => c.lookup('e', 'linux/amd64'), /^Error: unsupported context source ftp for e$/);
  assert.throws(() => c.lookup('f', 'linux/amd64'), /^Error: invalid context specifier nocolon for f$/);
  assert.deepEqual(c.lookup('g', 'linux/amd64')?.source, { kind: 'image', ref: 'scratch' });
});
