/**
 * IPv6-only networks (Docker 28's `network create --ipv4=false --ipv6`) through the real Docker
 * CLI: the refusals, inspect, a bridge with no IPv4 address and no iptables rule, containers with
 * an IPv6 address alone (route, /etc/hosts, names through 127.0.0.11 inside their namespace),
 * ports published on [::] only, an internal one relaying nothing upstream, connect and
 * disconnect, a daemon restart, and no rule or link left after removal. Addresses are random ULAs;
 * traffic goes only to ::1, 127.0.0.1, the containers and the test's own resolver on loopback
 * (the daemon's `dns`), which the daemon relays unknown names to instead of the host's.
 * As in ipv6.test.ts, the host's IPv6 forwarding and ip6tables FORWARD policy are put back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes, randomInt } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildResponse, parseQuery, TYPE_A } from '../../src/network/dns-message.js';
import { chainPrefixForBridge } from '../../src/network/iptables.js';
import { pickSubnet6, ulaPool } from '../../src/network/ipam.js';
import { formatCidr6 } from '../../src/network/ipv6.js';
import { freePort } from '../fixtures/registry.js';
import { httpGet, socketJson } from '../lib/http.js';
import { cliOk, loadBusybox, runCommand, startDaemon, waitFor, type Daemon } from './harness.js';

const r = randomBytes(5).toString('hex');
const group = (h: string) => parseInt(h, 16).toString(16);
const P = `fd${r.slice(0, 2)}:${group(r.slice(2, 6))}:${group(r.slice(6, 10))}`;
const V6 = `${P}:1::/64`;
const INTERNAL = `${P}:2::/64`;
const MACVLAN = `${P}:3::/64`;
/** The macvlan networks' parent: one end of a veth pair the test makes (the other keeps it up). */
const PARENT = `wv${r.slice(0, 6)}a`;
const PEER = `wv${r.slice(0, 6)}b`;
const HTTPD = (body: string) => `mkdir -p /www && echo ${body} > /www/i && exec httpd -f -p 80 -h /www`;
/** A name no container has: the daemon relays it to the test's resolver, never further. */
const UNKNOWN = 'nothing.wharf-test.invalid';

const FORWARDING = ['/proc/sys/net/ipv6/conf/all/forwarding', '/proc/sys/net/ipv6/conf/default/forwarding'];
let hostForwarding: string[] = [];
let hostForwardPolicy = 'ACCEPT';

let d: Daemon;
/** This daemon's chain prefix: its rules, not those of daemons other tests run meanwhile. */
let prefix = '';
/** The daemon's `dns`: a resolver of the test's on a loopback address, counting what it is asked. */
const resolverIp = `127.78.${randomInt(1, 255)}.1`;
let resolver: Socket;
const relayed: string[] = [];

const ok = (args: string[]): Promise<string> => cliOk(d, 'docker', args);
const inspect = async (ref: string, fmt: string) => (await ok(['inspect', '-f', fmt, ref])).trim();
const bridgeOf = async (net: string) => `wh-${(await ok(['network', 'inspect', '-f', '{{.Id}}', net])).trim().slice(0, 12)}`;

/** Lines of iptables-save (or ip6tables-save) that name `word`, counters cut. */
async function savedRules(tool: 'iptables-save' | 'ip6tables-save', word: string): Promise<string[]> {
  const out = await runCommand(tool, []);
  return out.stdout.split('\n').filter((l) => l.includes(word)).map((l) => l.replace(/\[\d+:\d+\]/, ''));
}

/** GET http://[host]:port/i: the body. */
const get = async (host: string, port: number): Promise<string> => (await httpGet(port, '/i', host, 5000)).body;

/** POST /v<version>/networks/create. */
const createOverApi = (version: string, body: unknown) => socketJson(d.socket, 'POST', `/v${version}/networks/create`, { body });

before(async () => {
  hostForwarding = await Promise.all(FORWARDING.map(async (p) => (await readFile(p, 'utf8')).trim()));
  hostForwardPolicy = /^-P FORWARD (\w+)/m.exec((await runCommand('ip6tables', ['-w', '-S', 'FORWARD'])).stdout)?.[1] ?? 'ACCEPT';
  resolver = createSocket('udp4');
  resolver.on('message', (msg, from) => {
    const q = parseQuery(msg);
    if (!q) return;
    relayed.push(q.name);
    resolver.send(buildResponse(msg, q, 0, q.type === TYPE_A ? [{ type: TYPE_A, ip: (10 << 24) | (7 << 16) | (7 << 8) | 7 }] : []), from.port, from.address);
  });
  await new Promise<void>((res) => resolver.bind(53, resolverIp, () => res()));
  d = await startDaemon({ config: { dns: [resolverIp] } });
  await loadBusybox(d);
  prefix = chainPrefixForBridge((JSON.parse(await readFile(d.configFile, 'utf8')) as { bridge: string }).bridge);
});

after(async () => {
  await d?.cleanup();
  await runCommand('ip', ['link', 'del', PARENT]);
  resolver?.close();
  for (const [i, p] of FORWARDING.entries()) if (hostForwarding[i]) await writeFile(p, `${hostForwarding[i]}\n`);
  await runCommand('ip6tables', ['-w', '-P', 'FORWARD', hostForwardPolicy]);
});

describe('IPv6-only networks', () => {
  let base4: string[] = [];
  let base6: string[] = [];
  let port = 0;
  let port4 = 0;
  let bridge = '';

  test('--ipv4=false needs --ipv6; the network has IPv6 alone, its bridge no IPv4 address and no iptables rule', async () => {
    base4 = await savedRules('iptables-save', prefix);
    base6 = await savedRules('ip6tables-save', prefix);
    const neither = await d.docker(['network', 'create', '--ipv4=false', 'neither']);
    assert.equal(neither.code, 1);
    assert.equal(neither.stderr.trim(), 'Error response from daemon: IPv4 or IPv6 must be enabled');
    assert.deepEqual(await createOverApi('1.48', { Name: 'neither', EnableIPv4: false }), { status: 400, json: { message: 'IPv4 or IPv6 must be enabled' } });
    const opt = await d.docker(['network', 'create', '-o', 'com.docker.network.enable_ipv4=maybe', 'neither']);
    assert.match(opt.stderr, /driver-opt "com.docker.network.enable_ipv4" is not a valid bool/);
    assert.equal((await d.docker(['network', 'inspect', 'neither'])).code, 1, 'nothing half-made');

    await ok(['network', 'create', '--ipv4=false', '--ipv6', '--subnet', V6, 'v6only']);
    const n = JSON.parse(await ok(['network', 'inspect', '-f', '{{json .}}', 'v6only'])) as Record<string, unknown>;
    assert.equal(n.EnableIPv4, false);
    assert.equal(n.EnableIPv6, true);
    assert.deepEqual((n.IPAM as { Config: unknown }).Config, [{ Subnet: V6, Gateway: `${P}:1::1` }]);
    assert.equal((await ok(['network', 'inspect', '-f', '{{.EnableIPv4}} {{.EnableIPv6}}', 'bridge'])).trim(), 'true false', 'the default bridge stays');
    bridge = await bridgeOf('v6only');
    assert.equal((await runCommand('ip', ['-4', '-o', 'addr', 'show', 'dev', bridge])).stdout.trim(), '', 'no IPv4 address on the bridge');
    assert.match((await runCommand('ip', ['-6', '-o', 'addr', 'show', 'dev', bridge])).stdout, new RegExp(`inet6 ${P}:1::1/64 `));
    assert.deepEqual(await savedRules('iptables-save', bridge), [], 'no iptables rule');
    const rules6 = await savedRules('ip6tables-save', bridge);
    assert.ok(rules6.some((l) => l.includes(`-s ${V6} ! -o ${bridge} -j MASQUERADE`)), rules6.join('\n'));
    assert.ok(rules6.some((l) => l.includes(`-i ${bridge} ! -o ${bridge} -j`)), 'isolation as for a dual-stack network');

    // Without a subnet: a /64 of the ULA pool, and no IPv4 config at all.
    await ok(['network', 'create', '--ipv4=false', '--ipv6', 'v6auto']);
    const engineId = (await readFile(join(d.dataRoot, 'engine-id'), 'utf8')).trim();
    const expected = formatCidr6(pickSubnet6([ulaPool(engineId)], [])!);
    assert.equal((await ok(['network', 'inspect', '-f', '{{json .IPAM.Config}}', 'v6auto'])).trim(), JSON.stringify([{ Subnet: expected, Gateway: expected.replace('::/64', '::1') }]));
    // Before API 1.48 the field does not exist: such a client's network has IPv4.
    assert.equal((await createOverApi('1.47', { Name: 'oldclient', EnableIPv4: false })).status, 201);
    assert.equal((await ok(['network', 'inspect', '-f', '{{.EnableIPv4}} {{len .IPAM.Config}}', 'oldclient'])).trim(), 'true 1');
    // An IPv4 subnet given with IPv4 disabled: shown as given, nothing allocated from it (another network may take it).
    const sub4 = `10.${randomInt(200, 250)}.${randomInt(0, 255)}.0/24`;
    await ok(['network', 'create', '--ipv4=false', '--ipv6', '--subnet', sub4, '--subnet', `${P}:4::/64`, 'given4']);
    assert.equal((await ok(['network', 'inspect', '-f', '{{json .IPAM.Config}}', 'given4'])).trim(), JSON.stringify([{ Subnet: sub4 }, { Subnet: `${P}:4::/64`, Gateway: `${P}:4::1` }]));
    await ok(['network', 'create', '--subnet', sub4, 'same4']);
    // A configuration-only network passes IPv6-only on to the networks made from it.
    await ok(['network', 'create', '--config-only', '--ipv4=false', '--ipv6', '--subnet', `${P}:5::/64`, 'cfg6']);
    await ok(['network', 'create', '--config-from', 'cfg6', 'fromcfg6']);
    assert.equal((await ok(['network', 'inspect', '-f', '{{.EnableIPv4}} {{.EnableIPv6}} {{json .IPAM.Config}}', 'fromcfg6'])).trim(), `false true [{"Subnet":"${P}:5::/64","Gateway":"${P}:5::1"}]`);
    const own = await d.docker(['network', 'create', '--config-from', 'cfg6', '--ipv4=false', 'bad']);
    assert.match(own.stderr, /user specified configurations are not supported if the network depends on a configuration network/);
    // wharf's own CLI takes pflag's `--ipv4=false` as well, and refuses what the Docker CLI refuses.
    await cliOk(d, 'wharf', ['network', 'create', '--ipv4=false', '--ipv6', 'viawharf']);
    const [w, dk] = await Promise.all([d.wharf(['network', 'create', 'x', '--ipv4=nope']), d.docker(['network', 'create', 'x', '--ipv4=nope'])]);
    assert.deepEqual([w.code, w.stderr.split('\n')[0]], [dk.code, dk.stderr.split('\n')[0]]);
    assert.equal((await ok(['network', 'inspect', '-f', '{{.EnableIPv4}} {{.EnableIPv6}}', 'viawharf'])).trim(), 'false true');
    await ok(['network', 'rm', 'v6auto', 'oldclient', 'given4', 'same4', 'fromcfg6', 'cfg6', 'viawharf']);
  });

  test('containers get an IPv6 address and route alone, IPv6 hosts lines, and names through 127.0.0.11', async () => {
    port = await freePort();
    const local4 = await freePort();
    await ok(['run', '-d', '--name', 'a1', '--hostname', 'a1host', '--network', 'v6only', '-p', `${port}:80`, '-p', `127.0.0.1:${local4}:80`, 'busybox', 'sh', '-c', HTTPD('only6')]);
    await ok(['run', '-d', '--name', 'a2', '--network', 'v6only', 'busybox', 'sleep', '1000']);
    const ep = JSON.parse(await inspect('a1', '{{json .NetworkSettings.Networks.v6only}}')) as Record<string, unknown>;
    assert.equal(ep.IPAddress, '');
    assert.equal(ep.IPPrefixLen, 0);
    assert.equal(ep.Gateway, '');
    assert.equal(ep.GlobalIPv6Address, `${P}:1::2`);
    assert.equal(ep.IPv6Gateway, `${P}:1::1`);
    assert.match(String(ep.MacAddress), /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    const members = JSON.parse(await ok(['network', 'inspect', '-f', '{{json .Containers}}', 'v6only'])) as Record<string, { Name: string; IPv4Address: string; IPv6Address: string }>;
    assert.deepEqual(Object.values(members).map((m) => `${m.Name} [${m.IPv4Address}] ${m.IPv6Address}`).sort(), [`a1 [] ${P}:1::2/64`, `a2 [] ${P}:1::3/64`]);

    assert.equal(await ok(['exec', 'a1', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']), '', 'no IPv4 address in the container');
    assert.match(await ok(['exec', 'a1', 'ip', '-6', 'route', 'show', 'default']), new RegExp(`default via ${P}:1::1 dev eth0`));
    assert.equal((await ok(['exec', 'a1', 'ip', '-4', 'route'])).trim(), '', 'no IPv4 route');
    const hosts = (await ok(['exec', 'a1', 'cat', '/etc/hosts'])).split('\n');
    assert.deepEqual(hosts.filter((l) => l.includes('a1host')), [`${P}:1::2\ta1host`]);
    assert.match(await ok(['exec', 'a1', 'cat', '/etc/resolv.conf']), /^nameserver 127\.0\.0\.11$/m);

    await waitFor(async () => (await d.docker(['exec', 'a2', 'ping', '-c1', '-W2', `${P}:1::2`])).code === 0, { what: 'a2 pings a1 over IPv6' });
    const aaaa = await ok(['exec', 'a2', 'nslookup', '-type=AAAA', 'a1', '127.0.0.11']);
    assert.match(aaaa, new RegExp(`Address:\\s+${P}:1::2$`, 'm'));
    // The name has no IPv4 address: no A record, and no relay upstream either.
    const a = await d.docker(['exec', 'a2', 'nslookup', '-type=A', 'a1', '127.0.0.11']);
    assert.doesNotMatch(a.stdout, /Address:\s+\d+\.\d+\.\d+\.\d+$/m);
    assert.equal(relayed.length, 0);
    assert.match(await ok(['exec', 'a2', 'wget', '-qO-', 'http://a1/i']), /only6/);
    // An unknown name goes to the daemon's nameservers, here the test's own.
    assert.match(await ok(['exec', 'a2', 'nslookup', '-type=A', UNKNOWN, '127.0.0.11']), /10\.7\.7\.7/);
    assert.ok(relayed.includes(UNKNOWN));
  });

  test('ports: the IPv6 host addresses alone, DNATed to the container; no IPv4 binding or rule', async () => {
    assert.equal(await ok(['port', 'a1']), `80/tcp -> [::]:${port}\n`);
    assert.deepEqual(JSON.parse(await inspect('a1', '{{json .NetworkSettings.Ports}}')), { '80/tcp': [{ HostIp: '::', HostPort: String(port) }] });
    assert.equal(await get('::1', port), 'only6\n');
    await assert.rejects(get('127.0.0.1', port), /ECONNREFUSED/);
    assert.ok((await savedRules('ip6tables-save', `--dport ${port} `)).some((l) => l.includes(`-j DNAT --to-destination [${P}:1::2]:80`)));
    assert.deepEqual(await savedRules('iptables-save', `--dport ${port} `), []);
  });

  test('an internal IPv6-only network relays nothing upstream', async () => {
    await ok(['network', 'create', '--internal', '--ipv4=false', '--ipv6', '--subnet', INTERNAL, 'v6int']);
    await ok(['run', '-d', '--name', 'i1', '--network', 'v6int', 'busybox', 'sleep', '1000']);
    await ok(['run', '-d', '--name', 'i2', '--network', 'v6int', 'busybox', 'sleep', '1000']);
    assert.equal(await inspect('i1', '{{.NetworkSettings.Networks.v6int.IPv6Gateway}}'), `${P}:2::1`);
    assert.match(await ok(['exec', 'i2', 'nslookup', '-type=AAAA', 'i1', '127.0.0.11']), new RegExp(`Address:\\s+${P}:2::2$`, 'm'));
    const before = relayed.length;
    const out = await d.docker(['exec', 'i2', 'nslookup', '-type=A', UNKNOWN, '127.0.0.11']);
    assert.doesNotMatch(out.stdout, /10\.7\.7\.7/);
    assert.equal(relayed.length, before, 'nothing relayed from an internal network');
    await ok(['rm', '-f', 'i1', 'i2']);
    await ok(['network', 'rm', 'v6int']);
  });

  test('connect and disconnect: an IPv4 container joins the IPv6-only network, then keeps it alone', async () => {
    await ok(['network', 'create', 'n4']);
    port4 = await freePort();
    await ok(['run', '-d', '--name', 'b1', '--network', 'n4', '-p', `${port4}:80`, 'busybox', 'sh', '-c', HTTPD('moved')]);
    assert.equal(await ok(['port', 'b1']), `80/tcp -> 0.0.0.0:${port4}\n80/tcp -> [::]:${port4}\n`);
    await ok(['network', 'connect', 'v6only', 'b1']);
    assert.equal(await inspect('b1', '{{.NetworkSettings.Networks.v6only.GlobalIPv6Address}}'), `${P}:1::4`);
    assert.equal(await inspect('b1', '{{.NetworkSettings.Networks.v6only.IPAddress}}'), '');
    assert.match(await ok(['exec', 'b1', 'ip', '-6', 'route', 'show', 'default']), new RegExp(`default via ${P}:1::1 dev eth1`));
    assert.ok((await ok(['exec', 'b1', 'cat', '/etc/hosts'])).includes(`${P}:1::4\t`), 'the new address in /etc/hosts');
    assert.match(await ok(['exec', 'b1', 'nslookup', '-type=AAAA', 'a1', '127.0.0.11']), new RegExp(`Address:\\s+${P}:1::2$`, 'm'));
    await waitFor(async () => (await get('::1', port4).catch(() => '')) === 'moved\n', { what: '[::]:P reaches b1' });

    // The IPv4 network leaves: the container is on the IPv6-only one alone, its names still answered inside its namespace.
    await ok(['network', 'disconnect', 'n4', 'b1']);
    assert.equal((await ok(['exec', 'b1', 'ip', '-4', 'route'])).trim(), '');
    assert.match(await ok(['exec', 'b1', 'nslookup', '-type=AAAA', 'a1', '127.0.0.11']), new RegExp(`Address:\\s+${P}:1::2$`, 'm'));
    assert.equal(await ok(['port', 'b1']), `80/tcp -> [::]:${port4}\n`, 'the IPv4 binding went with the IPv4 gateway');
    await assert.rejects(get('127.0.0.1', port4), /ECONNREFUSED/);
    assert.equal(await get('::1', port4), 'moved\n');
    // And back: the IPv4 binding returns.
    await ok(['network', 'connect', 'n4', 'b1']);
    await waitFor(async () => (await get('127.0.0.1', port4).catch(() => '')) === 'moved\n', { what: '0.0.0.0:P reaches b1 again' });
  });

  test('a daemon restart keeps the network, the addresses, the names inside the namespace and the ports', async () => {
    const before6 = (await savedRules('ip6tables-save', bridge)).sort();
    await d.restart();
    assert.equal((await ok(['network', 'inspect', '-f', '{{.EnableIPv4}} {{len .IPAM.Config}}', 'v6only'])).trim(), 'false 1');
    assert.equal(await inspect('a1', '{{.NetworkSettings.Networks.v6only.GlobalIPv6Address}}'), `${P}:1::2`);
    assert.deepEqual((await savedRules('ip6tables-save', bridge)).sort(), before6);
    assert.deepEqual(await savedRules('iptables-save', bridge), []);
    assert.match(await ok(['exec', 'a2', 'nslookup', '-type=AAAA', 'a1', '127.0.0.11']), new RegExp(`Address:\\s+${P}:1::2$`, 'm'));
    assert.equal(await get('::1', port), 'only6\n');
    await ok(['run', '-d', '--name', 'a3', '--network', 'v6only', 'busybox', 'sleep', '1000']);
    assert.equal(await inspect('a3', '{{.NetworkSettings.Networks.v6only.GlobalIPv6Address}}'), `${P}:1::5`, 'leases survive the restart');
  });

  test('removal leaves no rule, link or listener', async () => {
    await ok(['rm', '-f', 'a1', 'a2', 'a3', 'b1']);
    await ok(['network', 'rm', 'v6only', 'n4']);
    assert.equal((await runCommand('ip', ['link', 'show', bridge])).code, 1, 'the bridge is gone');
    assert.deepEqual((await savedRules('iptables-save', prefix)).sort(), base4.sort());
    assert.deepEqual((await savedRules('ip6tables-save', prefix)).sort(), base6.sort());
    await assert.rejects(get('::1', port), /ECONNREFUSED/);
  });

  test('macvlan: an IPv6-only network, and one with no address family at all', async () => {
    for (const args of [['link', 'add', PARENT, 'type', 'veth', 'peer', 'name', PEER], ['link', 'set', PARENT, 'up'], ['link', 'set', PEER, 'up']]) {
      const res = await runCommand('ip', args);
      assert.equal(res.code, 0, res.stderr);
    }
    await ok(['network', 'create', '-d', 'macvlan', '--ipv4=false', '--ipv6', '--subnet', MACVLAN, '-o', `parent=${PARENT}`, 'mv6']);
    assert.equal((await ok(['network', 'inspect', '-f', '{{.EnableIPv4}} {{json .IPAM.Config}}', 'mv6'])).trim(), `false [{"Subnet":"${MACVLAN}","Gateway":"${P}:3::1"}]`);
    await ok(['run', '-d', '--name', 'm1', '--network', 'mv6', 'busybox', 'sleep', '1000']);
    assert.equal(await inspect('m1', '{{.NetworkSettings.Networks.mv6.IPAddress}}|{{.NetworkSettings.Networks.mv6.GlobalIPv6Address}}|{{.NetworkSettings.Networks.mv6.IPv6Gateway}}'), `|${P}:3::2|${P}:3::1`);
    assert.equal(await ok(['exec', 'm1', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']), '');
    assert.match(await ok(['exec', 'm1', 'ip', '-6', 'route', 'show', 'default']), new RegExp(`default via ${P}:3::1 dev eth0`));
    const out = await ok(['run', '--rm', '--network', 'mv6', 'busybox', 'sh', '-c', `nslookup -type=AAAA m1 127.0.0.11 && ping -c1 -W5 ${P}:3::2`]);
    assert.match(out, new RegExp(`Address:\\s+${P}:3::2$`, 'm'));
    assert.match(out, /1 packets received/);

    // Neither family: libnetwork's macvlan driver takes it, and its endpoints have no address.
    await ok(['network', 'create', '-d', 'macvlan', '--ipv4=false', '-o', `parent=${PARENT}`, 'mvnone']);
    assert.equal((await ok(['network', 'inspect', '-f', '{{.EnableIPv4}} {{.EnableIPv6}} {{json .IPAM.Config}}', 'mvnone'])).trim(), 'false false null');
    const bare = await ok(['run', '--rm', '--network', 'mvnone', 'busybox', 'sh', '-c', 'ip -o addr show dev eth0; ip route; ip -6 route']);
    assert.doesNotMatch(bare, /inet|default|via/, bare);
    await ok(['rm', '-f', 'm1']);
    await ok(['network', 'rm', 'mv6', 'mvnone']);
  });
});
