/**
 * IPv6 as Docker 28 does it, through the real Docker CLI: `--ipv6` networks (given subnet,
 * gateway and ip-range, or a /64 of the host's ULA pool), `--ip6`, inspect fields, the default
 * bridge from the daemon's `ipv6`/`fixed-cidr-v6`, the IPv6 default route, AAAA answers, ports
 * published on 0.0.0.0 and [::] (reached on [::1], also for an IPv4-only container), isolation
 * between networks, restore after a daemon restart, and no ip6tables rule left behind.
 * Addresses are random ULAs (fd00::/8); traffic goes only to ::1, 127.0.0.1 and the containers.
 * The daemon turns IPv6 forwarding on (and ip6tables FORWARD to DROP) as Docker does; the test
 * puts back what the host had.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chainPrefixForBridge } from '../../src/network/iptables.js';
import { pickSubnet6, ulaPool } from '../../src/network/ipam.js';
import { formatCidr6 } from '../../src/network/ipv6.js';
import { freePort } from '../fixtures/registry.js';
import { cliOk, loadBusybox, runCommand, startDaemon, waitFor, type Daemon } from './harness.js';

const r = randomBytes(5).toString('hex');
// Groups written as Docker prints them (no leading zeros).
const group = (h: string) => parseInt(h, 16).toString(16);
const P = `fd${r.slice(0, 2)}:${group(r.slice(2, 6))}:${group(r.slice(6, 10))}`;
const NET1 = `${P}:1::/64`;
const BRIDGE6 = `${P}:b::/64`;
const HTTPD = (body: string) => `mkdir -p /www && echo ${body} > /www/i && exec httpd -f -p 80 -h /www`;

const FORWARDING = ['/proc/sys/net/ipv6/conf/all/forwarding', '/proc/sys/net/ipv6/conf/default/forwarding'];
let hostForwarding: string[] = [];
let hostForwardPolicy = 'ACCEPT';

let d: Daemon;
let prefix: string;

const ok = (args: string[]): Promise<string> => cliOk(d, 'docker', args);

/** GET http://[host]:port/i */
function get(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/i', timeout: 5000, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Our rules in ip6tables (chains and jumps of this daemon's prefix). */
async function ip6Rules(): Promise<string[]> {
  const out = await runCommand('ip6tables-save', []);
  return out.stdout.split('\n').filter((l) => l.includes(prefix)).map((l) => l.replace(/\[\d+:\d+\]/, ''));
}

const inspect = async (ref: string, fmt: string) => (await ok(['inspect', '-f', fmt, ref])).trim();

before(async () => {
  const which = await runCommand('sh', ['-c', 'command -v ip6tables ip6tables-restore ip6tables-save']);
  assert.equal(which.code, 0, 'ip6tables (Debian package iptables) is needed');
  hostForwarding = await Promise.all(FORWARDING.map(async (p) => (await readFile(p, 'utf8')).trim()));
  hostForwardPolicy = /^-P FORWARD (\w+)/m.exec((await runCommand('ip6tables', ['-w', '-S', 'FORWARD'])).stdout)?.[1] ?? 'ACCEPT';
  d = await startDaemon({ config: { ipv6: true, 'fixed-cidr-v6': BRIDGE6 } });
  await loadBusybox(d);
  prefix = chainPrefixForBridge((JSON.parse(await readFile(d.configFile, 'utf8')) as { bridge: string }).bridge);
});

after(async () => {
  await d?.cleanup();
  if (prefix) assert.deepEqual(await ip6Rules(), [], 'no ip6tables rule of the daemon stays after cleanup');
  for (const [i, p] of FORWARDING.entries()) if (hostForwarding[i]) await writeFile(p, `${hostForwarding[i]}\n`);
  await runCommand('ip6tables', ['-w', '-P', 'FORWARD', hostForwardPolicy]);
});

describe('IPv6', () => {
  let baseRules: string[] = [];
  let port = 0;
  let port4 = 0;

  test('network create --ipv6 with subnet, gateway and ip-range; validation as Docker 28', async () => {
    baseRules = await ip6Rules();
    await ok(['network', 'create', '--ipv6', '--subnet', NET1, '--gateway', `${P}:1::fe`, '--ip-range', `${P}:1::100/120`, 'n1']);
    const cfg = JSON.parse(await ok(['network', 'inspect', '-f', '{{json .IPAM.Config}}', 'n1'])) as Array<Record<string, string>>;
    assert.equal(cfg.length, 2);
    assert.match(cfg[0]!.Subnet!, /^\d+\.\d+\.\d+\.\d+\/\d+$/);
    assert.deepEqual(cfg[1], { Subnet: NET1, Gateway: `${P}:1::fe`, IPRange: `${P}:1::100/120` });
    assert.equal((await ok(['network', 'inspect', '-f', '{{.EnableIPv6}}', 'n1'])).trim(), 'true');
    const id = (await ok(['network', 'inspect', '-f', '{{.Id}}', 'n1'])).trim();
    const addr = await runCommand('ip', ['-6', '-o', 'addr', 'show', 'dev', `wh-${id.slice(0, 12)}`]);
    assert.match(addr.stdout, new RegExp(`inet6 ${P}:1::fe/64 `));

    const bad = await d.docker(['network', 'create', '--ipv6', '--subnet', `${P}:2::5/64`, 'bad']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, new RegExp(`invalid network config:\\ninvalid subnet ${P}:2::5/64: it should be ${P}:2::/64`));
    // The Docker CLI checks the gateway itself; the API's own check answers as Docker's ValidateIPAM.
    const gw = await d.docker(['network', 'create', '--ipv6', '--subnet', `${P}:2::/64`, '--gateway', `${P}:3::1`, 'bad']);
    assert.match(gw.stderr, new RegExp(`no matching subnet for gateway ${P}:3::1`));
    const body = { Name: 'bad', EnableIPv6: true, IPAM: { Config: [{ Subnet: `${P}:2::/64`, Gateway: `${P}:3::1`, IPRange: `${P}:3::/80` }] } };
    const api = await runCommand('curl', ['-s', '-w', '\n%{http_code}', '--unix-socket', d.socket, '-H', 'Content-Type: application/json', '-d', JSON.stringify(body), 'http://d/v1.48/networks/create']);
    const cut = api.stdout.lastIndexOf('\n');
    assert.equal(api.stdout.slice(cut + 1), '400');
    assert.deepEqual(JSON.parse(api.stdout.slice(0, cut)), {
      message: `invalid network config:\n* invalid ip-range ${P}:3::/80: parent subnet ${P}:2::/64 doesn't contain ip-range\n* invalid gateway ${P}:3::1: parent subnet ${P}:2::/64 doesn't contain this address`,
    });
    const overlap = await d.docker(['network', 'create', '--ipv6', '--subnet', `${P}:1::/80`, 'bad']);
    assert.match(overlap.stderr, /Pool overlaps with other one on this address space/);
    const all = await d.docker(['network', 'create', '--ipv6', '--subnet', '::/0', 'bad']);
    assert.match(all.stderr, /ipv6 pool is empty/);
    assert.equal((await d.docker(['network', 'inspect', 'bad'])).code, 1);
  });

  test('network create --ipv6 without a subnet takes a /64 of the ULA pool derived from the engine ID', async () => {
    await ok(['network', 'create', '--ipv6', 'n2']);
    const engineId = (await readFile(join(d.dataRoot, 'engine-id'), 'utf8')).trim();
    // NET1 and BRIDGE6 are random ULAs outside that pool: its first /64 is free.
    const expected = formatCidr6(pickSubnet6([ulaPool(engineId)], [])!);
    const subnet = (await ok(['network', 'inspect', '-f', '{{(index .IPAM.Config 1).Subnet}}', 'n2'])).trim();
    assert.equal(subnet, expected);
    assert.equal((await ok(['network', 'inspect', '-f', '{{(index .IPAM.Config 1).Gateway}}', 'n2'])).trim(), expected.replace('::/64', '::1'));
    // As in Docker, a static address needs a subnet the user configured.
    const fixed = await d.docker(['run', '--rm', '--network', 'n2', '--ip6', expected.replace('::/64', '::9'), 'busybox', 'true']);
    assert.equal(fixed.code, 125);
    assert.match(fixed.stderr, /user specified IP address is supported only when connecting to networks with user configured subnets/);
    const outside = await d.docker(['create', '--network', 'n1', '--ip6', `${P}:9::9`, 'busybox', 'true']);
    assert.equal(outside.code, 1, 'refused at create, as Docker does');
    assert.match(outside.stderr, new RegExp(`no configured subnet or ip-range contain the IP address ${P}:9::9`));
  });

  test('containers get --ip6 or the first address of the ip-range, the IPv6 route, AAAA answers and hosts entries', async () => {
    port = await freePort();
    await ok(['run', '-d', '--name', 'c1', '--network', 'n1', '--ip6', `${P}:1::50`, '-p', `${port}:80`, 'busybox', 'sh', '-c', HTTPD('six')]);
    await ok(['run', '-d', '--name', 'c2', '--network', 'n1', 'busybox', 'sleep', '1000']);
    assert.equal(await inspect('c2', '{{.NetworkSettings.Networks.n1.GlobalIPv6Address}}'), `${P}:1::100`);
    assert.equal(await inspect('c2', '{{.NetworkSettings.Networks.n1.GlobalIPv6PrefixLen}}'), '64');
    assert.equal(await inspect('c2', '{{.NetworkSettings.Networks.n1.IPv6Gateway}}'), `${P}:1::fe`);
    assert.equal(await inspect('c1', '{{.NetworkSettings.Networks.n1.IPAMConfig.IPv6Address}}'), `${P}:1::50`);
    const members = JSON.parse(await ok(['network', 'inspect', '-f', '{{json .Containers}}', 'n1'])) as Record<string, { Name: string; IPv6Address: string }>;
    assert.deepEqual(Object.values(members).map((m) => `${m.Name} ${m.IPv6Address}`).sort(), [`c1 ${P}:1::50/64`, `c2 ${P}:1::100/64`]);

    const route = await ok(['exec', 'c2', 'ip', '-6', 'route', 'show', 'default']);
    assert.match(route, new RegExp(`default via ${P}:1::fe dev eth0`));
    await waitFor(async () => (await d.docker(['exec', 'c2', 'wget', '-qO-', `http://[${P}:1::50]/i`])).stdout === 'six\n', { what: 'c2 reaches c1 over IPv6' });
    const aaaa = await ok(['exec', 'c2', 'nslookup', '-type=AAAA', 'c1']);
    assert.match(aaaa, new RegExp(`Address:\\s+${P}:1::50`));
    const ptr = await ok(['exec', 'c2', 'nslookup', `${P}:1::50`]);
    assert.match(ptr, /name = c1\.n1$/m);
    const hosts = await ok(['exec', 'c1', 'cat', '/etc/hosts']);
    assert.match(hosts, new RegExp(`^${P}:1::50\\t`, 'm'));
  });

  test('ports are published on 0.0.0.0 and [::]; [::1] reaches the container', async () => {
    assert.equal(await ok(['port', 'c1']), `80/tcp -> 0.0.0.0:${port}\n80/tcp -> [::]:${port}\n`);
    const ports = JSON.parse(await ok(['inspect', '-f', '{{json .NetworkSettings.Ports}}', 'c1'])) as Record<string, unknown>;
    assert.deepEqual(ports, { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: String(port) }, { HostIp: '::', HostPort: String(port) }] });
    assert.equal(await get('::1', port), 'six\n');
    assert.equal(await get('127.0.0.1', port), 'six\n');
    assert.ok((await ip6Rules()).some((l) => l.includes(`--dport ${port} -j DNAT --to-destination [${P}:1::50]:80`)), 'ip6tables DNAT to the container');
  });

  test('an IPv4-only container: [::]:P through the proxy, -p [::1] and -p 0.0.0.0 bind one family, no IPv6 on eth0', async () => {
    await ok(['network', 'create', 'n4']);
    port4 = await freePort();
    const only6 = await freePort();
    const only4 = await freePort();
    await ok(['run', '-d', '--name', 'c4', '--network', 'n4', '-p', `${port4}:80`, '-p', `[::1]:${only6}:80`, '-p', `0.0.0.0:${only4}:80`, 'busybox', 'sh', '-c', HTTPD('four')]);
    // Docker orders a port's bindings by host port, IPv4 first (the CLI then sorts its lines).
    const expected = [
      [port4, '0.0.0.0'], [port4, '::'], [only6, '::1'], [only4, '0.0.0.0'],
    ].sort((a, b) => Number(a[0]) - Number(b[0])).map(([p, ip]) => ({ HostIp: ip, HostPort: String(p) }));
    assert.deepEqual(JSON.parse(await ok(['inspect', '-f', '{{json .NetworkSettings.Ports}}', 'c4'])), { '80/tcp': expected });
    const lines = (await ok(['port', 'c4', '80'])).trim().split('\n').sort();
    assert.deepEqual(lines, [`0.0.0.0:${port4}`, `0.0.0.0:${only4}`, `[::1]:${only6}`, `[::]:${port4}`].sort());
    await waitFor(async () => (await get('::1', port4).catch(() => '')) === 'four\n', { what: '[::1] proxied to an IPv4-only container' });
    assert.equal(await get('::1', only6), 'four\n');
    await assert.rejects(get('127.0.0.1', only6), /ECONNREFUSED/);
    assert.equal(await get('127.0.0.1', only4), 'four\n');
    await assert.rejects(get('::1', only4), /ECONNREFUSED/);
    assert.equal((await ok(['exec', 'c4', 'cat', '/proc/sys/net/ipv6/conf/eth0/disable_ipv6'])).trim(), '1');
    assert.equal(await inspect('c4', '{{.NetworkSettings.Networks.n4.GlobalIPv6Address}}'), '');

    // Connected to an IPv6 network while running: an address there and the IPv6 default route.
    await ok(['network', 'connect', '--ip6', `${P}:1::77`, 'n1', 'c4']);
    assert.equal(await inspect('c4', '{{.NetworkSettings.Networks.n1.GlobalIPv6Address}}'), `${P}:1::77`);
    assert.match(await ok(['exec', 'c4', 'ip', '-6', 'route', 'show', 'default']), new RegExp(`default via ${P}:1::fe dev eth1`));
    await waitFor(async () => (await d.docker(['exec', 'c4', 'wget', '-qO-', `http://[${P}:1::50]/i`])).stdout === 'six\n', { what: 'c4 reaches c1 over IPv6' });
    await ok(['network', 'disconnect', 'n1', 'c4']);
    assert.equal((await ok(['exec', 'c4', 'ip', '-6', 'route', 'show', 'default'])).trim(), '');
  });

  test('the default bridge takes fixed-cidr-v6; IPv6 networks are isolated from each other', async () => {
    await ok(['run', '-d', '--name', 'cb', '--add-host', 'gw:host-gateway', 'busybox', 'sleep', '1000']);
    const gwLines = (await ok(['exec', 'cb', 'cat', '/etc/hosts'])).split('\n').filter((l) => /\tgw$/.test(l));
    assert.equal(gwLines.length, 2, 'host-gateway names both gateways of an IPv6 default bridge');
    assert.equal(gwLines[1], `${P}:b::1\tgw`);
    assert.equal(await inspect('cb', '{{.NetworkSettings.GlobalIPv6Address}}'), `${P}:b::2`);
    assert.equal(await inspect('cb', '{{.NetworkSettings.IPv6Gateway}}'), `${P}:b::1`);
    assert.equal((await ok(['network', 'inspect', '-f', '{{.EnableIPv6}} {{(index .IPAM.Config 1).Subnet}}', 'bridge'])).trim(), `true ${BRIDGE6}`);
    // From the default bridge to n1: forwarded, and dropped by the isolation rules.
    const cross = await d.docker(['exec', 'cb', 'wget', '-T', '2', '-qO-', `http://[${P}:1::50]/i`]);
    assert.notEqual(cross.code, 0, 'the default bridge cannot reach n1');
    assert.ok((await ip6Rules()).some((l) => /-A \S+-ISOLATION-2 -o wh-\w+ -j DROP/.test(l)));
  });

  test('a daemon restart keeps the IPv6 addresses, rules and the [::1] proxy', async () => {
    const before = (await ip6Rules()).sort();
    await d.restart();
    assert.equal(await inspect('c1', '{{.NetworkSettings.Networks.n1.GlobalIPv6Address}}'), `${P}:1::50`);
    assert.deepEqual((await ip6Rules()).sort(), before);
    assert.equal(await get('::1', port), 'six\n');
    assert.equal(await get('::1', port4), 'four\n');
    await ok(['run', '-d', '--name', 'c3', '--network', 'n1', 'busybox', 'sleep', '1000']);
    assert.equal(await inspect('c3', '{{.NetworkSettings.Networks.n1.GlobalIPv6Address}}'), `${P}:1::101`, 'leases survive the restart');
  });

  test('removing containers and networks removes their ip6tables rules and ports', async () => {
    await ok(['rm', '-f', 'c1', 'c2', 'c3', 'c4', 'cb']);
    await assert.rejects(get('::1', port), /ECONNREFUSED/);
    await ok(['network', 'rm', 'n1', 'n2', 'n4']);
    assert.deepEqual((await ip6Rules()).sort(), baseRules.sort());
  });

  test('turning the daemon\'s ipv6 off makes the default bridge IPv4-only again', async () => {
    const cfg = JSON.parse(await readFile(d.configFile, 'utf8')) as Record<string, unknown>;
    const bridge = cfg.bridge as string;
    delete cfg.ipv6;
    await writeFile(d.configFile, JSON.stringify(cfg));
    await d.restart();
    assert.equal((await ok(['network', 'inspect', '-f', '{{.EnableIPv6}} {{len .IPAM.Config}}', 'bridge'])).trim(), 'false 1');
    const addr = await runCommand('ip', ['-6', '-o', 'addr', 'show', 'dev', bridge, 'scope', 'global']);
    assert.equal(addr.stdout.trim(), '', 'the old IPv6 gateway is gone from the bridge');
    await ok(['run', '--rm', 'busybox', 'true']);
  });
});
