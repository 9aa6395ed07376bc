/** X-Registry-Config of POST /build: credentials by registry, and which one a base image's domain uses. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { authForDomain, decodeRegistryConfig } from '../../../src/distribution/auth-config.js';

describe('X-Registry-Config', () => {
  test('decodes base64url JSON; garbage is no credentials', () => {
    const cfg = { 'https://index.docker.io/v1/': { username: 'hub' }, '127.0.0.1:5000': { username: 'local', password: 'p' } };
    const header = Buffer.from(JSON.stringify(cfg)).toString('base64url');
    const decoded = decodeRegistryConfig(header);
    assert.deepEqual(decoded, cfg);
    assert.deepEqual(decodeRegistryConfig('%%%'), {});
    assert.deepEqual(decodeRegistryConfig(Buffer.from('[1]').toString('base64')), {});
    assert.equal(authForDomain(decoded, 'docker.io')?.username, 'hub');
    assert.equal(authForDomain(decoded, '127.0.0.1:5000')?.username, 'local');
    assert.equal(authForDomain(decoded, 'other.example'), undefined);
  });
});
