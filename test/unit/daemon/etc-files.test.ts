import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerResolvConf, dnsOverrides, hostsFile, updateHostsLines } from '../../../src/daemon/containers/etc-files.js';

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
  const h = hostsFile({ hostname: 'abc', addresses: ['10.1.0.2'], extraHosts: ['db:10.1.0.9'] });
  assert.match(h, /^127\.0\.0\.1\tlocalhost$/m);
  assert.match(h, /^10\.1\.0\.9\tdb$/m);
  assert.match(h, /^10\.1\.0\.2\tabc$/m);
});

test('a field with a newline or blank is never written (records from before create refused them)', () => {
  const h = hostsFile({ hostname: 'abc', addresses: ['10.1.0.2'], extraHosts: ['evil\n6.6.6.6 bank.example:10.1.0.9', 'ok:10.1.0.8', 'x:1.2.3.4\n6.6.6.6 y'] });
  assert.doesNotMatch(h, /6\.6\.6\.6/);
  assert.match(h, /^10\.1\.0\.8\tok$/m);
  assert.equal(h.split('\n').filter((l) => l.includes('10.1.0.2')).length, 1);
  const r = containerResolvConf('', { dns: ['1.1.1.1\nnameserver 6.6.6.6'], dnsSearch: ['a.test\nnameserver 6.6.6.6'], dnsOptions: ['ndots:1\nnameserver 6.6.6.6'] });
  assert.doesNotMatch(r, /6\.6\.6\.6/);
});

test('every address gets a line, and a dotted name also its first label (libnetwork)', () => {
  const h = hostsFile({ hostname: 'web.example.test', addresses: ['10.1.0.2', 'fd00::2', '10.2.0.2'] });
  assert.match(h, /^10\.1\.0\.2\tweb\.example\.test web$/m);
  assert.match(h, /^fd00::2\tweb\.example\.test web$/m);
  assert.match(h, /^10\.2\.0\.2\tweb\.example\.test web$/m);
  assert.match(hostsFile({ hostname: 'db', domainname: 'corp.test', addresses: ['10.1.0.3'] }), /^10\.1\.0\.3\tdb\.corp\.test db$/m);
  assert.match(hostsFile({ hostname: 'db', addresses: ['10.1.0.3'] }), /^10\.1\.0\.3\tdb$/m);
});

test('a connect adds its lines and a disconnect removes them, keeping the rest of the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'etc-'));
  const path = join(dir, 'hosts');
  writeFileSync(path, hostsFile({ hostname: 'abc', addresses: ['10.1.0.2'] }) + '192.0.2.9\tmine\n');
  await updateHostsLines(path, { add: ['10.5.0.3', 'fd05::3'], hostname: 'abc' });
  let h = readFileSync(path, 'utf8');
  assert.match(h, /^10\.5\.0\.3\tabc\nfd05::3\tabc\n$/m);
  assert.match(h, /^192\.0\.2\.9\tmine$/m);
  await updateHostsLines(path, { remove: ['10.1.0.2'], hostname: 'abc' });
  h = readFileSync(path, 'utf8');
  assert.doesNotMatch(h, /10\.1\.0\.2/);
  assert.match(h, /^10\.5\.0\.3\tabc$/m);
  assert.match(h, /^192\.0\.2\.9\tmine$/m);
  rmSync(dir, { recursive: true });
});

test('a hosts file grown past 1 MiB from inside the container is left as it is, not read whole', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'etc-'));
  const hosts = join(dir, 'hosts');
  const big = hostsFile({ hostname: 'abc', addresses: ['10.1.0.2'] }) + '#'.repeat(1024 * 1024) + '\n';
  writeFileSync(hosts, big);
  await updateHostsLines(hosts, { add: ['10.5.0.3'], remove: ['10.1.0.2'], hostname: 'abc' });
  assert.equal(readFileSync(hosts, 'utf8'), big);
  // At the bound itself the file is still a hosts file to update.
  const atBound = hostsFile({ hostname: 'abc' });
  writeFileSync(hosts, atBound + '#'.repeat(1024 * 1024 - atBound.length - 1) + '\n');
  await updateHostsLines(hosts, { add: ['10.5.0.3'], hostname: 'abc' });
  assert.match(readFileSync(hosts, 'utf8'), /^10\.5\.0\.3\tabc$/m);
  rmSync(dir, { recursive: true });
});

test("a container's own --dns, --dns-search and --dns-option win; the daemon's fill in each one it lacks", () => {
  const daemon = { dns: ['10.0.0.53'], dnsSearch: ['corp.test'], dnsOptions: ['ndots:2'] };
  assert.deepEqual(dnsOverrides({ DnsSearch: ['own.test'] }, daemon), { dns: ['10.0.0.53'], dnsSearch: ['own.test'], dnsOptions: ['ndots:2'] });
  assert.deepEqual(dnsOverrides({ Dns: [], DnsSearch: null }, {}), { dns: undefined, dnsSearch: undefined, dnsOptions: undefined });
});
