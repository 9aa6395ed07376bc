/**
 * Networking end to end against a real wharfd, through `wharf` and the real Docker CLI: the default
 * bridge, published ports, user-defined networks with the embedded DNS, shared netns, /etc files,
 * and no veths, leases or iptables rules left behind. Traffic only to 127.0.0.1 and to the
 * containers' own addresses.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, readdir, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { chainPrefixForBridge } from '../../src/network/iptables.js';
import { cliOk, countLeaks, freePort, httpGet, loadBusybox, runCommand, socketJson, socketRequest, startDaemon, waitFor, type Daemon } from './harness.js';

let d: Daemon;
let bridge: string;
let chainPrefix: string;
const octet = 100 + (randomBytes(1)[0]! % 100);
const USER_SUBNET = `10.213.${octet}.0/24`;
const NET = `wn${randomBytes(3).toString('hex')}`;
const HTTPD = 'mkdir -p /www && echo hello-wharf > /www/index.html && exec httpd -f -p 80 -h /www';

const ok = (args: string[]): Promise<string> => cliOk(d, 'wharf', args);

const inspect = async (ref: string, fmt: string) => (await ok(['inspect', '-f', fmt, ref])).trim();

const page = async (port: number) => (await httpGet(port, '/index.html')).body;
const served = (port: number) => async () => (await page(port).catch(() => '')) === 'hello-wharf\n';

/** The wharf bridges (default and user networks) of this daemon, from its network records. */
async function daemonBridges(): Promise<string[]> {
  const dir = join(d.dataRoot, 'network', 'networks');
  const out: string[] = [];
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    const rec = JSON.parse(await readFile(join(dir, f), 'utf8')) as { bridge?: string };
    if (rec.bridge) out.push(rec.bridge);
  }
  return out;
}

async function vethsOnOurBridges(bridges: string[]): Promise<number> {
  const r = await runCommand('ip', ['-o', 'link', 'show', 'type', 'veth']);
  return r.stdout.split('\n').filter((l) => bridges.some((b) => l.includes(` master ${b} `))).length;
}

/** Leases are persisted one endpoint record per leased address. */
const leaseCount = async () => (await readdir(join(d.dataRoot, 'network', 'endpoints')).catch(() => [] as string[])).length;

/** This daemon's rules in iptables and ip6tables. */
async function ruleCount(): Promise<number> {
  let n = 0;
  for (const tool of ['iptables-save', 'ip6tables-save']) {
    const r = await runCommand(tool, []);
    n += r.stdout.split('\n').filter((l) => l.includes(chainPrefix)).length;
  }
  return n;
}

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
  bridge = (JSON.parse(await readFile(d.configFile, 'utf8')) as { bridge: string }).bridge;
  chainPrefix = chainPrefixForBridge(bridge);
});
after(async () => {
  await d?.cleanup();
});

describe('networking', () => {
  let baseVeths = 0;
  let baseLeases = 0;
  let baseRules = 0;
  let allBridges: string[] = [];

  test('default bridge: eth0 in the bridge subnet with a default route, as inspect says', async () => {
    baseVeths = await vethsOnOurBridges([bridge]);
    baseLeases = await leaseCount();
    baseRules = await ruleCount();
    await ok(['run', '-d', '--name', 'b1', 'busybox', 'sh', '-c', 'ip -4 -o addr show dev eth0; ip route; ip link show eth0; echo done; exec sleep 1000']);
    await waitFor(async () => (await d.wharf(['logs', 'b1'])).stdout.includes('done\n'), { what: 'b1 output' });
    const logs = (await d.wharf(['logs', 'b1'])).stdout;
    const ip = await inspect('b1', '{{.NetworkSettings.IPAddress}}');
    const gw = await inspect('b1', '{{.NetworkSettings.Gateway}}');
    const subnet = (await ok(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', 'bridge'])).trim();
    assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
    assert.match(logs, new RegExp(`inet ${ip.replace(/\./g, '\\.')}/(\\d+)`));
    assert.match(logs, new RegExp(`default via ${gw.replace(/\./g, '\\.')} dev eth0`));
    assert.match(logs, /mtu \d+/);
    // the address is inside the bridge subnet
    const [net, bits] = subnet.split('/');
    const toInt = (s: string) => s.split('.').reduce((a, o) => (a << 8) + Number(o), 0) >>> 0;
    const mask = (0xffffffff << (32 - Number(bits))) >>> 0;
    assert.equal((toInt(ip) & mask) >>> 0, toInt(net!), `${ip} in ${subnet}`);
    assert.equal(await inspect('b1', '{{.NetworkSettings.Networks.bridge.IPAddress}}'), ip);
    assert.equal(await vethsOnOurBridges([bridge]), baseVeths + 1);
    // eth0 as Docker's netlink library makes it: the subnet's broadcast address, no transmit
    // queue length (none shown), the MAC inspect reports; and so is the host end on the bridge.
    const brd = (toInt(net!) | (0xffffffff >>> Number(bits))) >>> 0;
    const dotted = [24, 16, 8, 0].map((s) => (brd >>> s) & 255).join('.');
    assert.match(logs, new RegExp(`inet ${ip.replace(/\./g, '\\.')}/${bits} brd ${dotted.replace(/\./g, '\\.')} scope global eth0`));
    const eth0 = logs.split('\n').find((l) => /^\d+: eth0@/.test(l)) ?? '';
    assert.match(eth0, /qdisc noqueue/);
    assert.doesNotMatch(eth0, /qlen/);
    assert.match(logs, new RegExp(`link/ether ${await inspect('b1', '{{.NetworkSettings.MacAddress}}')} `));
    const hostEnd = (await runCommand('ip', ['-o', 'link', 'show', 'master', bridge])).stdout;
    assert.match(hostEnd, /state UP/);
    assert.doesNotMatch(hostEnd, /qlen \d/);
    // The namespace was made as a file before runc joined it: SandboxKey names it, and it is the
    // namespace the container's process lives in.
    const id = await inspect('b1', '{{.Id}}');
    const key = await inspect('b1', '{{.NetworkSettings.SandboxKey}}');
    assert.equal(key, join(d.execRoot, 'netns', id));
    const pid = await inspect('b1', '{{.State.Pid}}');
    const nsOfProcess = await readlink(`/proc/${pid}/ns/net`);
    assert.equal(nsOfProcess, `net:[${(await stat(key)).ino}]`);
  });

  test('-p 127.0.0.1:port:80 serves from the container; wharf port shows it; a taken port fails cleanly', async () => {
    const port = await freePort();
    await ok(['run', '-d', '--name', 'web', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sh', '-c', HTTPD]);
    await waitFor(served(port), { what: 'httpd through the published port' });
    assert.equal(await page(port), 'hello-wharf\n');
    assert.equal(await ok(['port', 'web']), `80/tcp -> 127.0.0.1:${port}\n`);
    assert.equal(await ok(['port', 'web', '80']), `127.0.0.1:${port}\n`);
    assert.equal(await ok(['container', 'port', 'web', '80/tcp']), `127.0.0.1:${port}\n`);
    const none = await d.wharf(['port', 'web', '81']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /No public port '81' published for web/);
    assert.match(await ok(['ps', '--format', '{{.Ports}}', '-f', 'name=web']), new RegExp(`127\\.0\\.0\\.1:${port}->80/tcp`));

    const rulesBefore = await ruleCount();
    assert.ok(rulesBefore > 0, `rules of ${chainPrefix} exist`);
    const vethsBefore = await vethsOnOurBridges([bridge]);
    const leasesBefore = await leaseCount();
    const dup = await d.wharf(['run', '-d', '--name', 'web2', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sh', '-c', HTTPD]);
    assert.equal(dup.code, 125, dup.stderr);
    assert.match(dup.stderr, new RegExp(`Bind for 127\\.0\\.0\\.1:${port} failed: port is already allocated`));
    assert.notEqual(await inspect('web2', '{{.State.Status}}'), 'running');
    assert.equal(await inspect('web2', '{{.State.Running}}'), 'false');
    assert.equal(await ruleCount(), rulesBefore, 'no extra iptables rules');
    assert.equal(await vethsOnOurBridges([bridge]), vethsBefore, 'no extra veth');
    assert.equal(await leaseCount(), leasesBefore, 'no extra lease');
    assert.equal(await page(port), 'hello-wharf\n', 'the first container still serves');
    await ok(['rm', '-f', 'web2']);
  });

  test("a container reaches its own published port through its gateway (the bridge port's hairpin)", async () => {
    const port = await freePort();
    await ok(['run', '-d', '--name', 'hairpin', '-p', `${port}:80`, 'busybox', 'sh', '-c', HTTPD]);
    await waitFor(served(port), { what: 'httpd through the published port' });
    const gw = await inspect('hairpin', '{{.NetworkSettings.Gateway}}');
    // DNAT sends the packets back to the container they came from: the bridge must send them out
    // of the port they came in by. busybox's own wget -T crashes in this build; timeout bounds it.
    const fetch = (args: string[]) => d.wharf([...args, 'timeout', '5', 'wget', '-q', '-O', '-', `http://${gw}:${port}/index.html`]);
    const self = await fetch(['exec', 'hairpin']);
    assert.equal(self.stdout, 'hello-wharf\n', self.stderr);
    const sameNetns = await fetch(['run', '--rm', '--network', 'container:hairpin', 'busybox']);
    assert.equal(sameNetns.stdout, 'hello-wharf\n', sameNetns.stderr);
    const other = await fetch(['run', '--rm', 'busybox']);
    assert.equal(other.stdout, 'hello-wharf\n', other.stderr);
    await ok(['rm', '-f', 'hairpin']);
  });

  test('user network: create/ls/inspect; containers resolve each other by name and alias; rm with endpoints fails', async () => {
    const id = (await ok(['network', 'create', '--subnet', USER_SUBNET, '--label', 'purpose=test', '--ipam-opt', 'k=v', NET])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const ls = await ok(['network', 'ls']);
    assert.match(ls.split('\n')[0]!, /^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/);
    assert.match(ls, new RegExp(`^${id.slice(0, 12)}\\s+${NET}\\s+bridge\\s+local$`, 'm'));
    assert.match(ls, /^\w{12}\s+bridge\s+bridge\s+local$/m);
    assert.equal(await ok(['network', 'ls', '-q', '--no-trunc', '-f', `name=${NET}`]), `${id}\n`);
    assert.equal(await ok(['network', 'ls', '-f', 'label=purpose=test', '--format', '{{.Name}} {{.Driver}} {{.Label "purpose"}}']), `${NET} bridge test\n`);
    assert.equal((await ok(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}} {{.Internal}} {{json .IPAM.Options}}', NET])).trim(), `${USER_SUBNET} false {"k":"v"}`);

    await ok(['run', '-d', '--name', 'n1', '--hostname', 'n1host', '--network', NET, '--network-alias', 'svc', 'busybox', 'sleep', '1000']);
    await ok(['run', '-d', '--name', 'n2', '--network', NET, 'busybox', 'sleep', '1000']);
    const ip1 = await inspect('n1', `{{(index .NetworkSettings.Networks "${NET}").IPAddress}}`);
    assert.ok(ip1.startsWith(`10.213.${octet}.`), ip1);
    const members = (await ok(['network', 'inspect', '-f', '{{range .Containers}}{{.Name}} {{end}}', NET])).trim().split(' ').sort();
    assert.deepEqual(members, ['n1', 'n2']);

    // The hostname is one of the endpoint's DNS names too (Docker's order: name, aliases, short ID, hostname).
    const n1Id = (await inspect('n1', '{{.Id}}')).slice(0, 12);
    const dnsNames = await d.docker(['inspect', '-f', `{{json (index .NetworkSettings.Networks "${NET}").DNSNames}}`, 'n1']);
    assert.equal(dnsNames.stdout.trim(), JSON.stringify(['n1', 'svc', n1Id, 'n1host']), dnsNames.stderr);
    const r = await d.wharf(['run', '--rm', '--network', NET, 'busybox', 'sh', '-c', 'nslookup n1 && nslookup svc && nslookup n1host && ping -c1 -W2 n1 && ping -c1 -W2 svc']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const ipRe = ip1.replace(/\./g, '\\.');
    assert.match(r.stdout, new RegExp(`Name:\\s+n1[\\s\\S]*Address:\\s+${ipRe}`));
    assert.match(r.stdout, new RegExp(`Name:\\s+svc[\\s\\S]*Address:\\s+${ipRe}`));
    assert.match(r.stdout, new RegExp(`Name:\\s+n1host[\\s\\S]*Address:\\s+${ipRe}`));
    assert.match(r.stdout, new RegExp(`PING n1 \\(${ipRe}\\)[\\s\\S]*1 packets received`));
    assert.match(r.stdout, new RegExp(`PING svc \\(${ipRe}\\)`));

    const rm = await d.wharf(['network', 'rm', NET]);
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, new RegExp(`Error response from daemon: error while removing network: network ${NET} id ${id} has active endpoints`));
    assert.equal(rm.stdout, '');
  });

  test('connect --alias / disconnect on a running container', async () => {
    const bridgeIp = await inspect('b1', '{{.NetworkSettings.IPAddress}}');
    const b1Host = (await inspect('b1', '{{.Config.Hostname}}'));
    await ok(['network', 'connect', '--alias', 'extra', NET, 'b1']);
    const ip = await inspect('b1', `{{(index .NetworkSettings.Networks "${NET}").IPAddress}}`);
    assert.ok(ip.startsWith(`10.213.${octet}.`), ip);
    // As libnetwork's join: the new address's line in /etc/hosts, and the embedded DNS in place of
    // the host's resolvers for a container that had the default bridge alone.
    const etc = await ok(['exec', 'b1', 'sh', '-c', 'cat /etc/hosts; echo ---; cat /etc/resolv.conf']);
    assert.match(etc, new RegExp(`^${bridgeIp.replace(/\./g, '\\.')}\t${b1Host}\n${ip.replace(/\./g, '\\.')}\t${b1Host}$`, 'm'), etc);
    assert.match(etc.split('---\n')[1]!, /^nameserver 127\.0\.0\.11$/m);
    assert.match(await ok(['exec', 'b1', 'nslookup', 'n1']), /Name:\s+n1/);
    const r = await d.wharf(['run', '--rm', '--network', NET, 'busybox', 'ping', '-c1', '-W2', 'extra']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, new RegExp(`PING extra \\(${ip.replace(/\./g, '\\.')}\\)`));
    await ok(['network', 'disconnect', NET, 'b1']);
    const hosts = await ok(['exec', 'b1', 'cat', '/etc/hosts']);
    assert.doesNotMatch(hosts, new RegExp(`^${ip.replace(/\./g, '\\.')}\t`, 'm'), hosts);
    assert.match(hosts, new RegExp(`^${bridgeIp.replace(/\./g, '\\.')}\t${b1Host}$`, 'm'), hosts);
    await ok(['network', 'connect', '--ip', `10.213.${octet}.200`, NET, 'b1']);
    assert.equal(await inspect('b1', `{{(index .NetworkSettings.Networks "${NET}").IPAddress}}`), `10.213.${octet}.200`);
    const taken = await d.wharf(['run', '--rm', '--network', NET, '--ip', `10.213.${octet}.200`, 'busybox', 'true']);
    assert.equal(taken.code, 125);
    assert.match(taken.stderr, /Address already in use/);
    await ok(['network', 'disconnect', NET, 'b1']);
    assert.equal(await inspect('b1', `{{if index .NetworkSettings.Networks "${NET}"}}yes{{else}}no{{end}}`), 'no');
  });

  test('an endpoint gets the interface name it asks for; lo or a bad name fails with the name', async () => {
    await ok(['run', '-d', '--name', 'ifn', 'busybox', 'sleep', '1000']);
    await d.docker(['network', 'connect', '--driver-opt', 'com.docker.network.endpoint.ifname=myif0', NET, 'ifn']).then((r) => assert.equal(r.code, 0, r.stderr));
    const ip = await inspect('ifn', `{{(index .NetworkSettings.Networks "${NET}").IPAddress}}`);
    assert.match(await ok(['exec', 'ifn', 'ip', '-o', '-4', 'addr', 'show', 'dev', 'myif0']), new RegExp(`inet ${ip.replace(/\./g, '\\.')}/`));
    await ok(['network', 'disconnect', NET, 'ifn']);
    // The kernel counts bytes: eight two-byte letters are one too many.
    for (const bad of ['lo', 'eth0', 'a/b', 'way-too-long-name0', '\u00e9'.repeat(8)]) {
      const r = await d.docker(['network', 'connect', '--driver-opt', `com.docker.network.endpoint.ifname=${bad}`, NET, 'ifn']);
      assert.equal(r.code, 1, bad);
      assert.match(r.stderr, new RegExp(`error renaming interface to "${bad}"`), r.stderr);
      assert.equal(await inspect('ifn', `{{if index .NetworkSettings.Networks "${NET}"}}yes{{else}}no{{end}}`), 'no', bad);
    }
    // At start: create takes the request, the start refuses it and the container stays created.
    const id = (await ok(['create', '--network', `name=${NET},driver-opt=com.docker.network.endpoint.ifname=lo`, 'busybox', 'true'])).trim();
    const r = await d.docker(['start', id]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error renaming interface to "lo": file exists/);
    assert.equal(await inspect(id, '{{.State.Status}}'), 'created');
    await ok(['rm', '-f', 'ifn', id]);
  });

  test('network API refusals as moby answers them', async () => {
    for (const name of ['default', 'container', 'container:abc']) {
      const r = await socketRequest(d.socket, 'POST', '/v1.47/networks/create', { body: { Name: name } });
      assert.equal(r.status, 403, name);
      assert.match(r.body, /is a pre-defined network and cannot be created/);
    }
    const outside = await socketRequest(d.socket, 'POST', '/v1.47/containers/create', {
      body: { Image: 'busybox', HostConfig: { NetworkMode: NET }, NetworkingConfig: { EndpointsConfig: { [NET]: { IPAMConfig: { IPv4Address: '10.99.99.99' } } } } },
    });
    assert.equal(outside.status, 400);
    assert.match(outside.body, /no configured subnet or ip-range contain the IP address 10\.99\.99\.99/);
    await ok(['run', '-d', '--name', 'nc1', 'busybox', 'sleep', '1000']);
    const conn = await socketRequest(d.socket, 'POST', `/v1.47/networks/${NET}/connect`, { body: { Container: 'nc1', EndpointConfig: { IPAMConfig: { IPv4Address: '10.99.99.99' } } } });
    assert.equal(conn.status, 400);
    const disc = await socketRequest(d.socket, 'POST', `/v1.47/networks/${NET}/disconnect`, { body: { Container: 'nc1' } });
    assert.equal(disc.status, 500);
    assert.match(disc.body, /is not connected to network/);
    await ok(['rm', '-f', 'nc1']);

    // A stopped container: a connect to a network that does not exist yet is recorded, its start
    // fails on it until the network is made; a disconnect from a network it is not on is refused.
    const later = `${NET}l`;
    await ok(['create', '--name', 'nc2', 'busybox', 'true']);
    await ok(['network', 'connect', later, 'nc2']);
    const early = await d.docker(['start', 'nc2']);
    assert.equal(early.code, 1);
    assert.match(early.stderr, new RegExp(`network ${later} not found`));
    await ok(['network', 'create', later]);
    await ok(['start', 'nc2']);
    await ok(['wait', 'nc2']);
    await ok(['network', 'disconnect', later, 'nc2']);
    const again = await d.docker(['network', 'disconnect', later, 'nc2']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /is not connected to network/);
    await ok(['rm', 'nc2']);
    await ok(['network', 'rm', later]);
    // Its network mode is still checked first: a none container joins nothing, existing or not.
    await ok(['create', '--name', 'nc3', '--network', 'none', 'busybox', 'true']);
    const none = await d.docker(['network', 'connect', later, 'nc3']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /one of the networks in private \(none\) mode/);
    await ok(['rm', 'nc3']);

    // An ID prefix that more than one network starts with.
    const made: string[] = [];
    let shared: string | undefined;
    while (!shared && made.length < 17) {
      made.push((await ok(['network', 'create', `${NET}p${made.length}`])).trim());
      const firsts = (await ok(['network', 'ls', '-q', '--no-trunc'])).split('\n').filter(Boolean).map((id) => id[0]!);
      shared = firsts.find((ch, i) => firsts.indexOf(ch) !== i);
    }
    assert.ok(shared, 'two networks share a first digit');
    const amb = await socketRequest(d.socket, 'GET', `/v1.47/networks/${shared}`);
    assert.equal(amb.status, 400);
    assert.match(amb.body, new RegExp(`network ${shared} is ambiguous \\(\\d+ matches found based on ID prefix\\)`));
    for (const id of made) await ok(['network', 'rm', id]);
  });

  test('enable_icc=false: containers on the network reach each other only through published ports', async () => {
    const net = `${NET}i`;
    await ok(['network', 'create', '-o', 'com.docker.network.bridge.enable_icc=false', net]);
    const port = await freePort();
    await ok(['run', '-d', '--name', 'icc-srv', '--network', net, '-p', `${port}:80`, 'busybox', 'sh', '-c', HTTPD]);
    await ok(['run', '-d', '--name', 'icc-cli', '--network', net, 'busybox', 'sleep', '1000']);
    const srv = await inspect('icc-srv', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`);
    const gw = await inspect('icc-srv', `{{(index .NetworkSettings.Networks "${net}").Gateway}}`);
    // busybox's own wget -T crashes in this build; its timeout applet bounds the direct attempt.
    const fetch = (url: string) => d.wharf(['exec', 'icc-cli', 'timeout', '3', 'wget', '-q', '-O', '-', url]);
    await waitFor(async () => (await fetch(`http://${gw}:${port}/index.html`)).stdout === 'hello-wharf\n', { what: 'the published port through the gateway address' });
    const direct = await fetch(`http://${srv}/index.html`);
    assert.notEqual(direct.code, 0, `reached ${srv} directly: ${direct.stdout}`);
    await ok(['rm', '-f', 'icc-srv', 'icc-cli']);
    await ok(['network', 'rm', net]);
  });

  test('bridge options are checked as moby checks them', async () => {
    const create = (opt: string) => d.docker(['network', 'create', '-o', opt, `${NET}x`]);
    for (const [opt, re] of [
      ['com.docker.network.driver.mtu=abc', /abc/],
      ['com.docker.network.driver.mtu=-5', /-5/],
      ['com.docker.network.driver.mtu=50', /invalid argument/],
      ['com.docker.network.bridge.gateway_mode_ipv4=bogus', /unknown gateway mode/],
      ['com.docker.network.bridge.gateway_mode_ipv4=isolated', /gateway mode 'isolated' can only be used for an internal network/],
      ['com.docker.network.bridge.enable_icc=maybe', /enable_icc/],
    ] as const) {
      const r = await create(opt);
      assert.equal(r.code, 1, opt);
      assert.match(r.stderr, re, opt);
    }
    assert.ok(!(await ok(['network', 'ls', '--format', '{{.Name}}'])).split('\n').includes(`${NET}x`), 'nothing half-created');
    await ok(['network', 'create', '-o', 'com.docker.network.driver.mtu=1280', `${NET}m`]);
    assert.match(await ok(['run', '--rm', '--network', `${NET}m`, 'busybox', 'ip', 'link', 'show', 'eth0']), / mtu 1280 /);
    await ok(['network', 'rm', `${NET}m`]);
  });

  test('--config-only and --config-from: a network takes another one\'s configuration', async () => {
    const [co, cf] = [`${NET}co`, `${NET}cf`];
    const sub = `10.216.${octet}`;
    await ok(['network', 'create', '--config-only', '--subnet', `${sub}.0/24`, '--gateway', `${sub}.254`, '-o', 'com.docker.network.bridge.enable_icc=true', '--label', 'l=1', co]);
    assert.equal(await ok(['network', 'inspect', '-f', '{{.Driver}} {{.ConfigOnly}} {{json .Options}} {{json .Labels}}', co]), 'null true {"com.docker.network.bridge.enable_icc":"true"} {"l":"1"}\n');
    await ok(['network', 'create', '--config-from', co, cf]);
    assert.equal(
      await ok(['network', 'inspect', '-f', '{{.Driver}} {{.ConfigOnly}} {{.ConfigFrom.Network}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{json .Labels}}', cf]),
      `bridge false ${co} ${sub}.0/24 ${sub}.254 {"l":"1"}\n`,
    );
    assert.equal(await ok(['run', '--rm', '--network', cf, 'busybox', 'sh', '-c', 'ip -4 -o addr show eth0 | cut -d" " -f7']), `${sub}.1/24\n`);
    const refusals: Array<[string[], RegExp]> = [
      [['network', 'create', '--config-from', co, '--subnet', `10.217.${octet}.0/24`, `${NET}c2`], /user specified configurations are not supported if the network depends on a configuration network/],
      [['network', 'create', '--config-from', 'nosuchconfig', `${NET}c3`], /configuration network "nosuchconfig" does not exist/],
      [['network', 'rm', co], new RegExp(`configuration network "${co}" is in use`)],
      [['run', '--rm', '--network', co, 'busybox', 'true'], /cannot create endpoint on configuration-only network/],
    ];
    for (const [args, re] of refusals) {
      const r = await d.docker(args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, re, args.join(' '));
    }
    await ok(['network', 'prune', '-f']);
    const left = (await ok(['network', 'ls', '--format', '{{.Name}}'])).split('\n');
    assert.ok(left.includes(co) && !left.includes(cf), left.join(' '));
    await ok(['network', 'rm', co]);
  });

  test("FORWARD jumps to DOCKER-USER first, and an operator's DROP there stops a published port", async () => {
    const forward = (await runCommand('iptables', ['-w', '-S', 'FORWARD'])).stdout.split('\n').filter((l) => l.startsWith('-A FORWARD'));
    assert.equal(forward[0], '-A FORWARD -j DOCKER-USER', forward.join('\n'));
    assert.ok(forward.indexOf(`-A FORWARD -j ${chainPrefix}-FORWARD`) > 0, forward.join('\n'));
    const port = await freePort();
    await ok(['run', '-d', '--name', 'du-srv', '--network', NET, '-p', `${port}:80`, 'busybox', 'sh', '-c', HTTPD]);
    const srv = await inspect('du-srv', `{{(index .NetworkSettings.Networks "${NET}").IPAddress}}`);
    const gw = await inspect('du-srv', `{{(index .NetworkSettings.Networks "${NET}").Gateway}}`);
    // From the default bridge's b1, through an address of the host: forwarded, so FORWARD sees it.
    const fetch = () => d.wharf(['exec', 'b1', 'timeout', '3', 'wget', '-q', '-O', '-', `http://${gw}:${port}/index.html`]);
    await waitFor(async () => (await fetch()).stdout === 'hello-wharf\n', { what: 'the published port from another network' });
    const rule = ['-d', `${srv}/32`, '-p', 'tcp', '--dport', '80', '-j', 'DROP'];
    await runCommand('iptables', ['-w', '-I', 'DOCKER-USER', ...rule]);
    try {
      const r = await fetch();
      assert.notEqual(r.code, 0, `reached through the DROP: ${r.stdout}`);
    } finally {
      await runCommand('iptables', ['-w', '-D', 'DOCKER-USER', ...rule]);
    }
    assert.equal((await fetch()).stdout, 'hello-wharf\n');
    await ok(['rm', '-f', 'du-srv']);
  });

  test('network inspect lists the containers on the host and none networks', async () => {
    await ok(['run', '-d', '--name', 'on-none', '--network', 'none', 'busybox', 'sleep', '1000']);
    await ok(['run', '-d', '--name', 'on-host', '--network', 'host', 'busybox', 'sleep', '1000']);
    for (const [net, name] of [['none', 'on-none'], ['host', 'on-host']] as const) {
      const members = JSON.parse(await ok(['network', 'inspect', '-f', '{{json .Containers}}', net])) as Record<string, { Name: string; EndpointID: string; IPv4Address: string }>;
      const id = await inspect(name, '{{.Id}}');
      assert.equal(members[id]?.Name, name, JSON.stringify(members));
      assert.equal(members[id]?.EndpointID, await inspect(name, `{{.NetworkSettings.Networks.${net}.EndpointID}}`));
      assert.equal(members[id]?.IPv4Address, '');
    }
    await ok(['rename', 'on-none', 'on-none2']);
    assert.match(await ok(['network', 'inspect', '-f', '{{range .Containers}}{{.Name}} {{end}}', 'none']), /\bon-none2\b/);
    await ok(['rm', '-f', 'on-none2', 'on-host']);
    assert.equal(await ok(['network', 'inspect', '-f', '{{len .Containers}}', 'none']), '0\n');
  });

  test('a container on two networks resolves names on both, and name.network on each; leaving either keeps its names', async () => {
    const net2 = `${NET}b`;
    await ok(['network', 'create', net2]);
    await ok(['run', '-d', '--name', 'm2', '--network', net2, 'busybox', 'top']);
    await ok(['run', '-d', '--name', 'm1', '--network', NET, 'busybox', 'top']);
    const resolves = async (name: string) => (await d.wharf(['exec', 'm1', 'nslookup', name, '127.0.0.11'])).code === 0;
    assert.equal(await resolves('m2'), false);
    await ok(['network', 'connect', net2, 'm1']);
    const ip2 = await inspect('m2', `{{(index .NetworkSettings.Networks "${net2}").IPAddress}}`);
    const r = await d.wharf(['exec', 'm1', 'ping', '-c1', '-W2', 'm2']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, new RegExp(`PING m2 \\(${ip2.replace(/\./g, '\\.')}\\)`));
    assert.equal(await resolves(`m2.${net2}`), true);
    assert.equal(await resolves(`m1.${NET}`), true);
    assert.equal(await resolves(`m2.${NET}`), false);
    await ok(['network', 'disconnect', net2, 'm1']);
    assert.equal(await resolves('m2'), false);
    // Leaving the network whose listener 127.0.0.11 went to does not leave the container without
    // names: the other network's listener answers (Docker's resolver is in the namespace itself).
    await ok(['network', 'connect', net2, 'm1']);
    await ok(['network', 'disconnect', NET, 'm1']);
    assert.equal(await resolves('m2'), true);
    assert.equal(await resolves(`m1.${net2}`), true);
    await ok(['restart', '-t', '0', 'm1']);
    assert.equal(await resolves('m2'), true);
    await ok(['rm', '-f', 'm1', 'm2']);
    await ok(['network', 'rm', net2]);
  });

  test('a bridge keeps the MAC address it was given while containers come and go', async () => {
    const gw = await ok(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', NET]);
    const dev = (await runCommand('ip', ['-o', '-4', 'addr', 'show', 'to', gw.trim()])).stdout.split(/\s+/)[1]!;
    const sys = async (f: string) => (await readFile(`/sys/class/net/${dev}/${f}`, 'utf8')).trim();
    // Set (3), not random (1): an unset bridge MAC follows its lowest port's and changes under the
    // other containers' neighbour entries when a container leaves.
    assert.equal(await sys('addr_assign_type'), '3');
    const mac = await sys('address');
    for (let i = 0; i < 3; i++) {
      await ok(['run', '-d', '--name', `macx${i}`, '--network', NET, 'busybox', 'sleep', '100']);
      assert.equal(await sys('address'), mac);
    }
    await ok(['rm', '-f', 'macx0', 'macx1', 'macx2']);
    await waitFor(async () => (await readdir(`/sys/class/net/${dev}/brif`)).length <= 2, { what: 'the veths to go' });
    assert.equal(await sys('address'), mac);
  });

  test('rename: network inspect and the DNS answer the new name, aliases stay', async () => {
    await ok(['run', '-d', '--name', 'r1', '--network', NET, '--network-alias', 'r1alias', 'busybox', 'top']);
    await ok(['run', '-d', '--name', 'r2', '--network', NET, 'busybox', 'top']);
    const id = await inspect('r1', '{{.Id}}');
    await ok(['rename', 'r1', 'r1new']);
    const listed = await ok(['network', 'inspect', '-f', `{{(index .Containers "${id}").Name}}`, NET]);
    assert.equal(listed.trim(), 'r1new');
    const dnsNames = await inspect('r1new', `{{json (index .NetworkSettings.Networks "${NET}").DNSNames}}`);
    assert.equal(dnsNames, JSON.stringify(['r1new', 'r1alias', id.slice(0, 12)]));
    const resolves = async (name: string) => (await d.wharf(['exec', 'r2', 'nslookup', name, '127.0.0.11'])).code === 0;
    assert.equal(await resolves('r1new'), true);
    assert.equal(await resolves('r1alias'), true);
    assert.equal(await resolves('r1'), false);
    await ok(['rm', '-f', 'r1new', 'r2']);
  });

  test('--network container:<id> shares the netns', async () => {
    const id = await inspect('n1', '{{.Id}}');
    const ip = await inspect('n1', `{{(index .NetworkSettings.Networks "${NET}").IPAddress}}`);
    const out = await ok(['run', '--rm', '--network', `container:${id}`, 'busybox', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
    assert.match(out, new RegExp(`inet ${ip.replace(/\./g, '\\.')}/24`));
    // As Docker: the container named at create is recorded by its ID.
    const named = (await ok(['create', '--network', 'container:n1', 'busybox', 'true'])).trim();
    assert.equal(await inspect(named, '{{.HostConfig.NetworkMode}}'), `container:${id}`);
    await ok(['rm', named]);
  });

  test('--add-host host-gateway and --dns reach /etc/hosts and /etc/resolv.conf', async () => {
    const gw = (await ok(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'bridge'])).trim();
    const out = await ok(['run', '--rm', '--add-host', 'h:host-gateway', '--add-host', 'other:10.1.2.3', '--dns', '10.0.0.53', 'busybox', 'sh', '-c', 'cat /etc/hosts; echo ---; cat /etc/resolv.conf']);
    const [hosts, resolv] = out.split('---\n');
    assert.match(hosts!, new RegExp(`^${gw.replace(/\./g, '\\.')}\\s+h$`, 'm'));
    assert.match(hosts!, /^10\.1\.2\.3\s+other$/m);
    assert.match(resolv!, /^nameserver 10\.0\.0\.53$/m);
    assert.doesNotMatch(resolv!, /^nameserver (?!10\.0\.0\.53)/m);
  });

  test("bad input gets Docker's errors", async () => {
    const overlap = await d.wharf(['network', 'create', '--subnet', `10.213.${octet}.128/25`, `${NET}o`]);
    assert.equal(overlap.code, 1);
    assert.match(overlap.stderr, /^Error response from daemon: .*overlap/m);
    const bad = await d.wharf(['network', 'create', '--subnet', '10.300.0.0/24', `${NET}b`]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid/i);
    const gw = await d.wharf(['network', 'create', '--gateway', '10.9.0.1', `${NET}g`]);
    assert.equal(gw.code, 1);
    assert.equal(gw.stderr, 'every ip-range or gateway must have a corresponding subnet\n');
    const missing = await d.wharf(['network', 'connect', 'nosuchnet', 'n1']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'Error response from daemon: network nosuchnet not found\n');
    // Found missing at start, as in Docker: a 404 from create would make the CLI pull the image.
    const before = (await ok(['ps', '-aq'])).split('\n').length;
    const mode = await d.docker(['run', '--rm', '--network', 'nosuchnet', 'busybox', 'true']);
    assert.equal(mode.code, 125);
    assert.equal(mode.stderr, "docker: Error response from daemon: network nosuchnet not found\n\nRun 'docker run --help' for more information\n");
    const joined = await d.docker(['run', '--rm', '--network', 'container:nosuch', 'busybox', 'true']);
    assert.equal(joined.code, 125);
    assert.match(joined.stderr, /^docker: Error response from daemon: No such container: nosuch\n/);
    assert.equal((await ok(['ps', '-aq'])).split('\n').length, before, 'the --rm containers are gone');
    const kept = (await ok(['create', '--network', 'nosuchnet', 'busybox', 'true'])).trim();
    assert.equal((await d.wharf(['start', kept])).code, 1);
    assert.equal(await ok(['inspect', '-f', '{{.State.Status}} {{.State.Error}}', kept]), 'created network nosuchnet not found\n');
    await ok(['rm', kept]);
    const rmf = await d.wharf(['network', 'rm', '-f', 'nosuchnet']);
    assert.deepEqual([rmf.code, rmf.stdout, rmf.stderr], [0, '', '']);
    const rm = await d.wharf(['network', 'rm', 'nosuchnet', 'nosuch2']);
    assert.equal(rm.code, 1);
    assert.equal(rm.stderr, 'Error response from daemon: network nosuchnet not found\nError response from daemon: network nosuch2 not found\nexit status 1\n');
    const ls = (await ok(['network', 'ls', '--format', '{{.Name}}'])).split('\n');
    assert.ok(!ls.some((n) => n.startsWith(`${NET}o`) || n.startsWith(`${NET}b`) || n.startsWith(`${NET}g`)), 'nothing half-created');
  });

  test('after rm -f and network rm: no veth on our bridges, leases and rules back', async () => {
    allBridges = await daemonBridges();
    assert.ok(allBridges.length >= 2, allBridges.join(','));
    await ok(['rm', '-f', 'b1', 'web', 'n1', 'n2']);
    assert.equal(await ok(['network', 'rm', NET]), `${NET}\n`);
    assert.equal(await vethsOnOurBridges(allBridges), baseVeths);
    assert.equal(await leaseCount(), baseLeases);
    const links = await runCommand('ip', ['-o', 'link', 'show']);
    for (const b of allBridges.filter((b) => b !== bridge)) assert.ok(!links.stdout.includes(` ${b}:`), `bridge ${b} removed`);
    const rules = await runCommand('iptables-save', []);
    assert.ok(!rules.stdout.includes(USER_SUBNET), 'no rule of the user network left');
    assert.equal(await ruleCount(), baseRules, 'iptables rules of our chains back to the start');
    const leaks = await countLeaks(d);
    assert.deepEqual([leaks.mounts, leaks.conmon, leaks.runc], [0, 0, 0], JSON.stringify(leaks.details));
    assert.deepEqual(await readdir(join(d.execRoot, 'netns')), [], 'no network namespace file left');
    const gone = await d.wharf(['network', 'inspect', NET]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, new RegExp(`network ${NET} not found`));
  });

  test('network prune removes unused user networks', async () => {
    await ok(['network', 'create', `${NET}p`]);
    assert.equal(await ok(['network', 'prune', '-f']), `Deleted Networks:\n${NET}p\n\n`);
    assert.equal(await ok(['network', 'prune', '-f']), '');
  });
});

describe('networking through the Docker CLI', () => {
  test('docker run -d -p 127.0.0.1:port:80 busybox httpd is reachable', async () => {
    const port = await freePort();
    const r = await d.docker(['run', '-d', '--name', 'dweb', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sh', '-c', HTTPD]);
    assert.equal(r.code, 0, r.stderr);
    await waitFor(served(port), { what: 'httpd through the Docker CLI port' });
    const p = await d.docker(['port', 'dweb']);
    assert.equal(p.stdout, `80/tcp -> 127.0.0.1:${port}\n`);
    assert.equal((await d.docker(['rm', '-f', 'dweb'])).code, 0);
  });

  test('docker network create + two containers reaching each other by name', async () => {
    const name = `${NET}d`;
    const c = await d.docker(['network', 'create', name]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /^[0-9a-f]{64}\n$/);
    const ls = await d.docker(['network', 'ls', '--format', '{{.Name}}']);
    assert.match(ls.stdout, new RegExp(`^${name}$`, 'm'));
    const r1 = await d.docker(['run', '-d', '--name', 'dc1', '--network', name, 'busybox', 'sleep', '1000']);
    assert.equal(r1.code, 0, r1.stderr);
    const r2 = await d.docker(['run', '--rm', '--network', name, 'busybox', 'ping', '-c1', '-W2', 'dc1']);
    assert.equal(r2.code, 0, r2.stderr + r2.stdout);
    assert.match(r2.stdout, /1 packets received/);
    assert.equal((await d.docker(['rm', '-f', 'dc1'])).code, 0);
    const rm = await d.docker(['network', 'rm', name]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(rm.stdout, `${name}\n`);
  });
});

describe('published ports across stop, start and a daemon kill -9', () => {
  test('stop frees the port for another container; the first cannot start while it is taken; kill -9 keeps the mapping', async () => {
    const port = await freePort();
    await ok(['run', '-d', '--name', 'pa', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sh', '-c', HTTPD]);
    await waitFor(served(port), { what: 'pa serving' });
    await ok(['stop', '-t', '1', 'pa']);
    assert.equal(await ok(['port', 'pa']), '');
    assert.equal(await inspect('pa', '{{json .NetworkSettings.Ports}}'), '{}');
    await ok(['run', '-d', '--name', 'pb', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sh', '-c', HTTPD]);
    await waitFor(served(port), { what: 'pb serving on the freed port' });
    const busy = await d.wharf(['start', 'pa']);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, new RegExp(`Bind for 127\\.0\\.0\\.1:${port} failed: port is already allocated`));
    assert.match(busy.stderr, /Error: failed to start containers: pa/);
    await ok(['rm', '-f', 'pb']);
    await ok(['start', 'pa']);
    await waitFor(served(port), { what: 'pa serving again' });
    await d.kill9();
    assert.equal(await page(port), 'hello-wharf\n', 'the mapping outlives the daemon');
    await d.restart();
    assert.equal(await page(port), 'hello-wharf\n');
    assert.equal(await ok(['port', 'pa']), `80/tcp -> 127.0.0.1:${port}\n`);
    const again = await d.wharf(['run', '-d', '--name', 'pc', '-p', `127.0.0.1:${port}:80`, 'busybox', 'true']);
    assert.equal(again.code, 125);
    assert.match(again.stderr, /port is already allocated/);
    await ok(['rm', '-f', 'pa', 'pc']);
    await waitFor(async () => (await page(port).catch(() => 'gone')) === 'gone', { what: 'port closed after rm' });
  });
});

describe('Config.NetworkDisabled', () => {
  test('a container made with networking disabled has loopback alone, no endpoint, no /etc files and no published port', async () => {
    const port = await freePort();
    const veths = await vethsOnOurBridges([bridge]);
    const leases = await leaseCount();
    const rules = await ruleCount();
    const created = await socketJson<{ Id: string }>(d.socket, 'POST', '/v1.51/containers/create?name=nonet', {
      body: {
        Image: 'busybox',
        Cmd: ['sh', '-c', "ip -o link; echo etc-mounts $(grep -cE ' /etc/(hosts|resolv.conf|hostname) ' /proc/self/mountinfo); echo listed; exec sleep 1000"],
        NetworkDisabled: true,
        ExposedPorts: { '80/tcp': {} },
        HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] } },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    await ok(['start', 'nonet']);
    await waitFor(async () => (await d.wharf(['logs', 'nonet'])).stdout.includes('listed\n'), { what: 'nonet output' });
    const logs = (await d.wharf(['logs', 'nonet'])).stdout;
    // Only lo (the runtime brings it up), and none of the daemon's /etc files mounted.
    assert.deepEqual(logs.split('\n').filter((l) => /^\d+: /.test(l)).map((l) => l.split(':')[1]!.trim()), ['lo']);
    assert.match(logs, /^etc-mounts 0$/m);
    assert.equal(await inspect('nonet', '{{json .NetworkSettings.Networks}}'), '{}');
    assert.equal(await inspect('nonet', '{{.HostsPath}}|{{.ResolvConfPath}}|{{.HostnamePath}}'), '||');
    assert.equal(await vethsOnOurBridges([bridge]), veths);
    assert.equal(await leaseCount(), leases);
    assert.equal(await ruleCount(), rules, 'no DNAT rule for the port binding');
    await ok(['restart', '-t', '1', 'nonet']);
    assert.equal(await inspect('nonet', '{{.State.Running}}'), 'true');
    await ok(['rm', '-f', created.json.Id]);
    assert.equal(await ruleCount(), rules);
  });
});

describe('com.docker.network.bridge.host_binding_ipv4', () => {
  test("a user network's default binding address: its ports published without an address listen there alone", async () => {
    const net = `hb${randomBytes(3).toString('hex')}`;
    await ok(['network', 'create', '-o', 'com.docker.network.bridge.host_binding_ipv4=127.0.0.1', net]);
    try {
      const port = await freePort();
      await ok(['run', '-d', '--name', 'hb', '--network', net, '-p', `${port}:80`, 'busybox', 'sh', '-c', HTTPD]);
      await waitFor(served(port), { what: 'hb serving on 127.0.0.1' });
      assert.equal(await ok(['port', 'hb']), `80/tcp -> 127.0.0.1:${port}\n`);
      const nat = (await runCommand('iptables-save', ['-t', 'nat'])).stdout.split('\n').filter((l) => l.includes(`--dport ${port} `));
      assert.ok(nat.length > 0 && nat.every((l) => l.includes('-d 127.0.0.1/32')), nat.join('\n'));
      await ok(['rm', '-f', 'hb']);
      for (const key of ['com.docker.network.bridge.host_binding_ipv4', 'com.docker.network.host_ipv4']) {
        const bad = await d.wharf(['network', 'create', '-o', `${key}=nowhere`, `${net}x`]);
        assert.notEqual(bad.code, 0);
        assert.match(bad.stderr, new RegExp(`failed to parse ${key.replace(/\./g, '\\.')} value: nowhere \\(nil ip\\)`));
      }
    } finally {
      await d.wharf(['rm', '-f', 'hb']);
      await ok(['network', 'rm', net]);
    }
  });
});

describe('com.docker.network.container_iface_prefix', () => {
  test("a network's interface prefix names its endpoints' interfaces, the lowest free number of it", async () => {
    const net = `ip${randomBytes(3).toString('hex')}`;
    const bad = `${net}b`;
    await ok(['network', 'create', '-o', 'com.docker.network.container_iface_prefix=ctr', net]);
    await ok(['network', 'create', '-o', 'com.docker.network.container_iface_prefix=a/b', bad]);
    try {
      await ok(['run', '-d', '--name', 'pfx', '--network', net, 'busybox', 'sleep', '1000']);
      const links = async () => (await ok(['exec', 'pfx', 'ip', '-o', 'link'])).split('\n').filter(Boolean).map((l) => l.split(':')[1]!.trim().replace(/@.*/, ''));
      assert.deepEqual(await links(), ['lo', 'ctr0']);
      // Another network's endpoint keeps eth; the address is on the prefixed interface.
      await ok(['network', 'connect', 'bridge', 'pfx']);
      assert.deepEqual((await links()).sort(), ['ctr0', 'eth0', 'lo']);
      const ip = await inspect('pfx', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`);
      assert.match(await ok(['exec', 'pfx', 'ip', '-o', '-4', 'addr', 'show', 'dev', 'ctr0']), new RegExp(`inet ${ip.replace(/\./g, '\\.')}/`));
      // A prefix that makes no interface name fails the connect as a bad name does.
      const r = await d.docker(['network', 'connect', bad, 'pfx']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /error renaming interface to "a\/b0": invalid argument/);
    } finally {
      await d.wharf(['rm', '-f', 'pfx']);
      await ok(['network', 'rm', net, bad]);
    }
  });
});

describe('com.docker.network.host_ipv4', () => {
  test("a network's outbound traffic is SNATed to its host_ipv4 instead of masqueraded", async () => {
    const net = `sn${randomBytes(3).toString('hex')}`;
    await ok(['network', 'create', '-o', 'com.docker.network.host_ipv4=127.0.0.5', net]);
    try {
      const subnet = (await ok(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', net])).trim();
      const post = (await runCommand('iptables-save', ['-t', 'nat'])).stdout.split('\n').filter((l) => l.includes(`-s ${subnet} ! -o `));
      assert.equal(post.length, 1, post.join('\n'));
      assert.match(post[0]!, / -j SNAT --to-source 127\.0\.0\.5$/);
    } finally {
      await ok(['network', 'rm', net]);
    }
  });
});
