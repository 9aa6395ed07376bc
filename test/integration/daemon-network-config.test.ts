/**
 * The daemon's network settings: a daemon-wide `mtu`, `dns-search` and `dns-opts` reach the default
 * bridge's containers; an operator's DOCKER-USER rule outlives a start. Then a daemon with `bridge: none`,
 * as dockerd with `--bridge none`: no default bridge network (its
 * record and device are removed when an earlier start made them), containers in its mode get
 * loopback alone, host-gateway has nothing to stand for, and user-defined networks still work.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { chainPrefixForBridge } from '../../src/network/iptables.js';
import { cliOk, loadBusybox, runCommand, startDaemon, type Daemon } from './harness.js';

let d: Daemon;
let bridge: string;
const NET = `wn${randomBytes(3).toString('hex')}`;
const marker = ['-m', 'comment', '--comment', `wharf-test-${process.pid}`, '-j', 'RETURN'];

const ok = (args: string[]): Promise<string> => cliOk(d, 'docker', args);
const linkExists = async (name: string) => (await runCommand('ip', ['link', 'show', 'dev', name])).code === 0;

describe('daemon network settings: mtu, dns-search, dns-opts, bridge none', () => {
  before(async () => {
    // The first start, with the default bridge and a daemon-wide mtu that its containers get.
    d = await startDaemon({ config: { mtu: 1400, ip: '127.0.0.1', 'dns-search': ['corp.test'], 'dns-opts': ['ndots:2', 'timeout:1'] } });
    await loadBusybox(d);
    // The daemon's ip: where the default bridge's ports published without an address listen.
    assert.equal((await ok(['network', 'inspect', '-f', '{{index .Options "com.docker.network.bridge.host_binding_ipv4"}}', 'bridge'])).trim(), '127.0.0.1');
    const published = (await ok(['run', '-d', '-p', '80', 'busybox', 'sleep', '1000'])).trim();
    assert.match(await ok(['port', published]), /^80\/tcp -> 127\.0\.0\.1:\d+\n$/);
    await ok(['rm', '-f', published]);
    // The daemon's dns-search and dns-opts, each for a container that sets none of its own.
    const resolv = await ok(['run', '--rm', 'busybox', 'cat', '/etc/resolv.conf']);
    assert.match(resolv, /^search corp\.test$/m);
    assert.match(resolv, /^options ndots:2 timeout:1$/m);
    const own = await ok(['run', '--rm', '--dns-search', 'own.test', 'busybox', 'cat', '/etc/resolv.conf']);
    assert.match(own, /^search own\.test$/m);
    assert.match(own, /^options ndots:2 timeout:1$/m);
    const config = JSON.parse(await readFile(d.configFile, 'utf8')) as { bridge: string };
    bridge = config.bridge;
    assert.ok(await linkExists(bridge), 'the first start made its default bridge');
    assert.match(await ok(['run', '--rm', 'busybox', 'ip', 'link', 'show', 'eth0']), / mtu 1400 /);
    // A running container on the none network, listed by network inspect again after the restart.
    await ok(['run', '-d', '--name', 'kept', '--network', 'none', 'busybox', 'sleep', '1000']);
    await d.stop();
    // An operator's rule in DOCKER-USER, added while the daemon is down, outlives its start.
    await runCommand('iptables', ['-w', '-A', 'DOCKER-USER', ...marker]);
    await writeFile(d.configFile, JSON.stringify({ ...config, bridge: 'none' }));
    await d.restart();
    const kept = await runCommand('iptables', ['-w', '-C', 'DOCKER-USER', ...marker]);
    await runCommand('iptables', ['-w', '-D', 'DOCKER-USER', ...marker]);
    assert.equal(kept.code, 0, 'the DOCKER-USER rule is still there');
  });

  after(async () => {
    await d?.cleanup();
  });

  test('a running container on the none network is listed by it after the restart', async () => {
    const id = (await ok(['inspect', '-f', '{{.Id}}', 'kept'])).trim();
    const members = JSON.parse(await ok(['network', 'inspect', '-f', '{{json .Containers}}', 'none'])) as Record<string, { Name: string }>;
    assert.equal(members[id]?.Name, 'kept');
    await ok(['rm', '-f', 'kept']);
  });

  test('no default bridge network, and its device is gone', async () => {
    assert.equal(await linkExists(bridge), false, `${bridge} was deleted`);
    // The first start's chains went with it: every rule is now under the new prefix.
    const old = chainPrefixForBridge(bridge);
    assert.equal((await runCommand('iptables-save', [])).stdout.includes(`${old}-FORWARD`), false, `${old} chains left`);
    assert.equal(await linkExists('none'), false, 'no device named "none"');
    assert.deepEqual((await ok(['network', 'ls', '--format', '{{.Name}}'])).split('\n').filter(Boolean).sort(), ['host', 'none']);
    const r = await d.docker(['network', 'inspect', 'bridge']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /network bridge not found/);
  });

  test('a container in bridge mode, default or named, has loopback alone', async () => {
    for (const extra of [[], ['--network', 'bridge']]) {
      const out = await ok(['run', '--rm', ...extra, 'busybox', 'sh', '-c', 'ip -o addr; echo ---; cat /etc/hosts']);
      const [addrs, hosts] = out.split('---\n');
      assert.deepEqual(addrs!.split('\n').filter(Boolean).map((l) => l.split(/\s+/)[1]).sort(), ['lo', 'lo'], addrs);
      assert.match(addrs!, /inet 127\.0\.0\.1\/8/);
      assert.doesNotMatch(hosts!, /^\d+\.\d+\.\d+\.\d+\t(?!localhost)/m, 'no line for an address of its own');
    }
    await ok(['run', '-d', '--name', 'lo-only', 'busybox', 'sleep', '300']);
    const net = JSON.parse(await ok(['inspect', '-f', '{{json .NetworkSettings.Networks}}', 'lo-only'])) as Record<string, { IPAddress: string; EndpointID: string }>;
    assert.deepEqual(Object.keys(net), ['bridge']);
    assert.equal(net.bridge!.IPAddress, '');
    assert.equal(net.bridge!.EndpointID, '');
    await ok(['rm', '-f', 'lo-only']);
  });

  test('host-gateway has no address: the start fails and the container stays created', async () => {
    const id = (await ok(['create', '--add-host', 'gw:host-gateway', 'busybox', 'true'])).trim();
    const r = await d.docker(['start', id]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unable to derive the IP value for host-gateway/);
    assert.equal((await ok(['inspect', '-f', '{{.State.Status}}', id])).trim(), 'created');
    await ok(['rm', id]);
  });

  test('user-defined networks still work', async () => {
    await ok(['network', 'create', NET]);
    const out = await ok(['run', '--rm', '--network', NET, 'busybox', 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
    assert.match(out, /inet \d+\.\d+\.\d+\.\d+\//);
    await ok(['network', 'rm', NET]);
  });
});
