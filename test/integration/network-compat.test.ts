/**
 * Networking through the real Docker CLI against wharfd (issue 4, compatibility): the nginx image
 * published with `-p 8080:80` (all host addresses) serves its test page on 127.0.0.1; containers on
 * a user network reach each other by name and alias over HTTP (busybox wget; its -T option
 * segfaults in Debian's 1.35, hence `timeout`, run by sh: pid 1 ignores its signal); `--network container:<id>` shares
 * the other container's /etc/hostname, /etc/hosts and /etc/resolv.conf, and Docker's conflicting
 * options are refused. Traffic only to 127.0.0.1 and the daemon's own bridges.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { buildNginxArchive, NGINX_TEST_PAGE_MARKER } from '../fixtures/debian-images.js';
import { httpGet, loadBusybox, startDaemon, waitFor, type Daemon } from './harness.js';

let d: Daemon;
const NET = `wc${randomBytes(3).toString('hex')}`;
const HTTPD = 'mkdir -p /www && echo hello-by-name > /www/index.html && exec httpd -f -p 80 -h /www';

async function docker(args: string[], timeoutMs?: number): Promise<string> {
  const r = await d.docker(args, { timeoutMs });
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** 8080 as in Docker's documentation when it is free here, otherwise any free port. */
async function hostPort(preferred: number): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(undefined));
      s.listen(port, '0.0.0.0', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
  return (await tryListen(preferred)) ?? (await tryListen(0))!;
}

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
});
after(async () => {
  await d?.cleanup();
});

describe('Docker CLI networking compatibility', () => {
  test('docker run -d -p 8080:80 nginx serves the test page on 127.0.0.1', { timeout: 900_000 }, async () => {
    const archive = await buildNginxArchive();
    assert.match(await docker(['load', '-i', archive], 120_000), /Loaded image: nginx:latest/);
    const port = await hostPort(8080);
    const id = (await docker(['run', '-d', '--name', 'nginx1', '-p', `${port}:80`, 'nginx'])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const page = await waitFor(
      async () => {
        const r = await httpGet(port).catch(() => undefined);
        return r?.status === 200 ? r.body : undefined;
      },
      { timeoutMs: 30_000, what: `nginx on 127.0.0.1:${port}` },
    );
    assert.ok(page.includes(NGINX_TEST_PAGE_MARKER), page);
    // Docker 28 publishes a port without a host address on 0.0.0.0 and [::].
    assert.equal(await docker(['port', 'nginx1', '80']), `0.0.0.0:${port}\n[::]:${port}\n`);
    const ps = await docker(['ps', '--filter', 'name=nginx1', '--format', '{{.Ports}}']);
    assert.equal(ps.trim(), `0.0.0.0:${port}->80/tcp, [::]:${port}->80/tcp`);
    const missing = await httpGet(port, '/no-such-page').catch(() => undefined);
    assert.equal(missing?.status, 404, 'nginx itself answers, not something else on the port');
    await docker(['rm', '-f', 'nginx1']);
    await waitFor(async () => !(await httpGet(port).catch(() => undefined)), { what: 'the port to close after rm' });
  });

  test('two containers on a user network reach each other by name and alias (wget, ping)', async () => {
    await docker(['network', 'create', NET]);
    await docker(['run', '-d', '--name', `${NET}-srv`, '--network', NET, '--network-alias', 'web', 'busybox', 'sh', '-c', HTTPD]);
    for (const host of [`${NET}-srv`, 'web']) {
      const out = await waitFor(
        async () => {
          const r = await d.docker(['run', '--rm', '--network', NET, 'busybox', 'sh', '-c', `timeout 5 wget -qO- http://${host}/`]);
          return r.code === 0 ? r.stdout : undefined;
        },
        { timeoutMs: 20_000, what: `wget http://${host}/ from a second container` },
      );
      assert.equal(out, 'hello-by-name\n');
    }
    const ping = await docker(['run', '--rm', '--network', NET, 'busybox', 'ping', '-c', '1', '-W', '2', `${NET}-srv`]);
    assert.match(ping, /1 packets received/);
    const other = await d.docker(['run', '--rm', 'busybox', 'sh', '-c', `timeout 5 wget -qO- http://${NET}-srv/`]);
    assert.notEqual(other.code, 0, 'the name is not known on the default bridge');
    await docker(['rm', '-f', `${NET}-srv`]);
    await docker(['network', 'rm', NET]);
  });

  test("a published port is reachable from another network's container through the host's addresses", async () => {
    const net = `${NET}x`;
    await docker(['network', 'create', net]);
    const port = await hostPort(0);
    await docker(['run', '-d', '--name', 'pub', '-p', `${port}:80`, 'busybox', 'sh', '-c', HTTPD]);
    const gateway = async (n: string) => (await docker(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', n])).trim();
    for (const addr of [await gateway('bridge'), await gateway(net)]) {
      const out = await waitFor(
        async () => {
          const r = await d.docker(['run', '--rm', '--network', net, 'busybox', 'sh', '-c', `timeout 5 wget -qO- http://${addr}:${port}/`]);
          return r.code === 0 ? r.stdout : undefined;
        },
        { timeoutMs: 20_000, what: `${addr}:${port} from a container on ${net}` },
      );
      assert.equal(out, 'hello-by-name\n');
    }
    const pubIp = (await docker(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'pub'])).trim();
    const direct = await d.docker(['run', '--rm', '--network', net, 'busybox', 'ping', '-c', '1', '-W', '1', pubIp]);
    assert.match(direct.stdout, /0 packets received/, 'apart from published ports the networks stay isolated');
    assert.match(direct.stdout, /0 packets received/, 'without the published port the networks stay isolated');
    await docker(['rm', '-f', 'pub']);
    await docker(['network', 'rm', net]);
  });

  test('published ports and the default route follow the gateway network: none on an internal one, then by name', async () => {
    const [internal, zeta, alpha] = [`${NET}-i`, `${NET}-z`, `${NET}-a`];
    for (const args of [['--internal', internal], [zeta], [alpha]]) await docker(['network', 'create', ...args]);
    const gateway = async (n: string) => (await docker(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', n])).trim();
    const port = await hostPort(0);
    await docker(['run', '-d', '--name', 'gw', '--network', internal, '-p', `${port}:80`, 'busybox', 'sh', '-c', HTTPD]);
    await waitFor(async () => (await d.docker(['exec', 'gw', 'sh', '-c', 'timeout 5 wget -qO- http://127.0.0.1/'])).code === 0 || undefined, {
      timeoutMs: 20_000,
      what: 'httpd in the container',
    });
    const served = async () => (await httpGet(port).catch(() => undefined))?.body;
    const route = async () => (await docker(['exec', 'gw', 'ip', 'route'])).split('\n').find((l) => l.startsWith('default '));
    assert.equal(await served(), undefined, 'an internal network publishes nothing');
    assert.equal(await route(), undefined);

    // The port taken on the host meanwhile: the connect fails and leaves the container as it was.
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '0.0.0.0', resolve));
    const refused = await d.docker(['network', 'connect', zeta, 'gw']);
    await new Promise((resolve) => squatter.close(resolve));
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, /address already in use/);
    assert.deepEqual(Object.keys(JSON.parse(await docker(['inspect', '-f', '{{json .NetworkSettings.Networks}}', 'gw']))), [internal]);
    assert.equal((await docker(['exec', 'gw', 'ip', '-o', 'link'])).includes('eth1'), false);

    await docker(['network', 'connect', zeta, 'gw']);
    assert.equal(await waitFor(served, { timeoutMs: 10_000, what: 'the port once a gateway network is connected' }), 'hello-by-name\n');
    assert.match((await route())!, new RegExp(`^default via ${await gateway(zeta)} dev eth1 `));
    assert.match(await docker(['port', 'gw', '80']), new RegExp(`0\\.0\\.0\\.0:${port}`));

    // libnetwork orders endpoints by network name: the earlier name takes the gateway, and back.
    await docker(['network', 'connect', alpha, 'gw']);
    assert.match((await route())!, new RegExp(`^default via ${await gateway(alpha)} dev eth2 `));
    assert.equal(await served(), 'hello-by-name\n');
    await docker(['network', 'disconnect', alpha, 'gw']);
    assert.match((await route())!, new RegExp(`^default via ${await gateway(zeta)} dev eth1 `));
    assert.equal(await served(), 'hello-by-name\n');

    await docker(['network', 'disconnect', zeta, 'gw']);
    assert.equal(await served(), undefined, 'no gateway network left, nothing published');
    await docker(['network', 'connect', zeta, 'gw']);
    assert.equal(await waitFor(served, { timeoutMs: 10_000, what: 'the port after reconnecting' }), 'hello-by-name\n');
    await docker(['rm', '-f', 'gw']);
    assert.equal(await served(), undefined);
    await docker(['network', 'rm', internal, zeta, alpha]);
  });

  test('GwPriority (API 1.48): the highest takes the default route and the ports, and inspect reports it', async () => {
    const [alpha, zeta] = [`${NET}-pa`, `${NET}-pz`];
    for (const n of [alpha, zeta]) await docker(['network', 'create', n]);
    const gateway = async (n: string) => (await docker(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', n])).trim();
    const route = async () => (await docker(['exec', 'gwp', 'ip', 'route'])).split('\n').find((l) => l.startsWith('default '));
    const priorities = async () => JSON.parse(await docker(['inspect', '-f', '{{json .NetworkSettings.Networks}}', 'gwp'])) as Record<string, { GwPriority: number }>;
    const port = await hostPort(0);
    await docker(['create', '--name', 'gwp', '--network', `name=${zeta},gw-priority=5`, '-p', `${port}:80`, 'busybox', 'sh', '-c', HTTPD]);
    assert.equal((await priorities())[zeta]!.GwPriority, 5, 'as created');
    await docker(['start', 'gwp']);
    const served = async () => (await httpGet(port).catch(() => undefined))?.body;
    assert.equal(await waitFor(served, { timeoutMs: 20_000, what: 'httpd through the published port' }), 'hello-by-name\n');

    // By name alone alpha would take the gateway; zeta's priority keeps it.
    await docker(['network', 'connect', '--gw-priority', '1', alpha, 'gwp']);
    assert.deepEqual(Object.fromEntries(Object.entries(await priorities()).map(([k, v]) => [k, v.GwPriority])), { [alpha]: 1, [zeta]: 5 });
    assert.match((await route())!, new RegExp(`^default via ${await gateway(zeta)} dev eth0 `));
    // A higher one takes it (and the ports' target with it), and gives it back when it leaves.
    await docker(['network', 'disconnect', alpha, 'gwp']);
    // wharf's own CLI sends it too, and refuses what Go's flag package would.
    const bad = await d.wharf(['network', 'connect', '--gw-priority', 'x', alpha, 'gwp']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /invalid argument "x" for "--gw-priority" flag: strconv.ParseInt: parsing "x": invalid syntax/);
    const connected = await d.wharf(['network', 'connect', '--gw-priority', '9', alpha, 'gwp']);
    assert.equal(connected.code, 0, connected.stderr);
    assert.match((await route())!, new RegExp(`^default via ${await gateway(alpha)} dev eth1 `));
    assert.equal(await served(), 'hello-by-name\n');
    await docker(['network', 'disconnect', alpha, 'gwp']);
    assert.match((await route())!, new RegExp(`^default via ${await gateway(zeta)} dev eth0 `));
    assert.equal(await served(), 'hello-by-name\n');
    await docker(['rm', '-f', 'gwp']);

    // Before API 1.48 every endpoint had the same priority: a create's is dropped.
    const old = await d.docker(['create', '--name', 'gwp-old', '--network', `name=${zeta},gw-priority=5`, 'busybox', 'true'], { env: { DOCKER_API_VERSION: '1.47' } });
    assert.equal(old.code, 0, old.stderr);
    assert.equal(JSON.parse(await docker(['inspect', '-f', '{{json .NetworkSettings.Networks}}', 'gwp-old']))[zeta].GwPriority, 0);
    await docker(['rm', 'gwp-old']);
    await docker(['network', 'rm', alpha, zeta]);
  });

  test('--network container:<id> shares /etc/hostname, /etc/hosts and /etc/resolv.conf', async () => {
    await docker([
      'run', '-d', '--name', 'owner', '--hostname', 'owner-host', '--add-host', 'extra.example:10.1.2.3', '--dns', '10.0.0.53',
      'busybox', 'sleep', '1000',
    ]);
    const paths = JSON.parse(await docker(['inspect', '-f', '{{json .}}', 'owner'])) as { HostsPath: string; ResolvConfPath: string; HostnamePath: string };
    const out = await docker(['run', '--name', 'joiner', '--network', 'container:owner', 'busybox', 'sh', '-c', 'hostname; echo ---; cat /etc/hosts; echo ---; cat /etc/resolv.conf']);
    const [hostname, hosts, resolv] = out.split('---\n');
    assert.equal(hostname, 'owner-host\n');
    assert.equal(hosts, await readFile(paths.HostsPath, 'utf8'));
    assert.match(hosts!, /^10\.1\.2\.3\s+extra\.example$/m);
    assert.equal(resolv, await readFile(paths.ResolvConfPath, 'utf8'));
    assert.match(resolv!, /^nameserver 10\.0\.0\.53$/m);
    const joined = JSON.parse(await docker(['inspect', '-f', '{{json .}}', 'joiner'])) as typeof paths & { Config: { Hostname: string } };
    assert.deepEqual(
      [joined.HostsPath, joined.ResolvConfPath, joined.HostnamePath, joined.Config.Hostname],
      [paths.HostsPath, paths.ResolvConfPath, paths.HostnamePath, 'owner-host'],
    );
    await docker(['rm', 'joiner']);
  });

  test("--network container:<id> with options that need an own network: Docker's errors", async () => {
    const cases: Array<[string[], string]> = [
      [['--hostname', 'x'], 'conflicting options: hostname and the network mode'],
      [['--dns', '10.0.0.1'], 'conflicting options: dns and the network mode'],
      [['--add-host', 'a:10.0.0.1'], 'conflicting options: custom host-to-IP mapping and the network mode'],
      [['-p', '80'], 'conflicting options: port publishing and the container type network mode'],
      [['--expose', '80'], 'conflicting options: port exposing and the container type network mode'],
    ];
    for (const [flags, message] of cases) {
      const r = await d.docker(['run', '--network', 'container:owner', ...flags, 'busybox', 'true']);
      assert.equal(r.code, 125, `${flags.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.includes(message), `${flags.join(' ')}: ${r.stderr}`);
    }
    const names = await docker(['ps', '-a', '--format', '{{.Names}}']);
    assert.deepEqual(names.trim().split('\n'), ['owner'], 'nothing half-created');
    await docker(['rm', '-f', 'owner']);
  });
});
