import { test } from 'node:test';
import assert from 'node:assert/strict';
import { registryServiceConfig } from '../../../src/distribution/service-config.js';
import { splitSearchTerm } from '../../../src/distribution/search.js';
import { parseVersionOutput } from '../../../src/daemon/component-versions.js';
import { proxyFromEnv } from '../../../src/daemon/system.js';

test('registry service config: CIDRs masked, named registries insecure, loopback always, mirrors with a slash', () => {
  const c = registryServiceConfig(['reg.test:5000', '10.1.2.3/8', 'http://plain.test'], ['https://m.test', 'https://m.test/']);
  assert.deepEqual(c.Mirrors, ['https://m.test/']);
  assert.deepEqual(c.InsecureRegistryCIDRs.sort(), ['10.0.0.0/8', '127.0.0.0/8', '::1/128']);
  assert.deepEqual(Object.keys(c.IndexConfigs).sort(), ['docker.io', 'plain.test', 'reg.test:5000']);
  assert.equal(c.IndexConfigs['reg.test:5000']!.Secure, false);
  assert.deepEqual(c.IndexConfigs['docker.io'], { Name: 'docker.io', Mirrors: ['https://m.test/'], Secure: true, Official: true });
});

test('search terms: a first component with a dot, a colon or localhost names the index', () => {
  assert.deepEqual(splitSearchTerm('nginx'), { index: null, remote: 'nginx' });
  assert.deepEqual(splitSearchTerm('library/nginx'), { index: null, remote: 'library/nginx' });
  assert.deepEqual(splitSearchTerm('reg.test/a/b'), { index: 'reg.test', remote: 'a/b' });
  assert.deepEqual(splitSearchTerm('127.0.0.1:5000/x'), { index: '127.0.0.1:5000', remote: 'x' });
  assert.deepEqual(splitSearchTerm('localhost/x'), { index: 'localhost', remote: 'x' });
  assert.deepEqual(splitSearchTerm('docker.io/x'), { index: null, remote: 'x' });
});

test('component versions from --version output', () => {
  assert.deepEqual(parseVersionOutput('runc', 'runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\n'), {
    name: 'runc',
    version: '1.1.5+ds1',
    commit: '1.1.5+ds1-1+deb12u1',
  });
  assert.deepEqual(parseVersionOutput('conmon', 'conmon version 2.1.6\ncommit: unknown\n'), { name: 'conmon', version: '2.1.6', commit: '' });
  assert.deepEqual(parseVersionOutput('docker-init', 'tini version 0.19.0\n'), { name: 'docker-init', version: '0.19.0', commit: '' });
});

test('proxies from the environment have their credentials masked', () => {
  assert.equal(proxyFromEnv({ HTTP_PROXY: 'http://u:p@proxy:3128' }, 'http_proxy'), 'http://xxxxx:xxxxx@proxy:3128');
  assert.equal(proxyFromEnv({ https_proxy: 'http://proxy:3128' }, 'https_proxy'), 'http://proxy:3128');
  assert.equal(proxyFromEnv({ NO_PROXY: 'localhost,.local' }, 'no_proxy'), 'localhost,.local');
  assert.equal(proxyFromEnv({}, 'http_proxy'), '');
});
