/**
 * The bridge driver's gateway modes (com.docker.network.bridge.gateway_mode_ipv4/_ipv6) with real
 * containers, iptables and traffic. A network namespace of the test's own stands for a host on
 * the outside: joined to this host by a veth pair (198.18.0.0/15 and a ULA of the test's choosing),
 * with routes to the networks' subnets through this host's end. Traffic goes only to the
 * containers, bridges and namespace made here. The host forwards (wharfd turns ip_forward on, and
 * IPv6 forwarding for an IPv6 network: restored afterwards, as ipv6.test.ts does) and the routes
 * are symmetric, so reverse-path filtering in any mode lets the replies through.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadBusybox, runCommand, startDaemon, waitFor, type Daemon } from './harness.js';

let d: Daemon;
const tag = randomBytes(3).toString('hex');
const OUTSIDE = `gwo${tag}`;
const HOST_END = `gwh${tag}`;
const OUTSIDE_END = `gwp${tag}`;
const NET4 = { host: '', outside: '' };
{
  const a = randomInt(256);
  const b = randomInt(64) * 4;
  NET4.host = `198.18.${a}.${b + 1}`;
  NET4.outside = `198.18.${a}.${b + 2}`;
}
const FORWARDING6 = ['/proc/sys/net/ipv6/conf/all/forwarding', '/proc/sys/net/ipv6/conf/default/forwarding'];
let hostForwarding6: string[] = [];
let hostForwardPolicy6 = '';
const ULA = `fdc7:${randomInt(1, 0xffff).toString(16)}:${randomInt(1, 0xffff).toString(16)}::`;
const NET6 = { host: `${ULA}1`, outside: `${ULA}2` };

/** httpd on 80 (published) and 81 (never published), each answering /cgi-bin/peer with the client's address. */
const SERVER =
  "mkdir -p /www/cgi-bin && printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR\\n' > /www/cgi-bin/peer && " +
  'chmod +x /www/cgi-bin/peer && httpd -p 81 -h /www && exec httpd -f -p 80 -h /www';

async function sh(cmd: string, ...args: string[]): Promise<string> {
  const r = await runCommand(cmd, args);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function docker(...args: string[]): Promise<string> {
  return dockerOn(d, ...args);
}

async function dockerOn(daemon: Daemon, ...args: string[]): Promise<string> {
  const r = await daemon.docker(args);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** An HTTP GET from the outside host: the body, or curl's exit code (28: no answer at all, the packets dropped). */
async function fromOutside(ip: string, port: number, path = '/cgi-bin/peer'): Promise<{ code: number; body: string }> {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  const r = await runCommand('ip', ['netns', 'exec', OUTSIDE, 'curl', '-sg', '--connect-timeout', '3', '--max-time', '10', `http://${host}:${port}${path}`]);
  return { code: r.code, body: r.stdout.trim() };
}

/** busybox httpd's REMOTE_ADDR as a plain address: it writes `[::ffff:a.b.c.d]` and `[v6]`. */
const plainAddress = (remote: string): string => remote.trim().replace(/^\[(.*)\]$/, '$1').replace(/^::ffff:/, '');

/** The address the container saw the request from, once the server answers. */
async function peerSeen(ip: string, port: number): Promise<string> {
  return waitFor(
    async () => {
      const r = await fromOutside(ip, port);
      return r.code === 0 ? plainAddress(r.body) : undefined;
    },
    { timeoutMs: 30_000, what: `http://${ip}:${port} from the outside host` },
  );
}

/** The server's port answers the host itself (so a failure from outside is the firewall's doing). */
async function servesHost(ip: string, port: number): Promise<void> {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  await waitFor(async () => (await runCommand('curl', ['-sg', '--max-time', '5', `http://${host}:${port}/cgi-bin/peer`])).code === 0, {
    timeoutMs: 30_000,
    what: `${host}:${port} to answer the host`,
  });
}

/** The prefix of a daemon's iptables chains. */
async function chainPrefix(daemon = d): Promise<string> {
  return (await readFile(join(daemon.dataRoot, 'network', 'chains'), 'utf8')).trim();
}

/** A daemon's rules (its chains, iptables and ip6tables), counters left out. */
async function ownRules(daemon = d): Promise<string[]> {
  const prefix = await chainPrefix(daemon);
  const out: string[] = [];
  for (const tool of ['iptables-save', 'ip6tables-save']) {
    for (const line of (await sh(tool)).split('\n')) if (line.includes(prefix)) out.push(`${tool} ${line.replace(/\[\d+:\d+\]/, '')}`);
  }
  return out.sort();
}

interface NetInfo {
  subnet: string;
  subnet6?: string;
  bridge: string;
}

async function createNetwork(name: string, ...opts: string[]): Promise<NetInfo> {
  return createNetworkOn(d, name, ...opts);
}

async function createNetworkOn(daemon: Daemon, name: string, ...opts: string[]): Promise<NetInfo> {
  await dockerOn(daemon, 'network', 'create', ...opts, name);
  return networkInfo(name, daemon);
}

/** An existing network's subnets and bridge. */
async function networkInfo(name: string, daemon = d): Promise<NetInfo> {
  const id = (await dockerOn(daemon, 'network', 'inspect', name, '--format', '{{.Id}}')).trim();
  const cfg = JSON.parse(await dockerOn(daemon, 'network', 'inspect', name, '--format', '{{json .IPAM.Config}}')) as Array<{ Subnet: string }>;
  const subnet6 = cfg.find((c) => c.Subnet.includes(':'))?.Subnet;
  return { subnet: cfg.find((c) => !c.Subnet.includes(':'))!.Subnet, ...(subnet6 ? { subnet6 } : {}), bridge: `wh-${id.slice(0, 12)}` };
}

/** The outside host routes the network's subnets through this host. */
async function routeFromOutside(n: NetInfo): Promise<void> {
  await sh('ip', 'netns', 'exec', OUTSIDE, 'ip', 'route', 'replace', n.subnet, 'via', NET4.host);
  if (n.subnet6) await sh('ip', 'netns', 'exec', OUTSIDE, 'ip', '-6', 'route', 'replace', n.subnet6, 'via', NET6.host);
}

async function addresses(container: string, network: string, daemon = d): Promise<{ ip: string; ip6: string }> {
  const out = await dockerOn(daemon, 'inspect', container, '--format', `{{with index .NetworkSettings.Networks "${network}"}}{{.IPAddress}} {{.GlobalIPv6Address}}{{end}}`);
  const [ip = '', ip6 = ''] = out.trim().split(' ');
  return { ip, ip6 };
}

before(async () => {
  hostForwarding6 = await Promise.all(FORWARDING6.map(async (p) => (await readFile(p, 'utf8')).trim()));
  hostForwardPolicy6 = /^-P FORWARD (\w+)/m.exec(await sh('ip6tables', '-w', '-S', 'FORWARD'))?.[1] ?? '';
  d = await startDaemon();
  await loadBusybox(d);
  await sh('ip', 'netns', 'add', OUTSIDE);
  await sh('ip', 'link', 'add', HOST_END, 'type', 'veth', 'peer', 'name', OUTSIDE_END, 'netns', OUTSIDE);
  await sh('ip', 'addr', 'add', `${NET4.host}/30`, 'dev', HOST_END);
  await sh('ip', '-6', 'addr', 'add', `${NET6.host}/64`, 'dev', HOST_END, 'nodad');
  await sh('ip', 'link', 'set', HOST_END, 'up');
  const inside = (...args: string[]) => sh('ip', 'netns', 'exec', OUTSIDE, 'ip', ...args);
  await inside('addr', 'add', `${NET4.outside}/30`, 'dev', OUTSIDE_END);
  await inside('-6', 'addr', 'add', `${NET6.outside}/64`, 'dev', OUTSIDE_END, 'nodad');
  await inside('link', 'set', OUTSIDE_END, 'up');
  await inside('link', 'set', 'lo', 'up');
  assert.equal((await readFile('/proc/sys/net/ipv4/ip_forward', 'utf8')).trim(), '1', 'wharfd turns IPv4 forwarding on');
});

after(async () => {
  // The veth pair goes with the namespace.
  await runCommand('ip', ['netns', 'del', OUTSIDE]);
  await runCommand('ip', ['link', 'del', HOST_END]);
  await d?.cleanup();
  for (const [i, p] of FORWARDING6.entries()) if (hostForwarding6[i]) await writeFile(p, `${hostForwarding6[i]}\n`);
  if (hostForwardPolicy6) await runCommand('ip6tables', ['-w', '-P', 'FORWARD', hostForwardPolicy6]);
});

describe('bridge gateway modes', () => {
  test('routed: published ports reachable at the container address, nothing else; no NAT; rules gone after rm', { timeout: 300_000 }, async () => {
    const before = await ownRules();
    const net = `rt${tag}`;
    const n = await createNetwork(
      net,
      '--ipv6',
      '-o', 'com.docker.network.bridge.gateway_mode_ipv4=routed',
      '-o', 'com.docker.network.bridge.gateway_mode_ipv6=routed',
    );
    await routeFromOutside(n);
    await docker('run', '-d', '--name', `${net}-srv`, '--network', net, '-p', '8080:80', 'busybox', 'sh', '-c', SERVER);
    const { ip, ip6 } = await addresses(`${net}-srv`, net);
    assert.ok(ip && ip6, `addresses ${ip} ${ip6}`);

    // No masquerade in either direction: the container sees the outside host's own addresses.
    assert.equal(await peerSeen(ip, 80), NET4.outside);
    assert.equal(await peerSeen(ip6, 80), NET6.outside);
    // Port 81 listens (the host reaches it) but was not published: dropped for the outside.
    await servesHost(ip, 81);
    await servesHost(ip6, 81);
    assert.equal((await fromOutside(ip, 81)).code, 28);
    assert.equal((await fromOutside(ip6, 81)).code, 28);
    // ICMP is let in.
    await sh('ip', 'netns', 'exec', OUTSIDE, 'busybox', 'ping', '-c', '1', '-W', '5', ip);
    await sh('ip', 'netns', 'exec', OUTSIDE, 'busybox', 'ping', '-c', '1', '-W', '5', ip6);

    // Routed bindings have no host port: moby lists them on 0.0.0.0 and :: with an empty HostPort.
    const ports = JSON.parse(await docker('inspect', `${net}-srv`, '--format', '{{json .NetworkSettings.Ports}}'));
    assert.deepEqual(ports, { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '' }, { HostIp: '::', HostPort: '' }] });
    assert.equal(await docker('port', `${net}-srv`, '80'), '0.0.0.0:\n[::]:\n');
    const ps = await docker('ps', '--filter', `name=${net}-srv`, '--format', '{{.Ports}}');
    assert.equal(ps.trim(), '0.0.0.0:0->80/tcp, [::]:0->80/tcp');

    const rules = await ownRules();
    assert.ok(!rules.some((r) => r.includes('-j DNAT')), `no DNAT:\n${rules.join('\n')}`);
    const outbound = [n.subnet, n.subnet6].map((subnet) => `-s ${subnet} ! -o ${n.bridge} -j MASQUERADE`);
    assert.ok(!rules.some((r) => outbound.some((o) => r.includes(o))), `no masquerade:\n${rules.join('\n')}`);

    // A restart rebuilds the same rules from the records (the routed bindings too), the container still running.
    await d.kill9();
    await d.restart();
    assert.deepEqual(await ownRules(), rules);
    assert.equal(await peerSeen(ip, 80), NET4.outside);
    assert.equal(await docker('port', `${net}-srv`, '80'), '0.0.0.0:\n[::]:\n');

    await docker('rm', '-f', `${net}-srv`);
    await docker('network', 'rm', net);
    assert.deepEqual(await ownRules(), before);
  });

  test('the bindings follow the gateway network: routed, mapped after a connect to a nat one, routed after the disconnect', { timeout: 300_000 }, async () => {
    const before = await ownRules();
    const routed = `gr${tag}`;
    const nat = `gn${tag}`;
    const r = await createNetwork(routed, '-o', 'com.docker.network.bridge.gateway_mode_ipv4=routed');
    await createNetwork(nat);
    await routeFromOutside(r);
    const c = `${routed}-srv`;
    await docker('run', '-d', '--name', c, '--network', routed, '-p', '80', 'busybox', 'sh', '-c', SERVER);
    const { ip } = await addresses(c, routed);
    // IPv4 routed; the IPv6 binding (the network's IPv6 mode is nat) proxied to the IPv4 address.
    assert.match(await docker('port', c, '80'), /^0\.0\.0\.0:\n\[::\]:\d+\n$/);
    await docker('network', 'connect', '--gw-priority', '1', nat, c);
    assert.match(await docker('port', c, '80'), /^0\.0\.0\.0:\d+\n\[::\]:\d+\n$/);
    await docker('network', 'disconnect', nat, c);
    assert.match(await docker('port', c, '80'), /^0\.0\.0\.0:\n\[::\]:\d+\n$/);
    assert.equal(await peerSeen(ip, 80), NET4.outside);
    await docker('rm', '-f', c);
    await docker('network', 'rm', routed, nat);
    assert.deepEqual(await ownRules(), before);
  });

  test('docker compose: a network with driver_opts gateway_mode_ipv4: routed', { timeout: 300_000 }, async () => {
    const before = await ownRules();
    const dir = join(d.root, `compose-${tag}`);
    await mkdir(dir, { recursive: true });
    // $ is compose's interpolation: $$ is a literal one.
    const command = JSON.stringify(['sh', '-c', SERVER.replaceAll('$', '$$$$')]);
    await writeFile(
      join(dir, 'docker-compose.yml'),
      `services:\n  web:\n    image: busybox\n    command: ${command}\n    ports: ["80"]\n    networks: [edge]\n` +
        `networks:\n  edge:\n    driver_opts:\n      com.docker.network.bridge.gateway_mode_ipv4: routed\n`,
    );
    const compose = async (...args: string[]) => {
      const r = await runCommand('docker-compose', ['--ansi', 'never', '-p', `gw${tag}`, ...args], {
        cwd: dir,
        env: { DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.root, 'docker-config') },
        timeoutMs: 120_000,
      });
      assert.equal(r.code, 0, `compose ${args.join(' ')}: ${r.stderr}`);
    };
    await compose('up', '-d');
    const net = `gw${tag}_edge`;
    const n = await networkInfo(net);
    await routeFromOutside(n);
    const c = (await docker('ps', '--filter', `label=com.docker.compose.project=gw${tag}`, '--format', '{{.Names}}')).trim();
    assert.match(await docker('port', c, '80'), /^0\.0\.0\.0:\n/);
    assert.equal(await peerSeen((await addresses(c, net)).ip, 80), NET4.outside);
    await compose('down');
    assert.deepEqual(await ownRules(), before);
  });

  test('nat drops direct access to the containers; nat-unprotected lets it through, masquerading outbound', { timeout: 300_000 }, async () => {
    const before = await ownRules();
    const nat = await createNetwork(`na${tag}`);
    const open = await createNetwork(`nu${tag}`, '-o', 'com.docker.network.bridge.gateway_mode_ipv4=nat-unprotected');
    await routeFromOutside(nat);
    await routeFromOutside(open);
    await docker('run', '-d', '--name', `na${tag}-srv`, '--network', `na${tag}`, '-p', '80', 'busybox', 'sh', '-c', SERVER);
    await docker('run', '-d', '--name', `nu${tag}-srv`, '--network', `nu${tag}`, '-p', '80', 'busybox', 'sh', '-c', SERVER);
    const natIp = (await addresses(`na${tag}-srv`, `na${tag}`)).ip;
    const openIp = (await addresses(`nu${tag}-srv`, `nu${tag}`)).ip;

    // Both ports of the unprotected network's container, published or not.
    assert.equal(await peerSeen(openIp, 80), NET4.outside);
    assert.equal(await peerSeen(openIp, 81), NET4.outside);
    await servesHost(natIp, 80);
    assert.equal((await fromOutside(natIp, 80)).code, 28);
    assert.equal((await fromOutside(natIp, 81)).code, 28);

    // Still NAT: a mapped host port and the subnet masqueraded.
    assert.match(await docker('port', `nu${tag}-srv`, '80'), /^0\.0\.0\.0:\d+\n/);
    const rules = await ownRules();
    assert.ok(rules.some((r) => r.includes(`-s ${open.subnet} ! -o ${open.bridge} -j MASQUERADE`)), rules.join('\n'));
    // Docker 28's raw drop of packets for a nat network's container arriving elsewhere than its bridge.
    // libnetwork drops each container's address; wharfd the subnet less the gateway, the same packets.
    assert.ok(rules.includes(`iptables-save -A ${await chainPrefix()}-PREROUTING -d ${nat.subnet} ! -i ${nat.bridge} -j DROP`), rules.join('\n'));
    assert.ok(!rules.some((r) => r.includes(`-d ${open.subnet} ! -i ${open.bridge} -j DROP`)), rules.join('\n'));

    await docker('rm', '-f', `na${tag}-srv`, `nu${tag}-srv`);
    await docker('network', 'rm', `na${tag}`, `nu${tag}`);
    assert.deepEqual(await ownRules(), before);
  });

  test('nat: a trusted host interface reaches the published ports directly, not the others', { timeout: 300_000 }, async () => {
    const bad = await d.docker(['network', 'create', '-o', 'com.docker.network.bridge.trusted_host_interfaces=eth0:a b', `badtr${tag}`]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /invalid interface name "a b" in com.docker.network.bridge.trusted_host_interfaces/);

    const before = await ownRules();
    const net = `tr${tag}`;
    const n = await createNetwork(net, '-o', `com.docker.network.bridge.trusted_host_interfaces=${HOST_END}`);
    await routeFromOutside(n);
    await docker('run', '-d', '--name', `${net}-srv`, '--network', net, '-p', '80', 'busybox', 'sh', '-c', SERVER);
    const { ip } = await addresses(`${net}-srv`, net);
    assert.equal(await peerSeen(ip, 80), NET4.outside);
    await servesHost(ip, 81);
    assert.equal((await fromOutside(ip, 81)).code, 28);
    await docker('rm', '-f', `${net}-srv`);
    await docker('network', 'rm', net);
    assert.deepEqual(await ownRules(), before);
  });

  test('allow-direct-routing: published ports of nat networks reachable directly, no raw drop', { timeout: 300_000 }, async () => {
    const other = await startDaemon({ config: { 'allow-direct-routing': true } });
    try {
      await loadBusybox(other);
      const net = `ad${tag}`;
      const n = await createNetworkOn(other, net);
      await routeFromOutside(n);
      await dockerOn(other, 'run', '-d', '--name', `${net}-srv`, '--network', net, '-p', '80', 'busybox', 'sh', '-c', SERVER);
      const { ip } = await addresses(`${net}-srv`, net, other);
      assert.equal(await peerSeen(ip, 80), NET4.outside);
      await servesHost(ip, 81);
      assert.equal((await fromOutside(ip, 81)).code, 28);
      const rules = await ownRules(other);
      assert.ok(!rules.some((r) => r.includes(`! -i ${n.bridge} -j DROP`)), rules.join('\n'));
    } finally {
      await other.cleanup();
    }
  });

  test('isolated: only for internal networks; no address on the bridge, no gateway for the containers', { timeout: 300_000 }, async () => {
    const refused = await d.docker(['network', 'create', '-o', 'com.docker.network.bridge.gateway_mode_ipv4=isolated', `bad${tag}`]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /gateway mode 'isolated' can only be used for an internal network/);

    const net = `is${tag}`;
    const n = await createNetwork(net, '--internal', '-o', 'com.docker.network.bridge.gateway_mode_ipv4=isolated');
    assert.equal((await sh('ip', '-4', '-o', 'addr', 'show', 'dev', n.bridge)).trim(), '');
    const cfg = JSON.parse(await docker('network', 'inspect', net, '--format', '{{json .IPAM.Config}}'));
    assert.deepEqual(cfg, [{ Subnet: n.subnet }]);

    await docker('run', '-d', '--name', `${net}-srv`, '--network', net, 'busybox', 'sh', '-c', SERVER);
    const gw = await docker('inspect', `${net}-srv`, '--format', `{{(index .NetworkSettings.Networks "${net}").Gateway}}`);
    assert.equal(gw.trim(), '');
    // With no gateway to keep for itself, the subnet's first address goes to a container.
    const first = n.subnet.replace(/0\/\d+$/, '1');
    assert.equal((await addresses(`${net}-srv`, net)).ip, first);
    // No default route; the other container is still reached by name (the embedded DNS is in its namespace).
    const out = await docker('run', '--rm', '--network', net, 'busybox', 'sh', '-c', `ip route; echo ---; timeout 10 wget -qO- http://${net}-srv/cgi-bin/peer`);
    const [routes = '', peer = ''] = out.split('---\n');
    assert.doesNotMatch(routes, /default/);
    assert.match(plainAddress(peer), new RegExp(`^${n.subnet.split('.').slice(0, 3).join('\\.')}\\.`));

    await docker('rm', '-f', `${net}-srv`);
    await docker('network', 'rm', net);

    // IPv6 alike: no global address on the bridge, no IPv6 gateway; IPv4 keeps its own (nat) mode.
    const net6 = `i6${tag}`;
    const n6 = await createNetwork(net6, '--internal', '--ipv6', '-o', 'com.docker.network.bridge.gateway_mode_ipv6=isolated');
    assert.equal((await sh('ip', '-6', '-o', 'addr', 'show', 'dev', n6.bridge, 'scope', 'global')).trim(), '');
    assert.match(await sh('ip', '-4', '-o', 'addr', 'show', 'dev', n6.bridge), /inet /);
    const cfg6 = JSON.parse(await docker('network', 'inspect', net6, '--format', '{{json .IPAM.Config}}')) as Array<{ Subnet: string; Gateway?: string }>;
    assert.equal(cfg6.find((c) => c.Subnet.includes(':'))?.Gateway, undefined);
    assert.ok(cfg6.find((c) => !c.Subnet.includes(':'))?.Gateway);
    await docker('run', '-d', '--name', `${net6}-srv`, '--network', net6, 'busybox', 'sh', '-c', SERVER);
    const gw6 = await docker('inspect', `${net6}-srv`, '--format', `{{with index .NetworkSettings.Networks "${net6}"}}{{.IPv6Gateway}}|{{.GlobalIPv6Address}}{{end}}`);
    assert.match(gw6.trim(), /^\|[0-9a-f:]+$/);
    await docker('rm', '-f', `${net6}-srv`);
    await docker('network', 'rm', net6);
  });
});
