import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerResolvConf, hostsFile } from '../../../src/daemon/etc-files.js';

test('loopback nameservers are dropped; public defaults when none remain', () => {
  const host = '# comment\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch example.internal\n';
  assert.equal(
    containerResolvConf(host),
    'nameserver 8.8.8.8\nnameserver 8.8.4.4\nsearch example.internal\noptions edns0 trust-ad\n',
  );
  assert.equal(containerResolvConf('nameserver 127.0.0.1\nnameserver 10.0.0.2\n'), 'nameserver 10.0.0.2\n');
});

test('--dns, --dns-search and --dns-option replace the host values', () => {
  const out = containerResolvConf('nameserver 10.0.0.2\nsearch a\n', { dns: ['1.1.1.1'], dnsSearch: ['b.test'], dnsOptions: ['ndots:2'] });
  assert.equal(out, 'nameserver 1.1.1.1\nsearch b.test\noptions ndots:2\n');
});

test('hosts file has localhost, extra hosts and the container entry', () => {
  const h = hostsFile({ hostname: 'abc', ip: '10.1.0.2', extraHosts: ['db:10.1.0.9'] });
  assert.match(h, /^127\.0\.0\.1\tlocalhost$/m);
  assert.match(h, /^10\.1\.0\.9\tdb$/m);
  assert.match(h, /^10\.1\.0\.2\tabc$/m);
});
