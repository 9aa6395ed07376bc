import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCidr, formatIp, macForIp, normalizeMac, overlaps, parseCidr, parseIp } from '../../../src/network/ipv4.js';
import { allocateIp, checkRequestedIp, pickSubnet, subnetSpec, DEFAULT_ADDRESS_POOLS } from '../../../src/network/ipam.js';
import { defaultHostIps, portRequests, portsMap, PortTable, validatePortBindings } from '../../../src/network/ports.js';
import { buildQuery, buildResponse, encodableName, parseQuery, parseResponse, TYPE_A, TYPE_PTR } from '../../../src/network/dns-message.js';
import { listFilter, pruneKeep } from '../../../src/network/filters.js';
import { embeddedResolvConf } from '../../../src/network/resolv.js';
import { networkRules, portRules, chainNames, openPortRules, directAccessRules } from '../../../src/network/iptables.js';
import type { NetworkRecord } from '../../../src/network/types.js';

describe('ipv4 and ipam', () => {
  it('parses, formats and compares prefixes', () => {
    assert.equal(formatIp(parseIp('172.17.0.1')!), '172.17.0.1');
    assert.equal(parseIp('1.2.3.256'), undefined);
    assert.equal(formatCidr(parseCidr('10.1.2.3/16')!.cidr), '10.1.0.0/16');
    assert.ok(overlaps(parseCidr('10.0.0.0/8')!.cidr, parseCidr('10.5.0.0/16')!.cidr));
    assert.ok(!overlaps(parseCidr('10.0.0.0/16')!.cidr, parseCidr('10.1.0.0/16')!.cidr));
    assert.equal(macForIp(parseIp('172.17.0.2')!), '02:42:ac:11:00:02');
  });

  it('picks 172.17.0.0/16 unless taken, then the next pool, as Docker does', () => {
    assert.equal(formatCidr(pickSubnet(DEFAULT_ADDRESS_POOLS, [])!), '172.17.0.0/16');
    const docker0 = parseCidr('172.17.0.0/16')!.cidr;
    assert.equal(formatCidr(pickSubnet(DEFAULT_ADDRESS_POOLS, [docker0])!), '172.18.0.0/16');
    const wide = parseCidr('172.16.0.0/12')!.cidr;
    assert.equal(formatCidr(pickSubnet(DEFAULT_ADDRESS_POOLS, [wide])!), '192.168.0.0/20');
    assert.equal(pickSubnet([{ base: '10.0.0.0/30', size: 30 }], [parseCidr('10.0.0.0/8')!.cidr]), undefined);
  });

  it('allocates the lowest free address, skipping gateway and leases, inside the ip-range', () => {
    const spec = subnetSpec('10.9.0.0/24', undefined, '10.9.0.128/25');
    assert.equal(formatIp(spec.gateway), '10.9.0.1');
    const leased = new Set<number>([parseIp('10.9.0.128')!]);
    assert.equal(formatIp(allocateIp(spec, leased)!), '10.9.0.129');
    const tiny = subnetSpec('10.9.1.0/30');
    assert.equal(formatIp(allocateIp(tiny, new Set())!), '10.9.1.2');
    assert.equal(allocateIp(tiny, new Set([parseIp('10.9.1.2')!])), undefined);
    assert.throws(() => checkRequestedIp(spec, parseIp('10.8.0.5')!, leased, '10.8.0.5'), /no configured subnet or ip-range contain the IP address 10\.8\.0\.5/);
    assert.throws(() => checkRequestedIp(spec, parseIp('10.9.0.128')!, leased, '10.9.0.128'), /Address already in use/);
  });

  it('rejects bad subnets, gateways and ranges', () => {
    assert.throws(() => subnetSpec('10.0.0.0/33'), /invalid CIDR address: 10\.0\.0\.0\/33/);
    assert.throws(() => subnetSpec('10.0.0.0/24', '10.0.1.1'), /no matching subnet for gateway 10\.0\.1\.1/);
    assert.throws(() => subnetSpec('10.0.0.0/24', undefined, '10.1.0.0/25'), /Invalid range/);
  });
});

describe('ports', () => {
  it('turns PortBindings and -P into requests', () => {
    const r = portRequests(
      { '80/tcp': [{ HostIp: '', HostPort: '8080' }], '53/udp': [{ HostPort: '' }], '90': [{ HostIp: '127.0.0.1', HostPort: '9000-9010' }] },
      { '80/tcp': {}, '443/tcp': {} },
      true,
    );
    assert.deepEqual(r, [
      // Docker's order: exact host ports first, then by container port.
      { proto: 'tcp', containerPort: 80, hostIps: ['0.0.0.0'], hostPorts: [8080, 8080] },
      { proto: 'udp', containerPort: 53, hostIps: ['0.0.0.0'], hostPorts: [0, 0] },
      { proto: 'tcp', containerPort: 90, hostIps: ['127.0.0.1'], hostPorts: [9000, 9010] },
      { proto: 'tcp', containerPort: 443, hostIps: ['0.0.0.0'], hostPorts: [0, 0] },
    ]);
    assert.throws(() => portRequests({ '70000/tcp': [] }, null, false), /invalid port specification/);
  });

  it("a binding without an address listens where the network's default binding address says", () => {
    const bindings = { '80/tcp': [{ HostIp: '', HostPort: '8080' }], '81/tcp': [{ HostIp: '::1', HostPort: '8081' }] };
    const ips = (ipv6: boolean, dflt?: string) => portRequests(bindings, { '90/tcp': {} }, true, ipv6, dflt).map((r) => `${r.containerPort}:${r.hostIps.join(',')}`);
    assert.deepEqual(ips(true), ['80:0.0.0.0,::', '81:::1', '90:0.0.0.0,::']);
    assert.deepEqual(ips(true, '127.0.0.1'), ['80:127.0.0.1', '81:::1', '90:127.0.0.1']);
    assert.deepEqual(ips(true, '::ffff:127.0.0.1'), ['80:127.0.0.1', '81:::1', '90:127.0.0.1']);
    assert.deepEqual(ips(true, '::1'), ['80:::1', '81:::1', '90:::1']);
    // An IPv6 default on a host that cannot listen on IPv6: nothing, as for an explicit IPv6 address.
    assert.deepEqual(ips(false, '::1'), []);
    assert.deepEqual(defaultHostIps('0.0.0.0', false), ['0.0.0.0']);
  });

  it('a MAC address goes into ip -batch only as one colon-separated MAC-48', () => {
    assert.equal(normalizeMac('02:42:AC:11:00:02'), '02:42:ac:11:00:02');
    assert.equal(normalizeMac('02-42-ac-11-00-02'), '02:42:ac:11:00:02');
    for (const bad of ['02:42:ac:11:00:02\nlink del eth0', '02:42:ac-11:00:02', '02:42:ac:11:00', 'x']) assert.equal(normalizeMac(bad), undefined, bad);
  });

  it('a host IP goes into iptables-restore only as exactly an address', () => {
    assert.throws(() => portRequests({ '80/tcp': [{ HostIp: '127.0.0.1\n', HostPort: '8080' }] }, null, false), /invalid host IP address: 127\.0\.0\.1\n$/);
    assert.throws(() => portRequests({ '80/tcp': [{ HostIp: ' 127.0.0.1', HostPort: '8080' }] }, null, false), /invalid host IP address/);
    assert.throws(() => portRequests({ '80/tcp': [{ HostIp: 'a:b -j ACCEPT', HostPort: '8080' }] }, null, false), /invalid host IP address/);
    assert.deepEqual(portRequests({ '80/tcp': [{ HostIp: '::1', HostPort: '8080' }] }, null, false), []);
    assert.throws(() => portRequests({ '80/tcp': [{ HostIp: '::1 -j ACCEPT', HostPort: '8080' }] }, null, false, true), /invalid host IP address/);
  });

  it('on an IPv6-capable host a binding without an address is 0.0.0.0 and [::]; an address binds only its family', () => {
    const r = portRequests(
      { '80/tcp': [{ HostIp: '', HostPort: '8080' }, { HostIp: '0:0:0:0:0:0:0:1', HostPort: '8081' }, { HostIp: '0.0.0.0', HostPort: '8082' }, { HostIp: '::ffff:127.0.0.1', HostPort: '8083' }] },
      { '443/tcp': {} },
      true,
      true,
    );
    assert.deepEqual(r, [
      { proto: 'tcp', containerPort: 80, hostIps: ['0.0.0.0', '::'], hostPorts: [8080, 8080] },
      { proto: 'tcp', containerPort: 80, hostIps: ['::1'], hostPorts: [8081, 8081] },
      { proto: 'tcp', containerPort: 80, hostIps: ['0.0.0.0'], hostPorts: [8082, 8082] },
      { proto: 'tcp', containerPort: 80, hostIps: ['127.0.0.1'], hostPorts: [8083, 8083] },
      { proto: 'tcp', containerPort: 443, hostIps: ['0.0.0.0', '::'], hostPorts: [0, 0] },
    ]);
  });

  it(':: conflicts with any IPv6 address of the port, never with IPv4 ones', () => {
    const t = new PortTable();
    t.take({ proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPort: 8080 }, 'a');
    assert.equal(t.isFree('tcp', '::', 8080), true);
    t.take({ proto: 'tcp', containerPort: 80, hostIp: '::1', hostPort: 8080 }, 'b');
    assert.equal(t.isFree('tcp', '::', 8080), false);
    assert.equal(t.isFree('tcp', 'fd00::5', 8080), true);
  });

  it('builds NetworkSettings.Ports with null for unpublished ports', () => {
    const m = portsMap({ '80/tcp': {}, '443/tcp': {} }, null, [{ proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPort: 8080 }]);
    assert.deepEqual(m, { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '443/tcp': null });
  });

  it('0.0.0.0 conflicts with any address of the same port and protocol', () => {
    const t = new PortTable();
    t.take({ proto: 'tcp', containerPort: 80, hostIp: '127.0.0.1', hostPort: 8080 }, 'a');
    assert.equal(t.isFree('tcp', '0.0.0.0', 8080), false);
    assert.equal(t.isFree('udp', '0.0.0.0', 8080), true);
    assert.equal(t.isFree('tcp', '127.0.0.2', 8080), true);
    t.take({ proto: 'udp', containerPort: 53, hostIp: '0.0.0.0', hostPort: 53 }, 'b');
    assert.equal(t.isFree('udp', '127.0.0.1', 53), false);
  });
});

describe('dns messages', () => {
  it('round-trips a query and an A answer', () => {
    const q = buildQuery(0x1234, 'Web.Example', TYPE_A);
    const parsed = parseQuery(q)!;
    assert.equal(parsed.name, 'Web.Example');
    assert.equal(parsed.type, TYPE_A);
    const resp = buildResponse(q, parsed, 0, [{ type: TYPE_A, ip: parseIp('10.1.2.3')! }]);
    assert.deepEqual(parseResponse(resp), { id: 0x1234, rcode: 0, addresses: ['10.1.2.3'] });
    assert.equal(parseQuery(resp), undefined, 'responses are not queries');
    assert.equal(parseQuery(Buffer.alloc(5)), undefined);
  });

  it('a UDP answer that does not fit is cut and marked truncated; the EDNS0 size widens the limit', () => {
    const q = buildQuery(7, 'many', TYPE_A);
    const parsed = parseQuery(q)!;
    assert.equal(parsed.udpSize, undefined);
    const answers = Array.from({ length: 100 }, (_, i) => ({ type: TYPE_A, ip: (10 << 24) + i }) as const);
    const cut = buildResponse(q, parsed, 0, answers, 600, 512);
    assert.ok(cut.length <= 512);
    assert.equal(cut.readUInt16BE(2) & 0x0200, 0x0200, 'TC set');
    assert.equal(cut.readUInt16BE(6), Math.floor((512 - q.length) / 16));
    const whole = buildResponse(q, parsed, 0, answers);
    assert.equal(whole.readUInt16BE(2) & 0x0200, 0);
    assert.equal(whole.readUInt16BE(6), 100);
    // The same query with an OPT record offering 4096 bytes.
    const opt = Buffer.from([0, 0, 41, 0x10, 0x00, 0, 0, 0, 0, 0, 0]);
    const withOpt = Buffer.concat([q, opt]);
    withOpt.writeUInt16BE(1, 10);
    assert.equal(parseQuery(withOpt)!.udpSize, 4096);
  });

  it('never writes a name whose label length does not fit its byte (a long container name)', () => {
    const q = buildQuery(1, '2.0.17.172.in-addr.arpa', TYPE_PTR);
    const parsed = parseQuery(q)!;
    assert.equal(encodableName('web.example'), true);
    assert.equal(encodableName('a'.repeat(64)), false);
    assert.equal(encodableName(Array(130).fill('ab').join('.')), false);
    assert.throws(() => buildResponse(q, parsed, 0, [{ type: TYPE_PTR, name: 'a'.repeat(300) }]), RangeError);
  });
});

describe('filters, rules, resolv.conf', () => {
  const net = (name: string, labels: Record<string, string> = {}, created = '2020-01-01T00:00:00Z') =>
    ({ Name: name, Id: name.padEnd(64, '0'), Driver: name === 'host' ? 'host' : 'bridge', Scope: 'local', Labels: labels, Created: created }) as unknown as NetworkRecord;

  it('filters networks like network ls', () => {
    const f = listFilter({ type: ['custom'], label: ['env=prod'] });
    assert.equal(f(net('bridge'), 0), false);
    assert.equal(f(net('app', { env: 'prod' }), 0), true);
    assert.equal(f(net('app', { env: 'dev' }), 0), false);
    assert.equal(listFilter({ dangling: ['true'] })(net('app'), 1), false);
    assert.equal(listFilter({ name: ['ap'] })(net('app'), 1), true);
    assert.throws(() => listFilter({ bogus: ['x'] }), /invalid filter 'bogus'/);
    const keep = pruneKeep({ until: ['1h'] }, Date.parse('2020-01-01T00:30:00Z'));
    assert.equal(keep(net('young')), true);
    assert.equal(pruneKeep({ until: ['1h'] }, Date.parse('2020-01-02T00:00:00Z'))(net('old')), false);
  });

  it('writes rules only in our chains', () => {
    const c = chainNames('WHARF');
    const rules = [...networkRules(c, { bridge: 'wharf0', subnet: '172.17.0.0/16', internal: false }), ...portRules(c, { proto: 'tcp', hostIp: '0.0.0.0', hostPort: 8080, containerIp: '172.17.0.2', containerPort: 80 })];
    assert.ok(rules.every((r) => r.chain.startsWith('WHARF')));
    assert.ok(rules.some((r) => r.args === '-p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80'));
    const internal = networkRules(c, { bridge: 'wh-x', subnet: '10.0.0.0/24', internal: true });
    assert.equal(internal.some((r) => r.args.includes('! -o wh-x -j MASQUERADE')), false);
  });

  it('points resolv.conf at the embedded DNS with Docker options', () => {
    const text = embeddedResolvConf('nameserver 10.0.0.53\nsearch corp.example\n', { dns: ['1.1.1.1'] });
    assert.equal(text, 'nameserver 127.0.0.11\nsearch corp.example\noptions ndots:0\n\n# ExtServers: [1.1.1.1]\n');
    // Only a valid ndots counts: an invalid one gives way to ndots:0; a valid one is kept as given.
    assert.match(embeddedResolvConf('', { dnsOptions: ['ndots:x', 'rotate'] }), /^options rotate ndots:0$/m);
    assert.match(embeddedResolvConf('options ndots:20 edns0\n'), /^options ndots:20 edns0$/m);
    // --dns-search . alone: no search line, even where the host has one.
    assert.doesNotMatch(embeddedResolvConf('search host.example\n', { dnsSearch: ['.'] }), /^search/m);
  });
});

test('create checks PortBindings as moby does: the container port, then each host port or range', () => {
  const good: Array<Record<string, Array<{ HostPort: string }> | null>> = [{ '80/tcp': [{ HostPort: '8080' }] }, { '80': [{ HostPort: '' }, { HostPort: '1000-1010' }] }, { '53/udp': null }, {}];
  for (const ok of good) {
    assert.doesNotThrow(() => validatePortBindings(ok));
  }
  assert.throws(() => validatePortBindings({ '99999/tcp': [] }), { kind: 'InvalidParameter', message: 'invalid port specification: "99999"' });
  assert.throws(() => validatePortBindings({ 'http/tcp': [] }), { message: 'invalid port specification: "http"' });
  assert.throws(() => validatePortBindings({ '80/tcp': [{ HostPort: '70000' }] }), { message: 'invalid port specification: "70000"' });
  assert.throws(() => validatePortBindings({ '80/tcp': [{ HostPort: '90-80' }] }), { message: 'invalid port specification: "90-80"' });
  assert.throws(() => validatePortBindings({ '80/tcp': [{ HostPort: '8080-' }] }), { message: 'invalid port specification: "8080-"' });
});

test('enable_icc=false drops traffic inside the bridge after the DNAT accept; masquerade=false drops the MASQUERADE', () => {
  const c = chainNames('WT');
  const rules = networkRules(c, { bridge: 'br1', subnet: '10.1.0.0/24', internal: false, icc: false, masquerade: false });
  const fwd = rules.filter((r) => r.chain === c.forward).map((r) => r.args);
  const dnat = fwd.indexOf('-o br1 -m conntrack --ctstate DNAT -j ACCEPT');
  const drop = fwd.indexOf('-i br1 -o br1 -j DROP');
  assert.ok(dnat >= 0 && drop > dnat && drop < fwd.indexOf('-i br1 -j ACCEPT'), fwd.join('\n'));
  assert.ok(!rules.some((r) => r.args === '-s 10.1.0.0/24 ! -o br1 -j MASQUERADE'));
  const open = networkRules(c, { bridge: 'br1', subnet: '10.1.0.0/24', internal: false });
  assert.ok(!open.some((r) => r.args === '-i br1 -o br1 -j DROP'));
  assert.ok(open.some((r) => r.args === '-s 10.1.0.0/24 ! -o br1 -j MASQUERADE'));
});

test('gateway modes per family: routed drops no masquerade, opens ICMP and lets other networks in; nat-unprotected accepts', () => {
  const c = chainNames('WT');
  const base = { bridge: 'br1', subnet: '10.1.0.0/24', subnet6: 'fd00:1::/64', internal: false };
  const routed = networkRules(c, { ...base, gatewayMode: 'routed', gatewayMode6: 'nat' });
  const v4 = routed.filter((r) => !r.v6).map((r) => `${r.chain} ${r.args}`);
  const v6 = routed.filter((r) => r.v6).map((r) => `${r.chain} ${r.args}`);
  assert.ok(!v4.some((a) => a.includes('! -o br1 -j MASQUERADE')), v4.join('\n'));
  assert.ok(v6.includes(`${c.post} -s fd00:1::/64 ! -o br1 -j MASQUERADE`), v6.join('\n'));
  // ICMP before the final drop; IPv6's (nat) has neither the ICMP accept nor the isolation change.
  const icmp = v4.indexOf(`${c.forward} -o br1 -p icmp -j ACCEPT`);
  assert.ok(icmp >= 0 && icmp < v4.indexOf(`${c.forward} -o br1 -j DROP`), v4.join('\n'));
  assert.ok(!v6.some((a) => a.includes('icmp')), v6.join('\n'));
  assert.ok(!v4.includes(`${c.iso2} -o br1 -j DROP`) && v6.includes(`${c.iso2} -o br1 -j DROP`));
  assert.ok(v4.includes(`${c.iso1} -i br1 ! -o br1 -m conntrack ! --ctstate RELATED,ESTABLISHED -j ${c.iso2}`));
  const routed6 = networkRules(c, { ...base, gatewayMode6: 'routed' }).filter((r) => r.v6).map((r) => r.args);
  assert.ok(routed6.includes('-o br1 -p ipv6-icmp -j ACCEPT'), routed6.join('\n'));

  const unprotected = networkRules(c, { ...base, gatewayMode: 'nat-unprotected' }).filter((r) => !r.v6 && r.chain !== c.iso2).map((r) => r.args);
  assert.ok(unprotected.includes('-o br1 -j ACCEPT') && !unprotected.includes('-o br1 -j DROP'), unprotected.join('\n'));
  assert.ok(unprotected.includes('-s 10.1.0.0/24 ! -o br1 -j MASQUERADE'));

  // A routed port goes to the top of the forward chain, ahead of the network's drop.
  assert.deepEqual(openPortRules(c, { proto: 'udp', bridge: 'br1', containerIp: 'fd00:1::2', containerPort: 53 }), [
    { table: 'filter', chain: c.forward, args: '-d fd00:1::2/128 ! -i br1 -o br1 -p udp -m udp --dport 53 -j ACCEPT', insert: 2, v6: true },
  ]);
});

test('a routed binding has no host port: inspect shows an empty HostPort', () => {
  const ports = portsMap({ '80/tcp': {} }, null, [
    { proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPort: 0, routed: true },
    { proto: 'tcp', containerPort: 80, hostIp: '::', hostPort: 8080 },
  ]);
  assert.deepEqual(ports, { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '' }, { HostIp: '::', HostPort: '8080' }] });
});

test('direct routing to a nat network is dropped in raw, its gateway and trusted interfaces let through first', () => {
  const c = chainNames('WT');
  assert.deepEqual(directAccessRules(c, { bridge: 'br1', subnet: '10.1.0.0/24', gateway: '10.1.0.1', trusted: ['eth1', 'vpn+'] }), [
    { table: 'raw', chain: c.raw, args: '-d 10.1.0.0/24 -i eth1 -j RETURN' },
    { table: 'raw', chain: c.raw, args: '-d 10.1.0.0/24 -i vpn+ -j RETURN' },
    { table: 'raw', chain: c.raw, args: '-d 10.1.0.1/32 -j RETURN' },
    { table: 'raw', chain: c.raw, args: '-d 10.1.0.0/24 ! -i br1 -j DROP' },
  ]);
  assert.deepEqual(directAccessRules(c, { bridge: 'br1', subnet: 'fd00:1::/64', gateway: 'fd00:1::1', trusted: [] }), [
    { table: 'raw', chain: c.raw, args: '-d fd00:1::1/128 -j RETURN', v6: true },
    { table: 'raw', chain: c.raw, args: '-d fd00:1::/64 ! -i br1 -j DROP', v6: true },
  ]);
  // With the network: only a nat family of an external network, and not when the daemon allows direct routing.
  const net = { bridge: 'br1', subnet: '10.1.0.0/24', subnet6: 'fd00:1::/64', internal: false, directAccess: { gateway: '10.1.0.1', gateway6: 'fd00:1::1', trusted: [] } };
  const drops = (n: Parameters<typeof networkRules>[1]) => networkRules(c, n).filter((r) => r.table === 'raw' && r.args.endsWith('! -i br1 -j DROP')).map((r) => r.args);
  assert.deepEqual(drops(net), ['-d 10.1.0.0/24 ! -i br1 -j DROP', '-d fd00:1::/64 ! -i br1 -j DROP']);
  assert.deepEqual(drops({ ...net, gatewayMode: 'routed', gatewayMode6: 'nat-unprotected' }), []);
  assert.deepEqual(drops({ ...net, internal: true }), []);
  const { directAccess: _d, ...allowed } = net;
  assert.deepEqual(drops(allowed), []);
});
