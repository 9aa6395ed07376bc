/**
 * macvlan and ipvlan networks (libnetwork's drivers of those names) through the Docker CLI. The
 * parent is one end of a veth pair the test makes; traffic goes only between the containers on
 * it. A container's device is a macvlan (or ipvlan) of the parent, moved into its namespace, with
 * the gateway route only on a network with a way out; the embedded DNS listens inside the
 * namespace, as the host cannot reach it. Parents the daemon makes (a dummy when none is given,
 * a VLAN subinterface `parent.N`) go with the last network on them. Where this host's kernel has
 * no dummy, VLAN or ipvlan links, the daemon must say so with the kernel's words and leave nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { cliOk, loadBusybox, runCommand, startDaemon, type Daemon } from './harness.js';

let d: Daemon;
const tag = randomBytes(3).toString('hex');
/** The parent: one end of a veth pair (the other end keeps it up). */
const PARENT = `wm${tag}a`;
const PEER = `wm${tag}b`;
/** A second pair: an ipvlan network needs a parent no other ipvlan network uses. */
const PARENT2 = `wm${tag}c`;
const PEER2 = `wm${tag}e`;

const docker = (args: string[]) => cliOk(d, 'docker', args);

/**
 * The host's links this daemon could have made: the temporary names of endpoint devices
 * (sublinks.ts), dummy parents and subinterfaces of the test's pairs. Other test files make
 * veths and bridges meanwhile.
 */
async function hostLinks(): Promise<string[]> {
  const r = await runCommand('ip', ['-o', 'link', 'show']);
  return r.stdout
    .split('\n')
    .map((l) => /^\d+:\s+([^@:]+)/.exec(l)?.[1])
    .filter((x): x is string => !!x && (/^(mv|iv)[0-9a-f]{7}$/.test(x) || /^d[mi]-/.test(x) || x.startsWith(`wm${tag}`)));
}

/** Whether this kernel makes links of `args`'s kind (made on the peer and deleted again). */
async function kernelHas(name: string, args: string[]): Promise<boolean> {
  const r = await runCommand('ip', ['link', 'add', ...args]);
  if (r.code !== 0) return false;
  await runCommand('ip', ['link', 'del', name]);
  return true;
}

async function inspect<T>(ref: string, format: string): Promise<T> {
  return JSON.parse(await docker(['inspect', '--format', `{{json ${format}}}`, ref])) as T;
}

/** `ip -d link show <ifname>` inside a running container's namespace, from the host's iproute2. */
async function linkInside(container: string, ifname: string): Promise<string> {
  const key = await inspect<string>(container, '.NetworkSettings.SandboxKey');
  const r = await runCommand('nsenter', [`--net=${key}`, 'ip', '-d', 'link', 'show', ifname]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
  for (const [a, b] of [[PARENT, PEER], [PARENT2, PEER2]]) {
    for (const args of [['link', 'add', a!, 'type', 'veth', 'peer', 'name', b!], ['link', 'set', a!, 'up'], ['link', 'set', b!, 'up']]) {
      const r = await runCommand('ip', args);
      assert.equal(r.code, 0, r.stderr);
    }
  }
});
after(async () => {
  await d?.cleanup();
  await runCommand('ip', ['link', 'del', PARENT]);
  await runCommand('ip', ['link', 'del', PARENT2]);
});

describe('macvlan and ipvlan networks', () => {
  test('a macvlan network on a host interface: containers get their own devices, addresses, gateway route and names', async () => {
    const linksBefore = await hostLinks();
    await docker(['network', 'create', '-d', 'macvlan', '--subnet', '192.0.2.0/24', '-o', `parent=${PARENT}`, 'mvnet']);
    const net = await inspect<{ Driver: string; Options: Record<string, string>; IPAM: { Config: Array<{ Subnet: string; Gateway: string }> } }>('mvnet', '.');
    assert.equal(net.Driver, 'macvlan');
    assert.deepEqual(net.Options, { parent: PARENT });
    assert.deepEqual(net.IPAM.Config, [{ Subnet: '192.0.2.0/24', Gateway: '192.0.2.1' }]);
    assert.equal((await docker(['network', 'ls', '--filter', 'driver=macvlan', '--format', '{{.Name}}'])).trim(), 'mvnet');

    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    await docker(['run', '-d', '--name', 'm1', '--network', 'mvnet', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sleep', '300']);
    const ep = await inspect<{ IPAddress: string; Gateway: string; MacAddress: string; DNSNames: string[] }>('m1', '.NetworkSettings.Networks.mvnet');
    assert.equal(ep.IPAddress, '192.0.2.2');
    assert.equal(ep.Gateway, '192.0.2.1');
    assert.match(ep.DNSNames.join(' '), /^m1 [0-9a-f]{12}$/);
    const link = await linkInside('m1', 'eth0');
    assert.match(link, /macvlan mode bridge/);
    assert.match(link, new RegExp(`link/ether ${ep.MacAddress} `));
    // The macvlan driver publishes nothing: the host port stays free.
    await new Promise<void>((resolve, reject) => {
      const s = createServer().once('error', reject).listen(port, '127.0.0.1', () => s.close(() => resolve()));
    });

    const out = await docker(['run', '--rm', '--network', 'mvnet', 'busybox', 'sh', '-c', 'ip route; cat /etc/resolv.conf; ping -c1 -W5 m1 && nslookup m1 127.0.0.11']);
    assert.match(out, /^default via 192\.0\.2\.1 dev eth0/m);
    assert.match(out, /^nameserver 127\.0\.0\.11$/m);
    assert.match(out, /1 packets received/);
    assert.match(out, /Address:\s+192\.0\.2\.2$/m);
    // The devices live in the containers' namespaces alone.
    assert.deepEqual((await hostLinks()).filter((l) => !linksBefore.includes(l)), []);
  });

  test('an internal macvlan network: no gateway; connect and disconnect of a running container; a MAC the kernel refuses', async () => {
    await docker(['network', 'create', '-d', 'macvlan', '--internal', '--subnet', '198.51.100.0/24', '-o', `parent=${PARENT}`, 'mvint']);
    await docker(['network', 'connect', 'mvint', 'm1']);
    const ep = await inspect<{ IPAddress: string; Gateway: string }>('m1', '.NetworkSettings.Networks.mvint');
    assert.deepEqual(ep, { ...ep, IPAddress: '198.51.100.2', Gateway: '' });
    const routes = await docker(['exec', 'm1', 'ip', 'route']);
    assert.deepEqual(routes.split('\n').filter((l) => l.startsWith('default')), ['default via 192.0.2.1 dev eth0 ']);
    assert.match(await docker(['exec', 'm1', 'ping', '-c1', '-W5', 'm1.mvint']), /from 198\.51\.100\.2/);
    await docker(['run', '-d', '--name', 'm2', '--network', 'mvint', 'busybox', 'sleep', '300']);
    assert.doesNotMatch(await docker(['exec', 'm2', 'ip', 'route']), /default/);
    assert.match(await docker(['exec', 'm2', 'ping', '-c1', '-W5', 'm1']), /from 198\.51\.100\.2/);
    await docker(['network', 'disconnect', 'mvint', 'm1']);
    assert.doesNotMatch(await docker(['exec', 'm1', 'ip', 'link']), /eth1/);
    await docker(['rm', '-f', 'm2']);
    // A multicast MAC fails the start with libnetwork's words, naming the device, and leaves none.
    const linksBefore = await hostLinks();
    const bad = await d.docker(['run', '--rm', '--network', 'mvint', '--mac-address', '01:00:00:00:00:00', 'busybox', 'true']);
    assert.equal(bad.code, 125, bad.stderr);
    assert.match(bad.stderr, /failed to add interface eth0 to sandbox: error setting interface "eth0" MAC to "01:00:00:00:00:00": cannot assign requested address/);
    assert.deepEqual(await hostLinks(), linksBefore);
    await docker(['network', 'rm', 'mvint']);
  });

  test("bad options and parents get libnetwork's words, and nothing is made", async () => {
    await docker(['network', 'create', '-d', 'macvlan', '-o', `parent=${PARENT}`, '-o', 'macvlan_mode=private', 'mvpriv']);
    const linksBefore = await hostLinks();
    const cases: Array<[string[], string]> = [
      [['-o', 'parent=nope0'], 'invalid subinterface vlan name nope0, example formatting is eth0.10'],
      [['-o', 'parent=nope0.10'], '-o parent interface was not found on the host: nope0'],
      [['-o', `parent=${PARENT}.x`], 'unable to parse a valid vlan id from: x (ex. eth0.10 for vlan 10)'],
      [['-o', `parent=${PARENT}.5000`], 'vlan id must be between 1-4094, received: 5000'],
      [['-o', 'parent=a.b.c'], 'required interface name format is: name.vlan_id, ex. eth0.10 for vlan 10, instead received a.b.c'],
      [['-o', 'macvlan_mode=foo'], "requested macvlan mode 'foo' is not valid, 'bridge' mode is the macvlan driver default"],
      [['-o', 'parent=lo'], 'loopback interface is not a valid macvlan parent link'],
    ];
    for (const [opts, message] of cases) {
      const r = await d.docker(['network', 'create', '-d', 'macvlan', ...opts, 'bad']);
      assert.equal(r.code, 1, r.stdout);
      assert.equal(r.stderr.trim(), `Error response from daemon: ${message}`);
    }
    const mvnet = (await docker(['network', 'inspect', '--format', '{{.Id}}', 'mvnet'])).trim();
    const passthru = await d.docker(['network', 'create', '-d', 'macvlan', '-o', `parent=${PARENT}`, '-o', 'macvlan_mode=passthru', 'bad']);
    assert.match(passthru.stderr, new RegExp(`cannot use mode passthru, macvlan network (${mvnet}|[0-9a-f]{64}) is already using parent interface ${PARENT}`));
    const ipvlanMode = await d.docker(['network', 'create', '-d', 'ipvlan', '-o', 'ipvlan_mode=l4', 'bad']);
    assert.match(ipvlanMode.stderr, /requested ipvlan mode 'l4' is not valid, 'l2' mode is the ipvlan driver default/);
    const ipvlanFlag = await d.docker(['network', 'create', '-d', 'ipvlan', '-o', 'ipvlan_flag=x', 'bad']);
    assert.match(ipvlanFlag.stderr, /requested ipvlan flag 'x' is not valid, 'bridge' is the ipvlan driver default/);
    assert.equal((await d.docker(['network', 'inspect', 'bad'])).code, 1);
    assert.deepEqual((await hostLinks()).filter((l) => !linksBefore.includes(l)), []);
    await docker(['network', 'rm', 'mvpriv']);
  });

  test('no parent: a dummy is made for the network and removed with it', async (t) => {
    const id = (await d.docker(['network', 'create', '-d', 'macvlan', '--subnet', '203.0.113.0/24', 'mvdummy'])).stdout.trim();
    if (!(await kernelHas(`wm${tag}d`, [`wm${tag}d`, 'type', 'dummy']))) {
      t.diagnostic('this kernel has no dummy links: the create must fail with its words and leave nothing');
      assert.equal(id, '');
      assert.equal((await d.docker(['network', 'inspect', 'mvdummy'])).code, 1);
      assert.equal((await hostLinks()).filter((l) => l.startsWith('dm-')).length, 0);
      return;
    }
    const dummy = `dm-${id.slice(0, 12)}`;
    assert.ok((await hostLinks()).includes(dummy));
    await docker(['run', '-d', '--name', 'd1', '--network', 'mvdummy', 'busybox', 'sleep', '300']);
    assert.equal(await inspect<string>('d1', '.NetworkSettings.Networks.mvdummy.Gateway'), '');
    const out = await docker(['run', '--rm', '--network', 'mvdummy', 'busybox', 'sh', '-c', 'ip route; ping -c1 -W5 d1']);
    assert.doesNotMatch(out, /default/);
    assert.match(out, /1 packets received/);
    await docker(['rm', '-f', 'd1']);
    await docker(['network', 'rm', 'mvdummy']);
    assert.ok(!(await hostLinks()).includes(dummy));
  });

  test('a VLAN subinterface parent is made when missing and goes with the last network on it', async () => {
    const vlan = `${PARENT}.20`;
    const first = await d.docker(['network', 'create', '-d', 'macvlan', '-o', `parent=${vlan}`, 'mvvlan1']);
    if (!(await kernelHas(`wm${tag}v`, ['link', PEER, 'name', `wm${tag}v`, 'type', 'vlan', 'id', '21']))) {
      assert.equal(first.code, 1);
      assert.equal(first.stderr.trim(), `Error response from daemon: failed to create ${vlan} vlan link: operation not supported`);
      assert.ok(!(await hostLinks()).includes(vlan));
      return;
    }
    assert.equal(first.code, 0, first.stderr);
    await docker(['network', 'create', '-d', 'macvlan', '-o', `parent=${vlan}`, 'mvvlan2']);
    await docker(['network', 'rm', 'mvvlan1']);
    assert.ok((await hostLinks()).includes(vlan));
    await docker(['network', 'rm', 'mvvlan2']);
    assert.ok(!(await hostLinks()).includes(vlan));
  });

  test('ipvlan: L2 with the gateway route, L3 routed out of the device; a custom MAC refused', async () => {
    await docker(['network', 'create', '-d', 'ipvlan', '--subnet', '198.18.0.0/24', '-o', `parent=${PEER}`, 'ivl2']);
    await docker(['network', 'create', '-d', 'ipvlan', '--subnet', '198.18.1.0/24', '-o', 'ipvlan_mode=l3', '-o', `parent=${PARENT2}`, 'ivl3']);
    const mac = await d.docker(['run', '--rm', '--network', 'ivl2', '--mac-address', '02:42:00:00:00:09', 'busybox', 'true']);
    assert.notEqual(mac.code, 0);
    assert.match(mac.stderr, /ipvlan interfaces do not support custom mac address assignment/);
    const linksBefore = await hostLinks();
    if (!(await kernelHas(`wm${tag}i`, [`wm${tag}i`, 'link', PEER, 'type', 'ipvlan', 'mode', 'l2']))) {
      const r = await d.docker(['run', '--rm', '--network', 'ivl2', 'busybox', 'true']);
      assert.equal(r.code, 125);
      assert.match(r.stderr, /failed to create the ipvlan port: operation not supported/);
      assert.deepEqual((await hostLinks()).filter((l) => !linksBefore.includes(l)), []);
      assert.equal((await docker(['ps', '-aq', '--filter', 'network=ivl2'])).trim(), '');
      await docker(['network', 'rm', 'ivl2', 'ivl3']);
      return;
    }
    await docker(['run', '-d', '--name', 'i1', '--network', 'ivl2', 'busybox', 'sleep', '300']);
    assert.match(await linkInside('i1', 'eth0'), /ipvlan\s+mode l2 bridge/);
    assert.equal(await inspect<string>('i1', '.NetworkSettings.Networks.ivl2.MacAddress'), '');
    const out = await docker(['run', '--rm', '--network', 'ivl2', 'busybox', 'sh', '-c', 'ip route; ping -c1 -W5 i1']);
    assert.match(out, /^default via 198\.18\.0\.1 dev eth0/m);
    assert.match(out, /1 packets received/);
    const l3 = await docker(['run', '--rm', '--network', 'ivl3', 'busybox', 'ip', 'route']);
    assert.match(l3, /^default dev eth0/m);
    await docker(['rm', '-f', 'i1']);
    await docker(['network', 'rm', 'ivl2', 'ivl3']);
  });

  test("after a daemon restart the networks are there and a running container's DNS answers again", async () => {
    await d.restart();
    assert.equal((await docker(['network', 'inspect', '--format', '{{.Driver}} {{.Options.parent}}', 'mvnet'])).trim(), `macvlan ${PARENT}`);
    assert.match(await docker(['exec', 'm1', 'nslookup', 'm1', '127.0.0.11']), /Address:\s+192\.0\.2\.2$/m);
    const out = await docker(['run', '--rm', '--network', 'mvnet', 'busybox', 'ping', '-c1', '-W5', 'm1']);
    assert.match(out, /1 packets received/);
    await docker(['rm', '-f', 'm1']);
    await docker(['network', 'rm', 'mvnet']);
  });
});
