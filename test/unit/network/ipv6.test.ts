import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatIp6, parseCidr6, parseIp6 } from '../../../src/network/ipv6.js';
import { allocateIp6, ipamConfigError, ipamErrors6, pickSubnet6, subnetSpec6, ulaPool } from '../../../src/network/ipam.js';
import { networkRules, portRules, chainNames } from '../../../src/network/iptables.js';
import { buildQuery, buildResponse, parseQuery, parseResponse, TYPE_AAAA } from '../../../src/network/dns-message.js';

describe('IPv6 addresses', () => {
  it('parses and prints addresses as Go netip does (RFC 5952)', () => {
    const cases: Array<[string, string]> = [
      ['FD00:0:0:0:0:0:0:1', 'fd00::1'],
      ['::', '::'],
      ['::1', '::1'],
      ['fd00:1:0:0:1:0:0:1', 'fd00:1::1:0:0:1'],
      ['fd00:0:1:0:0:0:0:0', 'fd00:0:1::'],
      ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
      ['::ffff:10.1.2.3', '::ffff:a01:203'],
    ];
    for (const [a, b] of cases) assert.equal(formatIp6(parseIp6(a)!), b, a);
    for (const bad of ['10.0.0.1', 'fd00::1 ', 'fd00::g', 'fe80::1%eth0', '1::2::3', '']) assert.equal(parseIp6(bad), undefined, bad);
    assert.equal(parseCidr6('fd00::1/64')!.cidr.base, parseIp6('fd00::'));
    assert.equal(parseCidr6('fd00::/129'), undefined);
  });

  it('validates IPv6 IPAM configs with Docker 28 texts', () => {
    assert.deepEqual(ipamErrors6({ Subnet: 'fd00:1::/64', Gateway: 'fd00:1::ff', IPRange: 'fd00:1::/80' }), []);
    assert.deepEqual(ipamErrors6({ Subnet: 'fd00:1::5/64' }), ['invalid subnet fd00:1::5/64: it should be fd00:1::/64']);
    assert.deepEqual(ipamErrors6({ Subnet: 'nope' }), ['invalid subnet nope: invalid CIDR block notation']);
    assert.deepEqual(ipamErrors6({ Subnet: 'fd00:1::/64', Gateway: 'fd00:2::1' }), ['invalid gateway fd00:2::1: parent subnet fd00:1::/64 doesn\'t contain this address']);
    assert.deepEqual(ipamErrors6({ Subnet: 'fd00:1::/64', Gateway: '10.0.0.1' }), ['invalid gateway 10.0.0.1: parent subnet is an IPv6 block']);
    assert.deepEqual(ipamErrors6({ Subnet: 'fd00:1::/64', IPRange: 'fd00::/48' }), [
      'invalid ip-range fd00::/48: CIDR block is bigger than its parent subnet fd00:1::/64',
      "invalid ip-range fd00::/48: parent subnet fd00:1::/64 doesn't contain ip-range",
    ]);
    assert.equal(ipamConfigError(['a', 'b']), 'invalid network config:\n* a\n* b');
  });

  it('allocates after the gateway inside the ip-range', () => {
    const spec = subnetSpec6('fd00:5::/64');
    assert.equal(formatIp6(spec.gateway), 'fd00:5::1');
    assert.equal(formatIp6(allocateIp6(spec, new Set())!), 'fd00:5::2');
    assert.equal(formatIp6(allocateIp6(spec, new Set([parseIp6('fd00:5::2')!]))!), 'fd00:5::3');
    const ranged = subnetSpec6('fd00:5::/64', undefined, 'fd00:5::100/120');
    assert.equal(formatIp6(allocateIp6(ranged, new Set())!), 'fd00:5::100');
    const tiny = subnetSpec6('fd00:5::/127');
    assert.equal(allocateIp6(tiny, new Set()), undefined);
  });

  it('derives the host ULA /48 from the engine ID and carves /64s, skipping what is taken', () => {
    const pool = ulaPool('some-engine-id');
    assert.match(pool.base, /^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/48$/);
    assert.equal(pool.size, 64);
    assert.deepEqual(ulaPool('some-engine-id'), pool);
    assert.notDeepEqual(ulaPool('other'), pool);
    const first = pickSubnet6([pool], [])!;
    assert.equal(first.bits, 64);
    assert.equal(first.base, parseCidr6(pool.base)!.cidr.base);
    const second = pickSubnet6([pool], [first])!;
    assert.equal(second.base, first.base + (1n << 64n));
    // A taken /56 is skipped in one step.
    const big = { base: first.base, bits: 56 };
    assert.equal(pickSubnet6([pool], [big])!.base, first.base + (1n << 72n));
  });
});

describe('IPv6 rules', () => {
  const c = chainNames('WX');
  it('an IPv6 network gets the IPv4 policy again in ip6tables, without the loopback rules', () => {
    const rules = networkRules(c, { bridge: 'br1', subnet: '10.1.0.0/24', subnet6: 'fd00:9::/64', internal: false });
    const v6 = rules.filter((r) => r.v6).map((r) => `${r.table} ${r.chain} ${r.args}`);
    assert.ok(v6.includes('nat WX-POSTROUTING -s fd00:9::/64 ! -o br1 -j MASQUERADE'), v6.join('\n'));
    assert.ok(v6.includes('filter WX-ISOLATION-2 -o br1 -j DROP'));
    assert.ok(v6.includes('filter WX-FORWARD -i br1 -j ACCEPT'));
    assert.equal(v6.some((r) => r.includes('127.0.0.0/8') || r.startsWith('raw')), false);
    assert.equal(rules.filter((r) => !r.v6).length, networkRules(c, { bridge: 'br1', subnet: '10.1.0.0/24', internal: false }).length);
  });

  it('an IPv6-only network (no IPv4 subnet) gets its ip6tables rules and no iptables rule', () => {
    const dual = networkRules(c, { bridge: 'br1', subnet: '10.1.0.0/24', subnet6: 'fd00:9::/64', internal: false });
    const only6 = networkRules(c, { bridge: 'br1', subnet6: 'fd00:9::/64', internal: false });
    assert.equal(only6.some((r) => !r.v6), false);
    assert.deepEqual(only6, dual.filter((r) => r.v6));
    const internal = networkRules(c, { bridge: 'br1', subnet6: 'fd00:9::/64', internal: true }).map((r) => `${r.chain} ${r.args}`);
    assert.ok(internal.includes('WX-FORWARD -i br1 -j DROP'), internal.join('\n'));
    assert.equal(internal.some((r) => r.includes('MASQUERADE') && r.includes('! -o br1')), false);
  });

  it('host_ipv4 / host_ipv6: outbound traffic SNATed to that source in its family, masqueraded in the other', () => {
    const out = (snat: { snat?: string; snat6?: string }) =>
      networkRules(c, { bridge: 'br1', subnet: '10.1.0.0/24', subnet6: 'fd00:9::/64', internal: false, ...snat })
        .filter((r) => r.table === 'nat' && r.args.includes('! -o br1'))
        .map((r) => r.args);
    assert.deepEqual(out({ snat: '192.0.2.5' }), ['-s 10.1.0.0/24 ! -o br1 -j SNAT --to-source 192.0.2.5', '-s fd00:9::/64 ! -o br1 -j MASQUERADE']);
    assert.deepEqual(out({ snat6: '2001:db8::5' }), ['-s 10.1.0.0/24 ! -o br1 -j MASQUERADE', '-s fd00:9::/64 ! -o br1 -j SNAT --to-source 2001:db8::5']);
  });

  it('publishes a port with DNAT in its family only; across families the proxy serves it', () => {
    assert.deepEqual(portRules(c, { proto: 'tcp', hostIp: '::', hostPort: 8080, containerIp: 'fd00:9::2', containerPort: 80 }), [
      { table: 'nat', chain: 'WX', args: '-p tcp -m tcp --dport 8080 -j DNAT --to-destination [fd00:9::2]:80', v6: true },
    ]);
    assert.deepEqual(portRules(c, { proto: 'tcp', hostIp: '::', hostPort: 8080, containerIp: '10.1.0.2', containerPort: 80 }), []);
    assert.equal(portRules(c, { proto: 'udp', hostIp: '0.0.0.0', hostPort: 53, containerIp: '10.1.0.2', containerPort: 53 })[0]!.v6, undefined);
  });
});

describe('AAAA answers', () => {
  it('encodes and reads back AAAA records', () => {
    const q = buildQuery(7, 'web', TYPE_AAAA);
    const parsed = parseQuery(q)!;
    const ip6 = Buffer.from('fd000009000000000000000000000002', 'hex');
    const r = parseResponse(buildResponse(q, parsed, 0, [{ type: TYPE_AAAA, ip6 }]));
    assert.deepEqual(r.addresses, ['fd00:9::2']);
  });
});
