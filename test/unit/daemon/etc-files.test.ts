import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerResolvConf, hostsFile } from '../../../src/daemon/containers/etc-files.js';

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

test('a field with a newline or blank is never written (records from before create refused them)', () => {
  const h = hostsFile({ hostname: 'abc', ip: '10.1.0.2', extraHosts: ['evil\n6.6.6.6 bank.example:10.1.0.9', 'ok:10.1.0.8', 'x:1.2.3.4\n6.6.6.6 y'] });
  assert.doesNotMatch(h, /6\.6\.6\.6/);
  assert.match(h, /^10\.1\.0\.8\tok$/m);
  assert.equal(h.split('\n').filter((l) => l.includes('10.1.0.2')).length, 1);
  const r = containerResolvConf('', { dns: ['1.1.1.1\nnameserver 6.6.6.6'], dnsSearch: ['a.test\nnameserver 6.6.6.6'], dnsOptions: ['ndots:1\nnameserver 6.6.6.6'] });
  assert.doesNotMatch(r, /6\.6\.6\.6/);
});
