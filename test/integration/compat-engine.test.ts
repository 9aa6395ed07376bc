/**
 * What the real Docker CLI finds when it asks the engine about things Wharf has no backend for,
 * and where Docker's matching rules are easy to get wrong: swarm and plugin routes answered as
 * an engine outside a swarm answers them, network filters as regular expressions, rmi's
 * single-reference rule, image search against a v1 index and a v2-only registry, and /info and
 * /version reporting the daemon's real registry configuration and components.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { statfs } from 'node:fs/promises';
import Docker from 'dockerode';
import { loadBusybox, runCommand, startDaemon, type Daemon } from './harness.js';
import { freePort, putManifest, sha256, startRegistry, uploadBlob, type RegistryProcess } from '../fixtures/registry.js';
import { socketRequest } from '../lib/http.js';

let root: string;
let d: Daemon;
let registry: RegistryProcess;
let index: Server;
let indexHost: string;
const searches: URLSearchParams[] = [];

/**
 * A v1 search index on loopback (Docker Hub's protocol: /v1/_ping, /v1/search?q=&n=). No
 * registry package serves v1 search, so the test serves the documented JSON itself.
 */
async function startSearchIndex(): Promise<void> {
  const port = await freePort();
  index = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/v1/_ping') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('true');
    } else if (url.pathname === '/v1/search') {
      searches.push(url.searchParams);
      const results = [
        { name: 'tools/alpha', description: 'first', star_count: 10, is_official: true, is_automated: true },
        { name: 'tools/beta', description: 'second', star_count: 2, is_official: false, is_automated: false },
        { name: 'tools/gamma', description: 'third', star_count: 5, is_official: false, is_automated: false },
      ];
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ num_results: results.length, query: url.searchParams.get('q'), results }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => index.listen(port, '127.0.0.1', resolve));
  indexHost = `127.0.0.1:${port}`;
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'wharf-compat-engine-'));
  const storage = join(root, 'storage');
  await mkdir(storage);
  registry = await startRegistry({ dir: root, storage });
  await startSearchIndex();
  d = await startDaemon({
    config: { 'insecure-registries': ['myregistry.test:5000', '10.99.1.7/16'], 'registry-mirrors': ['http://127.0.0.1:1'] },
    env: { HTTP_PROXY: 'http://alice:secret@proxy.test:3128', NO_PROXY: 'localhost' },
  });
  await loadBusybox(d);
});

after(async () => {
  await d?.cleanup();
  await registry?.stop();
  index?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

test('swarm commands get the answers of an engine that is not in a swarm', async () => {
  const leave = await d.docker(['swarm', 'leave']);
  assert.equal(leave.code, 1);
  assert.match(leave.stderr, /Error response from daemon: This node is not part of a swarm/);
  for (const args of [['node', 'ls'], ['service', 'ls'], ['secret', 'ls'], ['config', 'ls'], ['swarm', 'unlock-key']]) {
    const r = await d.docker(args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, /This node is not a swarm manager\. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again\./, args.join(' '));
  }
  const init = await d.docker(['swarm', 'init']);
  assert.equal(init.code, 1);
  assert.match(init.stderr, /swarm mode is not supported/);
  // /info still says the node is outside a swarm.
  const state = await d.docker(['info', '--format', '{{.Swarm.LocalNodeState}}']);
  assert.equal(state.stdout.trim(), 'inactive');
});

test('plugins: none listed, lookups are not found, installs are refused', async () => {
  const ls = await d.docker(['plugin', 'ls']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.deepEqual(ls.stdout.trim().split('\n'), [ls.stdout.trim().split('\n')[0]]);
  assert.match(ls.stdout, /^ID\s+NAME\s+DESCRIPTION\s+ENABLED/);
  const bad = await d.docker(['plugin', 'ls', '--filter', 'enabled=maybe']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /invalid value for filter 'enabled'/);
  const inspect = await d.docker(['plugin', 'inspect', 'vieux/sshfs']);
  assert.equal(inspect.code, 1);
  assert.match(inspect.stderr, /plugin "vieux\/sshfs" not found|No such plugin: vieux\/sshfs/);
  const rm1 = await d.docker(['plugin', 'rm', 'vieux/sshfs']);
  assert.equal(rm1.code, 1);
  assert.match(rm1.stderr, /plugin "vieux\/sshfs" not found/);
});

test('plugin privileges are read from the registry; one that cannot be fetched has none, as in moby', async () => {
  const config = Buffer.from(JSON.stringify({
    Description: 'test plugin', Entrypoint: ['/p'], Interface: { Types: ['docker.volumedriver/1.0'], Socket: 'p.sock' },
    Network: { Type: 'host' }, PidHost: true, Mounts: [{ Source: '/var/lib/x', Destination: '/x', Type: 'bind' }, { Destination: '/y' }],
    Linux: { Capabilities: ['CAP_SYS_ADMIN'], AllowAllDevices: false, Devices: [{ Path: '/dev/fuse' }] },
  }));
  const layer = Buffer.alloc(1024);
  const manifest = (configMediaType: string, cfg: Buffer) => Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: configMediaType, size: cfg.length, digest: sha256(cfg) },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layer.length, digest: sha256(layer) }],
  }));
  for (const [repo, mt, cfg] of [['tools/plug', 'application/vnd.docker.plugin.v1+json', config], ['tools/notplug', 'application/vnd.docker.container.image.v1+json', Buffer.from('{}')]] as const) {
    await uploadBlob(registry.url, repo, cfg);
    await uploadBlob(registry.url, repo, layer);
    await putManifest(registry.url, repo, 'latest', 'application/vnd.docker.distribution.manifest.v2+json', manifest(mt, cfg));
  }
  const privileges = async (remote: string) => {
    const r = await socketRequest(d.socket, 'GET', `/v1.50/plugins/privileges?remote=${encodeURIComponent(remote)}`);
    return { status: r.status, body: JSON.parse(r.body) as unknown };
  };
  assert.deepEqual(await privileges(`${registry.host}/tools/plug`), {
    status: 200,
    body: [
      { Name: 'network', Description: 'permissions to access a network', Value: ['host'] },
      { Name: 'host pid namespace', Description: 'allow access to host pid namespace', Value: ['true'] },
      { Name: 'mount', Description: 'host path to mount', Value: ['/var/lib/x'] },
      { Name: 'device', Description: 'host device to access', Value: ['/dev/fuse'] },
      { Name: 'capabilities', Description: 'list of additional capabilities required', Value: ['CAP_SYS_ADMIN'] },
    ],
  });
  // moby's Privileges swallows the fetch's error: an unknown repository, or no registry at all.
  assert.deepEqual(await privileges(`${registry.host}/tools/none:v1`), { status: 200, body: [] });
  assert.deepEqual(await privileges('127.0.0.1:1/tools/plug'), { status: 200, body: [] });
  assert.deepEqual(await privileges(''), { status: 500, body: { message: 'invalid reference format' } });
  assert.deepEqual(await privileges('UPPER'), { status: 500, body: { message: 'invalid reference format: repository name (library/UPPER) must be lowercase' } });
  assert.deepEqual(await privileges(`${registry.host}/tools/notplug`), {
    status: 500,
    body: { message: `did not find plugin config for specified reference ${registry.host}/tools/notplug:latest` },
  });
});

test('network name and id filters are regular expressions, as in Docker', async () => {
  for (const n of ['mynet', 'mynet2', 'other-mynet']) assert.equal((await d.docker(['network', 'create', n])).code, 0);
  try {
    const exact = await d.docker(['network', 'ls', '--filter', 'name=^mynet$', '--format', '{{.Name}}']);
    assert.equal(exact.code, 0, exact.stderr);
    assert.deepEqual(exact.stdout.trim().split('\n'), ['mynet']);
    const sub = await d.docker(['network', 'ls', '--filter', 'name=mynet', '--format', '{{.Name}}']);
    assert.deepEqual(sub.stdout.trim().split('\n').sort(), ['mynet', 'mynet2', 'other-mynet']);
    const anchored = await d.docker(['network', 'ls', '--filter', 'name=^mynet', '--format', '{{.Name}}']);
    assert.deepEqual(anchored.stdout.trim().split('\n').sort(), ['mynet', 'mynet2']);
    const id = (await d.docker(['network', 'inspect', '-f', '{{.Id}}', 'mynet2'])).stdout.trim();
    const byId = await d.docker(['network', 'ls', '--filter', `id=^${id.slice(0, 12)}`, '--format', '{{.Name}}']);
    assert.equal(byId.stdout.trim(), 'mynet2');
    const dangling = await d.docker(['network', 'ls', '--filter', 'dangling=yes']);
    assert.equal(dangling.code, 1);
    assert.match(dangling.stderr, /invalid value for filter 'dangling', must be "true" \(or "1"\), or "false" \(or "0"\)/);
  } finally {
    await d.docker(['network', 'rm', 'mynet', 'mynet2', 'other-mynet']);
  }
});

test('rmi of one of several tags untags it even while a container uses the image', async () => {
  assert.equal((await d.docker(['tag', 'busybox', 'busybox:second'])).code, 0);
  const c = await d.docker(['create', 'busybox:second', 'true']);
  assert.equal(c.code, 0, c.stderr);
  try {
    const untag = await d.docker(['rmi', 'busybox:second']);
    assert.equal(untag.code, 0, untag.stderr);
    assert.equal(untag.stdout.trim(), 'Untagged: busybox:second');
    // The last tag of an image a container uses still needs force.
    const last = await d.docker(['rmi', 'busybox']);
    assert.equal(last.code, 1);
    assert.match(last.stderr, /conflict: unable to remove repository reference "busybox" \(must force\) - container [0-9a-f]{12} is using its referenced image [0-9a-f]{12}/);
  } finally {
    await d.docker(['rm', '-f', c.stdout.trim()]);
  }
});

test('search asks the v1 index the term names and applies Docker filters', async () => {
  const r = await d.docker(['search', '--limit', '7', '--filter', 'stars=3', `${indexHost}/tools`]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0]!, /^NAME\s+DESCRIPTION\s+STARS\s+OFFICIAL/);
  assert.deepEqual(
    lines.slice(1).map((l) => l.split(/\s+/)[0]),
    ['tools/alpha', 'tools/gamma'],
  );
  const q = searches.at(-1)!;
  assert.equal(q.get('q'), 'tools');
  assert.equal(q.get('n'), '7');
  const official = await d.docker(['search', '--filter', 'is-official=true', '--format', '{{.Name}}', `${indexHost}/tools`]);
  assert.equal(official.stdout.trim(), 'tools/alpha');
  const limit = await d.docker(['search', '--limit', '101', `${indexHost}/tools`]);
  assert.equal(limit.code, 1);
  assert.match(limit.stderr, /limit 101 is outside the range of \[1, 100\]/);
});

test('search of a v2-only registry reports its 404 as Docker does', async () => {
  const r = await d.docker(['search', `${registry.host}/busybox`]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Error response from daemon: Unexpected status code 404/);
});

test('info reports the registry configuration and proxies; version lists the runtime components', async () => {
  const reg = JSON.parse((await d.docker(['info', '--format', '{{json .RegistryConfig}}'])).stdout);
  assert.deepEqual(reg.Mirrors, ['http://127.0.0.1:1/']);
  assert.deepEqual(reg.IndexConfigs['docker.io'], { Name: 'docker.io', Mirrors: ['http://127.0.0.1:1/'], Secure: true, Official: true });
  assert.deepEqual(reg.IndexConfigs['myregistry.test:5000'], { Name: 'myregistry.test:5000', Mirrors: [], Secure: false, Official: false });
  assert.deepEqual([...reg.InsecureRegistryCIDRs].sort(), ['10.99.0.0/16', '127.0.0.0/8', '::1/128']);
  const proxy = await d.docker(['info', '--format', '{{.HTTPProxy}}|{{.NoProxy}}']);
  assert.equal(proxy.stdout.trim(), 'http://xxxxx:xxxxx@proxy.test:3128|localhost');
  const components = JSON.parse((await d.docker(['version', '--format', '{{json .Server.Components}}'])).stdout) as Array<{ Name: string; Version: string }>;
  const names = components.map((c) => c.Name);
  assert.equal(names[0], 'Engine');
  assert.ok(names.includes('runc') && names.includes('conmon'), names.join(','));
  assert.match(components.find((c) => c.Name === 'runc')!.Version, /^\d+\.\d+\.\d+/);
  // The bundle's commit and its time (none outside a git checkout), as Docker's build shows them.
  const head = await runCommand('git', ['-C', fileURLToPath(new URL('../../..', import.meta.url)), 'log', '-1', '--format=%h %ct', '--abbrev=7']);
  const server = JSON.parse((await d.docker(['version', '--format', '{{json .Server}}'])).stdout) as { GitCommit: string; BuildTime: string };
  if (head.code === 0) {
    const [hash, time] = head.stdout.trim().split(' ') as [string, string];
    assert.deepEqual([server.GitCommit, Date.parse(server.BuildTime)], [hash, Number(time) * 1000]);
  } else {
    assert.deepEqual([server.GitCommit, server.BuildTime], ['', '']);
  }
  const commit = await d.docker(['info', '--format', '{{.RuncCommit.ID}}']);
  assert.notEqual(commit.stdout.trim(), '');
  // The overlay2 status as moby's, with the data root's real filesystem (GNU stat's magic number).
  const status = new Map(JSON.parse((await d.docker(['info', '--format', '{{json .DriverStatus}}'])).stdout) as Array<[string, string]>);
  const magic = (await runCommand('stat', ['-f', '-c', '%t', d.dataRoot])).stdout.trim();
  assert.equal(status.get('Backing Filesystem'), ({ ef53: 'extfs', '1021994': 'tmpfs', '58465342': 'xfs', '9123683e': 'btrfs' } as Record<string, string>)[magic] ?? '<unknown>');
  assert.equal(status.get('userxattr'), 'false');
});

test('inspect fills what Docker fills for a minimal create (dockerode) and adapts to old API versions', async () => {
  const docker = new Docker({ socketPath: d.socket });
  const c = await docker.createContainer({ Image: 'busybox', Cmd: ['true'], HostConfig: { Memory: 64 << 20 } });
  try {
    const info = await c.inspect();
    const hc = info.HostConfig as unknown as Record<string, unknown>;
    const keys = Object.keys(hc);
    assert.deepEqual(keys.slice(0, 6), ['Binds', 'ContainerIDFile', 'LogConfig', 'NetworkMode', 'PortBindings', 'RestartPolicy']);
    assert.ok(keys.indexOf('Isolation') < keys.indexOf('CpuShares') && keys.indexOf('IOMaximumBandwidth') < keys.indexOf('MaskedPaths'));
    assert.equal(hc.Runtime, 'runc');
    assert.equal(hc.MemorySwap, 2 * (64 << 20));
    assert.equal(hc.IpcMode, 'private');
    const v2 = (await statfs('/sys/fs/cgroup')).type === 0x63677270;
    assert.equal(hc.CgroupnsMode, v2 ? 'private' : 'host');
    assert.equal(hc.MemorySwappiness, null);
    assert.equal(hc.OomKillDisable, false);
    assert.equal(hc.PidsLimit, null);
    // The Docker CLI sends --pids-limit's 0 when it is not given; 0 and negatives are no limit (null), as in moby.
    for (const limit of [0, -1]) {
      const unlimited = await docker.createContainer({ Image: 'busybox', Cmd: ['true'], HostConfig: { PidsLimit: limit } });
      assert.equal((await unlimited.inspect()).HostConfig.PidsLimit, null, `PidsLimit ${limit}`);
      await unlimited.remove();
    }
    assert.ok((hc.MaskedPaths as string[]).includes('/proc/kcore'));
    assert.ok((hc.ReadonlyPaths as string[]).includes('/proc/sys'));
    assert.equal((info.Config as unknown as Record<string, unknown>).Volumes, null);
    assert.ok(!('Tmpfs' in hc) && !('Sysctls' in hc), 'omitempty fields stay out');
  } finally {
    await c.remove({ force: true });
  }
  const priv = await d.docker(['create', '--privileged', 'busybox', 'true']);
  const privHc = JSON.parse((await d.docker(['inspect', '-f', '{{json .HostConfig}}', priv.stdout.trim()])).stdout);
  assert.equal(privHc.MaskedPaths, null);
  await d.docker(['rm', priv.stdout.trim()]);

  const unknown = await d.docker(['run', '--rm', '--runtime', 'nope', 'busybox', 'true']);
  assert.equal(unknown.code, 125);
  assert.match(unknown.stderr, /Unknown runtime specified nope/);

  assert.equal((await d.docker(['network', 'create', 'aliasnet'])).code, 0);
  const run = await d.docker(['run', '-d', '--network', 'aliasnet', '--network-alias', 'web', '--hostname', 'hn', 'busybox', 'sleep', '60']);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  try {
    const old = await docker.getContainer(id).inspect();
    assert.deepEqual(old.NetworkSettings.Networks.aliasnet!.Aliases, ['web']);
    const v144 = new Docker({ socketPath: d.socket, version: 'v1.44' });
    const legacy = await v144.getContainer(id).inspect();
    assert.deepEqual(legacy.NetworkSettings.Networks.aliasnet!.Aliases, ['web', id.slice(0, 12), 'hn']);
  } finally {
    await d.docker(['rm', '-f', id]);
    await d.docker(['network', 'rm', 'aliasnet']);
  }
});

test('create discards limits the kernel lacks with Docker warnings and checks cpusets against the host', async () => {
  const { detectSysInfo } = await import('../../src/daemon/sysinfo.js');
  const v2 = (await statfs('/sys/fs/cgroup')).type === 0x63677270;
  const sys = await detectSysInfo(v2 ? '2' : '1');
  const blkio = await d.docker(['run', '--rm', '--blkio-weight', '300', 'busybox', 'true']);
  assert.equal(blkio.code, 0, blkio.stderr);
  const warned = /WARNING: Your kernel does not support Block I\/O weight or the cgroup is not mounted\. Weight discarded\./.test(blkio.stderr);
  assert.equal(warned, !sys.blkioWeight, blkio.stderr);
  const beyond = Math.max(...[...sys.cpus.matchAll(/\d+/g)].map((m) => Number(m[0]))) + 3;
  const cpuset = await d.docker(['run', '--rm', '--cpuset-cpus', String(beyond), 'busybox', 'true']);
  assert.equal(cpuset.code, 125);
  assert.ok(cpuset.stderr.includes(`Requested CPUs are not available - requested ${beyond}, available: ${sys.cpus}`), cpuset.stderr);
});

test('create checks --platform against the image and refuses storage options and isolation Docker refuses', async () => {
  const arch = process.arch === 'arm64' ? 'arm64' : 'amd64';
  const other = arch === 'amd64' ? 'arm64' : 'amd64';
  const same = await d.docker(['run', '--rm', '--pull', 'never', '--platform', `linux/${arch}`, 'busybox', 'true']);
  assert.equal(same.code, 0, same.stderr);
  const wrong = await d.docker(['run', '--rm', '--pull', 'never', '--platform', `linux/${other}`, 'busybox', 'true']);
  assert.equal(wrong.code, 125);
  assert.match(
    wrong.stderr,
    new RegExp(`image with reference busybox was found but its platform \\(linux/${arch}\\) does not match the specified platform \\(linux/${other}(/v8)?\\)`),
  );
  // docker create exits 1 on a daemon error (run exits 125).
  const size = await d.docker(['create', '--storage-opt', 'size=1G', 'busybox', 'true']);
  assert.equal(size.code, 1, size.stderr);
  assert.match(size.stderr, /--storage-opt is supported only for overlay over xfs with 'pquota' mount option/);
  const iso = await d.docker(['run', '--rm', '--isolation', 'hyperv', 'busybox', 'true']);
  assert.equal(iso.code, 125);
  assert.match(iso.stderr, /invalid isolation 'hyperv' on linux/);
});

test('logs --details prefixes the log-opt labels and env attributes, as Docker does', async () => {
  const run = await d.docker([
    'run', '--name', 'detailed', '--label', 'team=a b', '--label', 'other=x', '-e', 'STAGE=prod',
    '--log-opt', 'labels=team', '--log-opt', 'env=STAGE', 'busybox', 'echo', 'hello',
  ]);
  assert.equal(run.code, 0, run.stderr);
  try {
    for (const cli of [d.docker.bind(d), d.wharf.bind(d)]) {
      const details = await cli(['logs', '--details', 'detailed']);
      assert.equal(details.stdout, 'STAGE=prod,team=a+b hello\n');
      const plain = await cli(['logs', 'detailed']);
      assert.equal(plain.stdout, 'hello\n');
    }
  } finally {
    await d.docker(['rm', '-f', 'detailed']);
  }
  const none = await d.docker(['run', '--name', 'nodetails', 'busybox', 'echo', 'x']);
  assert.equal(none.code, 0);
  assert.equal((await d.docker(['logs', '--details', 'nodetails'])).stdout, ' x\n');
  await d.docker(['rm', 'nodetails']);
  // The tag option: a template over moby's logger.Info, its text one more attribute (query-escaped, as all are).
  const tagged = await d.docker(['run', '--name', 'tagged', '--log-opt', 'tag={{.Name}}/{{.ID}}/{{.ImageName}}/{{.DaemonName}}/{{.Command}}', 'busybox', 'echo', 'y']);
  assert.equal(tagged.code, 0, tagged.stderr);
  const id = (await d.docker(['inspect', '-f', '{{.Id}}', 'tagged'])).stdout.trim();
  assert.equal((await d.docker(['logs', '--details', 'tagged'])).stdout, `tag=tagged%2F${id.slice(0, 12)}%2Fbusybox%2Fdocker%2Fecho+y y\n`);
  await d.docker(['rm', 'tagged']);
  // A time.Time field prints as Go prints one (moby's creation time is UTC).
  const created = await d.docker(['run', '--name', 'created', '--log-opt', 'tag={{.ContainerCreated}}', 'busybox', 'echo', 'z']);
  assert.equal(created.code, 0, created.stderr);
  const at = (await d.docker(['inspect', '-f', '{{.Created}}', 'created'])).stdout.trim();
  const details = (await d.docker(['logs', '--details', 'created'])).stdout;
  // `2006-01-02 15:04:05.999999999 +0000 UTC` (query-escaped): no T, the fraction without trailing zeros.
  const m = /^tag=(\d{4}-\d\d-\d\d)\+(\d\d)%3A(\d\d)%3A(\d\d)(?:\.\d*[1-9])?\+%2B0000\+UTC z\n$/.exec(details);
  assert.ok(m, details);
  assert.equal(`${m[1]}T${m[2]}:${m[3]}:${m[4]}`, at.slice(0, 19));
  await d.docker(['rm', 'created']);
  // One that does not parse fails the start, as the logger's creation fails it in Docker.
  const bad = await d.docker(['run', '--name', 'badtag', '--log-opt', 'tag={{nosuchfunc .ID}}', 'busybox', 'true']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /failed to initialize logging driver: template: log-tag:1: function "nosuchfunc" not defined/);
  await d.docker(['rm', 'badtag']);
});

test('an API 1.43 client\'s container-wide MacAddress is the MAC of eth0', async () => {
  const old = new Docker({ socketPath: d.socket, version: 'v1.43' });
  const mac = '02:42:ac:11:00:99';
  const c = await old.createContainer({ Image: 'busybox', Cmd: ['sleep', '60'], MacAddress: mac } as Docker.ContainerCreateOptions);
  try {
    await c.start();
    const inside = await d.docker(['exec', c.id, 'cat', '/sys/class/net/eth0/address']);
    assert.equal(inside.stdout.trim(), mac);
    const modern = await new Docker({ socketPath: d.socket }).getContainer(c.id).inspect();
    assert.equal(modern.NetworkSettings.Networks.bridge!.MacAddress, mac);
  } finally {
    await c.remove({ force: true });
  }
});

test('networks keep names with spaces, auxiliary addresses, endpoint driver options and link-local IPs', async () => {
  const create = await d.docker(['network', 'create', '--subnet', '10.231.7.0/24', '--aux-address', 'router=10.231.7.2', 'my net']);
  assert.equal(create.code, 0, create.stderr);
  try {
    const ipam = JSON.parse((await d.docker(['network', 'inspect', '-f', '{{json .IPAM.Config}}', 'my net'])).stdout);
    assert.deepEqual(ipam[0].AuxiliaryAddresses, { router: '10.231.7.2' });
    const run = await d.docker([
      'run', '-d', '--name', 'auxuser', '--network', 'name=my net,driver-opt=com.example.opt=1', '--link-local-ip', '169.254.10.10',
      'busybox', 'sleep', '60',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const ep = JSON.parse((await d.docker(['inspect', '-f', '{{json (index .NetworkSettings.Networks "my net")}}', 'auxuser'])).stdout);
    assert.equal(ep.IPAddress, '10.231.7.3', 'the auxiliary address is never leased');
    assert.deepEqual(ep.DriverOpts, { 'com.example.opt': '1' });
    assert.deepEqual(ep.IPAMConfig.LinkLocalIPs, ['169.254.10.10']);
  } finally {
    await d.docker(['rm', '-f', 'auxuser']);
    await d.docker(['network', 'rm', 'my net']);
  }
  // The Docker CLI checks these itself; the engine must too, for API clients (moby 28's ValidateIPAM).
  const docker = new Docker({ socketPath: d.socket });
  const refused = async (config: object, message: string) => {
    await assert.rejects(docker.createNetwork({ Name: 'ipambad', IPAM: { Config: [config] } }), (err: { statusCode?: number; json?: { message?: string } }) => {
      assert.deepEqual([err.statusCode, err.json?.message], [400, message]);
      return true;
    });
  };
  await refused({ Subnet: '10.231.8.0/24', AuxiliaryAddresses: { x: '10.9.9.9' } }, 'invalid network config:\ninvalid auxiliary address x: parent subnet 10.231.8.0/24 doesn\'t contain this address');
  await refused({ Subnet: 'bogus' }, 'invalid network config:\ninvalid subnet bogus: invalid CIDR block notation');
  await refused(
    { Subnet: '10.231.8.5/24', IPRange: '10.231.9.0/25', Gateway: '::1' },
    'invalid network config:\n* invalid subnet 10.231.8.5/24: it should be 10.231.8.0/24\n* invalid ip-range 10.231.9.0/25: parent subnet 10.231.8.5/24 doesn\'t contain ip-range\n* invalid gateway ::1: parent subnet is an IPv4 block',
  );
  assert.equal((await d.docker(['network', 'ls', '-q', '--filter', 'name=ipambad'])).stdout, '');
});

test('an API 1.27 network list shows each network\'s containers (moby\'s detailed list); 1.28 and later do not', async () => {
  assert.equal((await d.docker(['network', 'create', 'listnet'])).code, 0);
  const run = await d.docker(['run', '-d', '--name', 'listed', '--network', 'listnet', 'busybox', 'sleep', '60']);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  try {
    const filters = { name: ['^listnet$'] };
    const old = await new Docker({ socketPath: d.socket, version: 'v1.27' }).listNetworks({ filters });
    assert.equal(old.length, 1);
    const ep = (old[0]!.Containers as Record<string, { Name: string; EndpointID: string; IPv4Address: string }>)[id];
    assert.ok(ep, `container ${id} in ${JSON.stringify(old[0]!.Containers)}`);
    assert.equal(ep.Name, 'listed');
    assert.match(ep.EndpointID, /^[0-9a-f]{64}$/);
    assert.match(ep.IPv4Address, /^\d+\.\d+\.\d+\.\d+\/\d+$/);
    const inspected = await new Docker({ socketPath: d.socket }).getNetwork('listnet').inspect();
    assert.deepEqual(old[0]!.Containers, inspected.Containers);
    for (const version of ['v1.28', 'v1.50']) {
      const summary = await new Docker({ socketPath: d.socket, version }).listNetworks({ filters });
      assert.deepEqual(summary[0]!.Containers, {}, version);
    }
  } finally {
    await d.docker(['rm', '-f', id]);
    await d.docker(['network', 'rm', 'listnet']);
  }
});

test('rename onto a used name says Docker\'s "Error when allocating new name"', async () => {
  const a = await d.docker(['create', '--name', 'rn-a', 'busybox', 'true']);
  const b = await d.docker(['create', '--name', 'rn-b', 'busybox', 'true']);
  assert.equal(a.code + b.code, 0);
  try {
    const r = await d.docker(['rename', 'rn-a', 'rn-b']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error response from daemon: Error when allocating new name: Conflict\. The container name "\/rn-b" is already in use by container "[0-9a-f]{64}"/);
  } finally {
    await d.docker(['rm', 'rn-a', 'rn-b']);
  }
});

test('rmi of an image other images are built on is refused, even forced, as Docker does', async () => {
  const ctx = await mkdtemp(join(tmpdir(), 'wharf-kid-'));
  try {
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN touch /a\nRUN touch /b\n');
    const built = await d.docker(['build', '-q', '-t', 'kid', ctx], { env: { DOCKER_BUILDKIT: '0' } });
    assert.equal(built.code, 0, built.stderr);
    const parent = (await d.docker(['inspect', '-f', '{{.Parent}}', 'kid'])).stdout.trim();
    assert.match(parent, /^sha256:[0-9a-f]{64}$/);
    for (const args of [['rmi', parent], ['rmi', '-f', parent]]) {
      const r = await d.docker(args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, new RegExp(`conflict: unable to delete ${parent.slice(7, 19)} \\(cannot be forced\\) - image has dependent child images`));
    }
    assert.equal((await d.docker(['rmi', 'kid'])).code, 0);
  } finally {
    await rm(ctx, { recursive: true, force: true });
  }
});

test("a container's network files and log path show from its first start on, as moby fills them in then", async () => {
  const paths = async (ref: string) => (await d.docker(['inspect', '-f', '{{.HostnamePath}}|{{.HostsPath}}|{{.ResolvConfPath}}|{{.LogPath}}', ref])).stdout.trim();
  assert.equal((await d.docker(['create', '--name', 'paths', 'busybox', 'true'])).code, 0);
  assert.equal(await paths('paths'), '|||');
  assert.equal((await d.docker(['start', '-a', 'paths'])).code, 0);
  const after = (await paths('paths')).split('|');
  assert.deepEqual(after.map((p) => p.split('/').pop()), ['hostname', 'hosts', 'resolv.conf', `${after[3]!.split('/').at(-2)}.log`]);
  // A start that fails has filled them in too.
  assert.equal((await d.docker(['create', '--name', 'paths-bad', 'busybox', 'nosuchcmd'])).code, 0);
  assert.equal((await d.docker(['start', 'paths-bad'])).code, 1);
  assert.doesNotMatch(await paths('paths-bad'), /^\|/);
  // Only json-file's file is shown: `local` keeps its own private, `none` has none.
  for (const driver of ['local', 'none']) {
    assert.equal((await d.docker(['run', '--name', `paths-${driver}`, '--log-driver', driver, 'busybox', 'true'])).code, 0);
    assert.match(await paths(`paths-${driver}`), /\/resolv\.conf\|$/);
  }
  assert.equal((await d.docker(['rm', 'paths', 'paths-bad', 'paths-local', 'paths-none'])).code, 0);
});

test("GET /images/json counts each image's containers from API 1.51 (only those made from it), -1 before", async () => {
  const tagged = await d.docker(['tag', 'busybox', 'counted:1']);
  assert.equal(tagged.code, 0);
  const built = await d.docker(['build', '-q', '-'], { input: 'FROM counted:1\nLABEL child=1\n' });
  assert.equal(built.code, 0, built.stderr);
  const child = built.stdout.trim();
  const made = await Promise.all([d.docker(['create', 'counted:1', 'true']), d.docker(['create', 'counted:1', 'true']), d.docker(['create', child, 'true'])]);
  try {
    const count = async (version: string, id: string) => {
      const r = await socketRequest(d.socket, 'GET', `/${version}/images/json?filters=${encodeURIComponent(JSON.stringify({ reference: ['counted:1'] }))}&all=1`);
      const list = JSON.parse(r.body) as Array<{ Id: string; Containers: number }>;
      return list.find((i) => i.Id === id)?.Containers;
    };
    const base = (await d.docker(['image', 'inspect', '-f', '{{.Id}}', 'counted:1'])).stdout.trim();
    assert.equal(await count('v1.51', base), 2);
    assert.equal(await count('v1.50', base), -1);
    const all = JSON.parse((await socketRequest(d.socket, 'GET', '/v1.51/images/json?all=1')).body) as Array<{ Id: string; Containers: number }>;
    assert.equal(all.find((i) => i.Id === child)?.Containers, 1);
  } finally {
    await d.docker(['rm', ...made.map((m) => m.stdout.trim())]);
    await d.docker(['rmi', child, 'counted:1']);
  }
});
