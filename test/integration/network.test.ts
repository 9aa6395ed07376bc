/**
 * Real namespaces, veths, bridges and iptables: `ip netns add` stands in for a container's
 * namespace. Traffic only to 127.0.0.1 and to the addresses of the bridges/namespaces made here.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { freePort, freeUdpPort, httpGet } from '../lib/http.js';
import { NetworkManager, type NetworkManagerOptions } from '../../src/network/manager.js';
import { bridgePorts } from '../../src/network/links.js';
import { buildResponse, parseQuery, TYPE_A } from '../../src/network/dns-message.js';
import { isEngineError } from '../../src/lib/errors.js';
import { Firewall } from '../../src/network/iptables.js';

const exec = promisify(execFile);
const sh = async (cmd: string, ...args: string[]) => (await exec(cmd, args)).stdout;
const tag = randomBytes(3).toString('hex');
const ns = (x: string) => `wt${tag}${x}`;
const octet = 100 + (parseInt(tag, 16) % 100);
const BIP = `10.213.${octet}.1/24`;
const USER_SUBNET = `10.214.${octet}.0/24`;

async function waitFor(cond: () => Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Veths on this test's bridges only: other daemons on the host may have their own. */
async function vethCount(): Promise<number> {
  const out = await sh('ip', '-o', 'link', 'show', 'type', 'veth');
  const ours = new RegExp(` master (${ns('b0')}|wu-[0-9a-f]+) `);
  return out.split('\n').filter((l) => ours.test(l)).length;
}

describe('network manager (real netns, bridges, iptables)', () => {
  let dataRoot: string;
  let mgr: NetworkManager;
  let opts: NetworkManagerOptions;
  const namespaces: string[] = [];
  const children: ChildProcess[] = [];
  let upstream: ReturnType<typeof createSocket>;
  let upstreamPort = 0;
  let failing: ReturnType<typeof createSocket>;
  /** The query types the working upstream was asked, and how many queries the failing one got. */
  const upstreamTypes: number[] = [];
  let failingQueries = 0;
  let baselineVeths = 0;

  const addNs = async (x: string) => {
    await sh('ip', 'netns', 'add', ns(x));
    namespaces.push(ns(x));
    return `/run/netns/${ns(x)}`;
  };
  const inNs = (x: string, ...cmd: string[]) => sh('ip', 'netns', 'exec', ns(x), ...cmd);

  before(async () => {
    dataRoot = await mkdtemp(join(tmpdir(), 'wharf-net-'));
    // A fake upstream resolver on loopback: answers every A query with 10.9.9.9.
    upstream = createSocket('udp4');
    upstream.on('message', (msg, r) => {
      const q = parseQuery(msg);
      if (q) upstreamTypes.push(q.type);
      if (q) upstream.send(buildResponse(msg, q, 0, [{ type: TYPE_A, ip: (10 << 24) | (9 << 16) | (9 << 8) | 9 }]), r.port, r.address);
    });
    await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
    upstreamPort = upstream.address().port;
    // Listed first: answers SERVFAIL to everything, so each forward must go on to the next.
    failing = createSocket('udp4');
    failing.on('message', (msg, r) => {
      const q = parseQuery(msg);
      failingQueries++;
      if (q) failing.send(buildResponse(msg, q, 2, []), r.port, r.address);
    });
    await new Promise<void>((r) => failing.bind(0, '127.0.0.1', () => r()));
    baselineVeths = await vethCount();
    opts = {
      dataRoot,
      bip: BIP,
      bridgeName: ns('b0'),
      chainPrefix: `WT${tag.toUpperCase()}`,
      userBridgePrefix: 'wu-',
      dnsUpstreams: [`127.0.0.1:${failing.address().port}`, `127.0.0.1:${upstreamPort}`],
    };
    mgr = new NetworkManager(opts);
    await mgr.restore([]);
  });

  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await mgr.destroyAll().catch(() => {});
    for (const n of mgr.all()) if (n.bridge) await sh('ip', 'link', 'del', n.bridge).catch(() => {});
    for (const n of namespaces) await sh('ip', 'netns', 'del', n).catch(() => {});
    upstream.close();
    failing.close();
    await rm(dataRoot, { recursive: true, force: true });
  });

  it('creates the default bridge from bip, with its rules in our chains only', async () => {
    const addr = await sh('ip', '-4', '-o', 'addr', 'show', 'dev', ns('b0'));
    assert.match(addr, new RegExp(BIP.replace(/\./g, '\\.')));
    const rules = await mgr.firewallRules();
    assert.ok(rules.some((r) => r.includes(`-s 10.213.${octet}.0/24 ! -o ${ns('b0')} -j MASQUERADE`)), rules.join('\n'));
    const bridge = mgr.get('bridge');
    assert.equal(mgr.resource(bridge, false).IPAM.Config?.[0]?.Gateway, `10.213.${octet}.1`);
    assert.ok(mgr.get('host') && mgr.get('none'));
  });

  it('attaches two namespaces to the default bridge: eth0, route, MTU; they ping each other', async () => {
    const a = await addNs('a');
    const b = await addNs('b');
    const ra = await mgr.attach({ containerId: 'a'.repeat(64), containerName: 'ca', netnsPath: a, hostConfig: { NetworkMode: 'bridge' } });
    const rb = await mgr.attach({ containerId: 'b'.repeat(64), containerName: 'cb', netnsPath: b, hostConfig: { NetworkMode: 'default' } });
    assert.equal(ra.settings.IPAddress, `10.213.${octet}.2`);
    assert.equal(rb.settings.IPAddress, `10.213.${octet}.3`);
    assert.equal(ra.settings.Gateway, `10.213.${octet}.1`);
    assert.equal(ra.settings.IPPrefixLen, 24);
    assert.equal(ra.settings.Networks.bridge?.IPAddress, ra.settings.IPAddress);
    assert.equal(ra.settings.MacAddress, `02:42:0a:d5:${octet.toString(16)}:02`);
    assert.deepEqual(ra.etc.addresses, [ra.settings.IPAddress]);
    assert.equal(ra.etc.nameservers, undefined);
    const link = await inNs('a', 'ip', '-o', 'addr', 'show', 'dev', 'eth0');
    assert.match(link, new RegExp(`inet 10\\.213\\.${octet}\\.2/24 brd 10\\.213\\.${octet}\\.255 `));
    const eth0 = await inNs('a', 'ip', 'link', 'show', 'eth0');
    assert.match(eth0, /mtu 1500/);
    // Docker's veths have no transmit queue length ("qlen 1000" is the kernel's default).
    assert.doesNotMatch(eth0, /qlen/);
    assert.match(await inNs('a', 'ip', 'route'), new RegExp(`default via 10\\.213\\.${octet}\\.1 dev eth0`));
    const ping = await inNs('a', 'busybox', 'ping', '-c', '1', '-W', '2', rb.settings.IPAddress!);
    assert.match(ping, /1 packets received/);
    assert.equal((await bridgePorts(ns('b0'))).length, 2);
  });

  it('publishes a port on 127.0.0.1 to a server in the namespace; a taken port fails cleanly', async () => {
    const c = await addNs('c');
    const www = join(dataRoot, 'www');
    await mkdir(www, { recursive: true });
    await writeFile(join(www, 'index.html'), 'hello from the namespace\n');
    const hostPort = await freePort();
    const r = await mgr.attach({
      containerId: 'c'.repeat(64),
      containerName: 'cc',
      netnsPath: c,
      hostConfig: { NetworkMode: 'bridge', PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(hostPort) }] } },
      exposedPorts: { '80/tcp': {}, '443/tcp': {} },
    });
    assert.deepEqual(r.settings.Ports, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(hostPort) }], '443/tcp': null });
    const httpd = spawn('ip', ['netns', 'exec', ns('c'), 'busybox', 'httpd', '-f', '-p', '80', '-h', www], { stdio: 'ignore' });
    children.push(httpd);
    await waitFor(async () => (await inNs('c', 'busybox', 'netstat', '-ltn')).includes(':80 '), 'httpd to listen');
    const { body } = await httpGet(hostPort, '/index.html');
    assert.match(body, /hello from the namespace/);

    // Same host port again: Docker's message, and nothing of the second container remains.
    const d = await addNs('d');
    const veths = await vethCount();
    const leases = { ...mgr.leaseCounts() };
    const rules = (await mgr.firewallRules()).length;
    await assert.rejects(
      mgr.attach({
        containerId: 'd'.repeat(64),
        containerName: 'cd',
        netnsPath: d,
        hostConfig: { NetworkMode: 'bridge', PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(hostPort) }] } },
      }),
      (err: Error) => isEngineError(err, 'Conflict') && err.message.endsWith(`Bind for 127.0.0.1:${hostPort} failed: port is already allocated`),
    );
    // A port held by another process on the host.
    const holder = createServer();
    await new Promise<void>((res) => holder.listen(0, '127.0.0.1', () => res()));
    const held = (holder.address() as { port: number }).port;
    await assert.rejects(
      mgr.attach({
        containerId: 'd'.repeat(64),
        containerName: 'cd',
        netnsPath: d,
        hostConfig: { NetworkMode: 'bridge', PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(held) }] } },
      }),
      /failed to bind host port for 127\.0\.0\.1:\d+:10\.213\.\d+\.\d+:80\/tcp: address already in use/,
    );
    holder.close();
    assert.equal(await vethCount(), veths);
    assert.deepEqual(mgr.leaseCounts(), leases);
    assert.equal((await mgr.firewallRules()).length, rules);
    assert.equal((await inNs('d', 'ip', '-o', 'link')).includes('eth0'), false);

    // -P: an ephemeral port from ip_local_port_range.
    const p = await mgr.attach({
      containerId: 'd'.repeat(64),
      containerName: 'cd',
      netnsPath: d,
      hostConfig: { NetworkMode: 'bridge', PublishAllPorts: true },
      exposedPorts: { '8080/tcp': {}, '53/udp': {} },
    });
    const [lo, hi] = (await sh('cat', '/proc/sys/net/ipv4/ip_local_port_range')).trim().split(/\s+/).map(Number);
    for (const key of ['8080/tcp', '53/udp']) {
      const hp = Number(p.settings.Ports[key]?.[0]?.HostPort);
      assert.ok(hp >= lo! && hp <= hi!, `${key} -> ${hp}`);
    }
    await mgr.detach('d'.repeat(64));
  });

  it('user-defined network: subnet, aliases, embedded DNS at 127.0.0.11 with forwarding', async () => {
    const { Id } = await mgr.create({ Name: `net${tag}`, IPAM: { Config: [{ Subnet: USER_SUBNET, IPRange: `10.214.${octet}.128/25` }] }, Labels: { a: 'b' } });
    const n = mgr.resource(mgr.get(Id), true);
    assert.equal(n.IPAM.Config?.[0]?.Gateway, `10.214.${octet}.1`);
    assert.deepEqual(n.Labels, { a: 'b' });
    const e = await addNs('e');
    const f = await addNs('f');
    const re = await mgr.attach({
      containerId: 'e'.repeat(64),
      containerName: 'web',
      netnsPath: e,
      hostConfig: { NetworkMode: `net${tag}` },
      endpointsConfig: { [`net${tag}`]: { Aliases: ['frontend'] } },
    });
    const rf = await mgr.attach({
      containerId: 'f'.repeat(64),
      containerName: 'client',
      netnsPath: f,
      hostConfig: { NetworkMode: `net${tag}` },
      endpointsConfig: { [`net${tag}`]: { IPAMConfig: { IPv4Address: `10.214.${octet}.200` } } },
    });
    const webIp = re.settings.Networks[`net${tag}`]!.IPAddress!;
    assert.equal(webIp, `10.214.${octet}.128`);
    assert.equal(rf.settings.Networks[`net${tag}`]!.IPAddress, `10.214.${octet}.200`);
    assert.deepEqual(re.settings.Networks[`net${tag}`]!.DNSNames, ['web', 'frontend', 'eeeeeeeeeeee']);
    assert.deepEqual(rf.etc.nameservers, ['127.0.0.11']);
    assert.equal(re.settings.IPAddress, ''); // top-level fields are the default bridge's only
    assert.equal(Object.keys(mgr.resource(mgr.get(Id), true).Containers).length, 2);
    for (const name of ['web', 'frontend', 'eeeeeeeeeeee']) {
      const out = await inNs('f', 'busybox', 'nslookup', name, '127.0.0.11');
      assert.match(out, new RegExp(`Address:\\s+${webIp.replace(/\./g, '\\.')}`), out);
    }
    const fwd = await inNs('f', 'busybox', 'nslookup', 'elsewhere.example', '127.0.0.11');
    assert.match(fwd, /Address:\s+10\.9\.9\.9/, fwd);
    assert.ok(failingQueries > 0, 'the SERVFAIL upstream was asked first');
    // A reverse lookup names the container and its network, in their own case.
    const ptr = await inNs('f', 'busybox', 'nslookup', webIp, '127.0.0.11');
    assert.match(ptr, new RegExp(`name = web\\.net${tag}$`, 'm'), ptr);
    // MX of a container's name: answered here, empty, never forwarded.
    const asked = upstreamTypes.length;
    const mx = await inNs('f', 'busybox', 'nslookup', '-type=mx', 'WEB', '127.0.0.11').catch((err: Error) => err.message);
    assert.doesNotMatch(mx, /SERVFAIL|NXDOMAIN|can't find/, mx);
    assert.equal(upstreamTypes.length, asked, 'the MX query was not forwarded');
    const ping = await inNs('f', 'busybox', 'ping', '-c', '1', '-W', '2', webIp);
    assert.match(ping, /1 packets received/);

    // A container's --dns on loopback names its own loopback: never relayed to the host's.
    const hostLoopback = `127.77.${octet}.1`;
    const lure = createSocket('udp4');
    let lured = 0;
    lure.on('message', (msg, r) => {
      lured++;
      const q = parseQuery(msg);
      if (q) lure.send(buildResponse(msg, q, 0, [{ type: TYPE_A, ip: (10 << 24) | (8 << 16) | (8 << 8) | 8 }]), r.port, r.address);
    });
    await new Promise<void>((r) => lure.bind(53, hostLoopback, () => r()));
    try {
      const g = await addNs('g');
      await mgr.attach({ containerId: '9'.repeat(64), containerName: 'own-dns', netnsPath: g, hostConfig: { NetworkMode: `net${tag}`, Dns: [hostLoopback] } });
      const out = await inNs('g', 'busybox', 'nslookup', 'elsewhere.example', '127.0.0.11').catch((err: Error) => err.message);
      assert.doesNotMatch(out, /10\.8\.8\.8/, out);
      assert.equal(lured, 0);
      await mgr.detach('9'.repeat(64));
    } finally {
      lure.close();
    }

    // Removing it while endpoints are active: Docker's error.
    await assert.rejects(mgr.remove(`net${tag}`), (err: Error) =>
      isEngineError(err, 'Forbidden') && err.message === `error while removing network: network net${tag} id ${Id} has active endpoints`);
  });

  it('rejects bad input with Docker texts', async () => {
    await assert.rejects(mgr.create({ Name: `ov${tag}`, IPAM: { Config: [{ Subnet: `10.214.${octet}.0/25` }] } }), /Pool overlaps with other one on this address space/);
    await assert.rejects(mgr.create({ Name: `bad${tag}`, IPAM: { Config: [{ Subnet: '10.300.0.0/16' }] } }), /invalid subnet 10\.300\.0\.0\/16: invalid CIDR block notation/);
    await assert.rejects(mgr.create({ Name: `net${tag}` }), /network with name net.* already exists/);
    await assert.rejects(mgr.remove('bridge'), /bridge is a pre-defined network and cannot be removed/);
    // dockerd's plugin store answers for drivers it does not have.
    await assert.rejects(mgr.create({ Name: `drv${tag}`, Driver: 'nosuch' }), (e: Error) => isEngineError(e, 'NotFound') && e.message === 'plugin "nosuch" not found');
    await assert.rejects(mgr.create({ Name: `ipam${tag}`, IPAM: { Driver: 'nosuch' } }), (e: Error) => isEngineError(e, 'NotFound') && e.message === 'plugin "nosuch" not found');
    await assert.rejects(mgr.create({ Name: `ipam${tag}`, IPAM: { Driver: 'null' } }), /ipv4 pool is empty/);
    assert.ok(!mgr.all().some((n) => n.Name === `drv${tag}` || n.Name === `ipam${tag}`), 'nothing half-created');
    // A network that does not exist is start's error (moby), but bad settings for it are create's.
    assert.doesNotThrow(() => mgr.validate({ NetworkMode: 'nosuchnet' }, { nosuchnet: {} }));
    assert.throws(() => mgr.validate({ NetworkMode: 'nosuchnet' }, { nosuchnet: { MacAddress: 'zz' } }), /invalid MAC address zz/);
    assert.throws(() => mgr.validate({ NetworkMode: 'bridge' }, { bridge: { IPAMConfig: { IPv4Address: '10.0.0.5' } } }), /user specified IP address is supported on user defined networks only/);
  });

  it('an internal network\'s containers never get the host\'s nameservers, only ones on their networks', async () => {
    const sub = `10.218.${octet}`;
    const { Id } = await mgr.create({ Name: `int${tag}`, Internal: true, IPAM: { Config: [{ Subnet: `${sub}.0/24` }] } });
    const server = await addNs('is');
    const client = await addNs('ic');
    const hosted = await addNs('ih');
    const cs = { containerId: '7'.repeat(64), containerName: 'ins', netnsPath: server, hostConfig: { NetworkMode: `int${tag}` } };
    const rs = await mgr.attach(cs);
    const serverIp = rs.settings.Networks[`int${tag}`]!.IPAddress!;
    // A nameserver in a container on the internal network: answers every A query with 10.7.7.7.
    const answer = [
      "const s=require('dgram').createSocket('udp4');",
      's.on("message",(m,r)=>{const o=Buffer.from(m);o[2]|=0x80;o[7]=1;',
      's.send(Buffer.concat([o,Buffer.from([0xc0,12,0,1,0,1,0,0,0,60,0,4,10,7,7,7])]),r.port,r.address)});',
      's.bind(53)',
    ].join('');
    children.push(spawn('ip', ['netns', 'exec', ns('is'), process.execPath, '-e', answer], { stdio: 'ignore' }));
    try {
      await mgr.attach({ containerId: '6'.repeat(64), containerName: 'inc', netnsPath: client, hostConfig: { NetworkMode: `int${tag}` } });
      await mgr.attach({ containerId: '5'.repeat(64), containerName: 'inh', netnsPath: hosted, hostConfig: { NetworkMode: `int${tag}`, Dns: [serverIp] } });
      // Names on the network resolve; anything else is not forwarded to the daemon's nameservers.
      const own = await inNs('ic', 'busybox', 'nslookup', 'ins', '127.0.0.11');
      assert.match(own, new RegExp(`Address:\\s+${serverIp.replace(/\./g, '\\.')}`), own);
      const [askedBefore, failedBefore] = [upstreamTypes.length, failingQueries];
      const out = await inNs('ic', 'busybox', 'nslookup', 'elsewhere.example', '127.0.0.11').catch((err: Error) => err.message);
      assert.doesNotMatch(out, /10\.9\.9\.9/, out);
      assert.deepEqual([upstreamTypes.length, failingQueries], [askedBefore, failedBefore], 'a query was forwarded to the daemon\'s nameservers');
      // With --dns on its own network, that nameserver answers.
      await waitFor(async () => /10\.7\.7\.7/.test(await inNs('ih', 'busybox', 'nslookup', 'elsewhere.example', '127.0.0.11').catch(() => '')), 'the internal nameserver to answer');
      assert.deepEqual([upstreamTypes.length, failingQueries], [askedBefore, failedBefore]);
    } finally {
      for (const id of ['7', '6', '5']) await mgr.detach(id.repeat(64));
      await mgr.remove(Id);
    }
  });

  it('an IPv4-only endpoint\'s UDP port is published on [::] too and reached on [::1] through the proxy', async () => {
    const u = await addNs('u');
    // A port free a moment ago can be taken by any UDP socket of a test running beside this one
    // (a DNS query's source port): the publish then fails with EADDRINUSE, and another port is tried.
    const publish = async (tries: number): Promise<{ hostPort: number; r: Awaited<ReturnType<typeof mgr.attach>> }> => {
      const hostPort = await freeUdpPort();
      try {
        const r = await mgr.attach({
          containerId: 'e'.repeat(64),
          containerName: 'cu',
          netnsPath: u,
          hostConfig: { NetworkMode: 'bridge', PortBindings: { '53/udp': [{ HostIp: '', HostPort: String(hostPort) }] } },
        });
        return { hostPort, r };
      } catch (err) {
        if (tries > 1 && /address already in use/.test(String(err))) return publish(tries - 1);
        throw err;
      }
    };
    const { hostPort, r } = await publish(5);
    assert.deepEqual(r.settings.Ports, { '53/udp': [{ HostIp: '0.0.0.0', HostPort: String(hostPort) }, { HostIp: '::', HostPort: String(hostPort) }] });
    const echo = "const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send(Buffer.concat([Buffer.from('echo:'),m]),r.port,r.address));s.bind(53)";
    children.push(spawn('ip', ['netns', 'exec', ns('u'), process.execPath, '-e', echo], { stdio: 'ignore' }));
    const ask = (host: string) =>
      new Promise<string>((resolve) => {
        const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
        const timer = setTimeout(() => done(''), 300);
        const done = (v: string) => {
          clearTimeout(timer);
          sock.close();
          resolve(v);
        };
        sock.on('message', (m) => done(m.toString()));
        sock.send('hi', hostPort, host);
      });
    await waitFor(async () => (await ask('::1')) === 'echo:hi', 'the echo server through the [::1] proxy');
    assert.equal(await ask('127.0.0.1'), 'echo:hi');
    assert.equal((await mgr.firewallRules()).some((l) => l.startsWith('ip6 ') && l.includes(`--dport ${hostPort}`)), false, 'no ip6tables DNAT to an IPv4 address');
    await mgr.detach('e'.repeat(64));
    assert.equal(await ask('::1'), '', 'the proxy is gone with the endpoint');
  });

  it('restore after a daemon crash keeps running containers and removes the rest', async () => {
    // Simulate kill -9: a second manager over the same data root, containers a and c still "running".
    await mgr.close();
    const beforeRules = await mgr.firewallRules();
    const mgr2 = new NetworkManager(opts);
    await mgr2.restore(['a'.repeat(64), 'c'.repeat(64)]);
    mgr = mgr2;
    const ports = await bridgePorts(ns('b0'));
    assert.equal(ports.length, 2, 'a and c keep their veths on the default bridge; b is gone');
    assert.equal((await inNs('b', 'ip', '-o', 'link')).includes('eth0'), false);
    const userBridge = mgr.get(`net${tag}`).bridge!;
    assert.equal((await bridgePorts(userBridge)).length, 0);
    const after = await mgr.firewallRules();
    assert.ok(after.length < beforeRules.length || after.length === beforeRules.length);
    assert.ok(after.some((r) => r.includes('-j DNAT')), 'the port of c survives');
    const files = await readdir(join(dataRoot, 'network', 'endpoints'));
    assert.deepEqual(files.sort(), ['a'.repeat(64) + '.json', 'c'.repeat(64) + '.json']);
    const leases = mgr.leaseCounts();
    assert.equal(leases[mgr.get('bridge').Id], 2);
    assert.equal(leases[mgr.get(`net${tag}`).Id] ?? 0, 0);
  });

  it("daemons starting at once each put FORWARD's jump to DOCKER-USER first without failing", async () => {
    const firewalls = [1, 2, 3, 4].map((i) => new Firewall(`WT${tag.toUpperCase()}C${i}`));
    try {
      // Each start reads FORWARD, moves the DOCKER-USER jump ahead of its own and may find the
      // others have just done so: none of them may fail on it.
      await Promise.all(firewalls.map((f) => f.rebuild([])));
      // They may have inserted it twice between them; the next start leaves one, first.
      await firewalls[0]!.rebuild([]);
      const forward = (await sh('iptables', '-w', '-S', 'FORWARD')).split('\n').filter((l) => l.startsWith('-A FORWARD'));
      assert.equal(forward[0], '-A FORWARD -j DOCKER-USER', forward.join('\n'));
      assert.equal(forward.filter((l) => l === '-A FORWARD -j DOCKER-USER').length, 1, forward.join('\n'));
    } finally {
      for (const f of firewalls) await f.destroy();
    }
  });

  it('detach leaves nothing: veths, rules, leases, ports, records', async () => {
    // The containers' own rules: DNAT and the published ports' ACCEPT, each naming a container
    // address. The raw drop of direct routing is the network's (its subnet) and stays.
    const own = (r: string) => !r.startsWith('raw ') && (r.includes('-j DNAT') || / -d [0-9a-f.:]+\/(32|128) /.test(r));
    const rules = await mgr.firewallRules();
    assert.ok(rules.some((r) => r.startsWith('raw ') && / ! -i \S+ -j DROP$/.test(r)), rules.join('\n'));
    const baseRules = rules.filter((r) => !own(r));
    await mgr.detach('a'.repeat(64));
    await mgr.detach('c'.repeat(64));
    await mgr.detach('c'.repeat(64)); // idempotent
    assert.equal(await vethCount(), baselineVeths);
    assert.deepEqual(await mgr.firewallRules(), baseRules);
    assert.ok(Object.values(mgr.leaseCounts()).every((v) => v === 0));
    assert.equal(mgr.mappedPortCount(), 0);
    assert.deepEqual(await readdir(join(dataRoot, 'network', 'endpoints')), []);
    await mgr.remove(`net${tag}`);
    assert.equal((await mgr.firewallRules()).some((r) => r.includes('wu-')), false);
    await assert.rejects(sh('ip', 'link', 'show', 'wu-' + 'x'), /./);
  });
});
