import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  familiarString,
  fullString,
  parseNormalizedNamed,
  withDefaultTag,
} from '../../../src/image/reference.js';

const norm = (s: string) => fullString(withDefaultTag(parseNormalizedNamed(s)));
const fam = (s: string) => familiarString(withDefaultTag(parseNormalizedNamed(s)));
const D = 'sha256:' + 'ab'.repeat(32);

test('normalises official, user, registry and digest references', () => {
  assert.equal(norm('busybox'), 'docker.io/library/busybox:latest');
  assert.equal(norm('library/busybox:1.36'), 'docker.io/library/busybox:1.36');
  assert.equal(norm('index.docker.io/foo/bar'), 'docker.io/foo/bar:latest');
  assert.equal(norm('user/app:v1'), 'docker.io/user/app:v1');
  assert.equal(norm('myreg:5000/x/y:tag'), 'myreg:5000/x/y:tag');
  assert.equal(norm('localhost/x'), 'localhost/x:latest');
  assert.equal(norm(`busybox@${D}`), `docker.io/library/busybox@${D}`);
  assert.equal(norm(`busybox:1@${D}`), `docker.io/library/busybox:1@${D}`);
  const r = parseNormalizedNamed('myreg:5000/x/y:tag');
  assert.deepEqual(r, { domain: 'myreg:5000', path: 'x/y', tag: 'tag' });
});

test('familiar form drops docker.io and library/', () => {
  assert.equal(fam('docker.io/library/busybox'), 'busybox:latest');
  assert.equal(fam('docker.io/foo/bar:2'), 'foo/bar:2');
  assert.equal(fam('myreg:5000/x:1'), 'myreg:5000/x:1');
  assert.equal(fam('docker.io/library/a/b'), 'library/a/b:latest');
});

test("rejects invalid references with Docker's messages", () => {
  assert.throws(() => parseNormalizedNamed('Foo'), { message: 'invalid reference format: repository name (library/Foo) must be lowercase' });
  assert.throws(() => parseNormalizedNamed('foo/Bar:tag'), { message: 'invalid reference format: repository name (foo/Bar) must be lowercase' });
  for (const bad of ['', 'a b', 'busybox:', ':tag', 'busybox::x', 'x@sha256:zz', '-x', 'a//b', 'x:' + 't'.repeat(129)]) {
    assert.throws(() => parseNormalizedNamed(bad), (e: Error) => e.message.startsWith('invalid reference format'), bad);
  }
  assert.throws(() => parseNormalizedNamed('ab'.repeat(32)), { message: `invalid repository name (${'ab'.repeat(32)}), cannot specify 64-byte hexadecimal strings` });
  assert.throws(() => parseNormalizedNamed('a'.repeat(256)), /must not be more than 255 characters/);
});

test('uppercase registry host is a domain, uppercase tags are allowed', () => {
  assert.equal(norm('MyReg.io/x'), 'MyReg.io/x:latest');
  assert.equal(norm('busybox:Latest'), 'docker.io/library/busybox:Latest');
});
