/**
 * The wharf CLI against wharfd and Debian's docker-registry with htpasswd auth: stored
 * credentials (config.json) sent by pull and run's auto-pull, images --digests / --format
 * .Digest (also through the real Docker CLI), and system df (wharf and the Docker CLI print
 * the same tables; the API's ?type= filter).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { socketRequest, startDaemon, type Daemon } from './harness.js';
import { startRegistry, type RegistryProcess } from '../fixtures/registry.js';
import { buildImage, busyboxTar, publishImage } from '../fixtures/registry-images.js';

let root: string;
let anon: RegistryProcess;
let basic: RegistryProcess;
let d: Daemon;
let digest: string;
let image: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'wharf-regcli-'));
  const storage = join(root, 'storage');
  await mkdir(storage);
  anon = await startRegistry({ dir: root, storage });
  const htpasswd = join(root, 'htpasswd');
  execFileSync('sh', ['-c', `htpasswd -Bbn alice secret > ${htpasswd}`]);
  basic = await startRegistry({ dir: root, storage, htpasswd });
  const img = buildImage([await busyboxTar()], { cmd: ['sh'] });
  digest = (await publishImage(`http://${anon.host}`, 'private/bb', 'latest', img)).digest;
  image = `${basic.host}/private/bb`;
  d = await startDaemon();
});

after(async () => {
  await d?.cleanup();
  await Promise.all([anon, basic].filter(Boolean).map((r) => r.stop()));
  await rm(root, { recursive: true, force: true });
});

const api = (path: string) => socketRequest(d.socket, 'GET', path);

test('without login, pull and run fail with the registry\'s message; after wharf login both work', async () => {
  const pull = await d.wharf(['pull', image]);
  assert.equal(pull.code, 1, pull.stderr);
  assert.match(pull.stderr, /^Error response from daemon: .*no basic auth credentials/m);
  const run = await d.wharf(['run', '--rm', image, 'echo', 'hi']);
  assert.equal(run.code, 125, run.stderr);
  assert.match(run.stderr, new RegExp(`Unable to find image '${image}:latest' locally`));
  assert.match(run.stderr, /no basic auth credentials/);

  const login = await d.wharf(['login', '-u', 'alice', '--password-stdin', basic.host], { input: 'secret\n' });
  assert.equal(login.code, 0, login.stderr);
  assert.match(login.stdout, /Login Succeeded/);

  const ok = await d.wharf(['pull', image]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, new RegExp(`Digest: ${digest}`));
  assert.match(ok.stdout, new RegExp(`Status: Downloaded newer image for ${image}:latest`));
  assert.equal((await d.wharf(['rmi', `${image}:latest`])).code, 0);

  const ran = await d.wharf(['run', '--rm', image, 'echo', 'hi']);
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(ran.stdout, 'hi\n');
  assert.match(ran.stderr, /Unable to find image/);
});

test('images --digests and --format .Digest show the repository digest (wharf and the Docker CLI)', async () => {
  const list = await d.wharf(['images', '--digests', image]);
  assert.equal(list.code, 0, list.stderr);
  const [header, row] = list.stdout.trimEnd().split('\n');
  assert.match(header!, /^REPOSITORY\s+TAG\s+DIGEST\s+IMAGE ID\s+CREATED\s+SIZE$/);
  assert.match(row!, new RegExp(`^${image}\\s+latest\\s+${digest}\\s+[0-9a-f]{12}\\s`));
  const fmt = await d.wharf(['images', '--format', '{{.Repository}}:{{.Tag}} {{.Digest}}', image]);
  assert.equal(fmt.stdout, `${image}:latest ${digest}\n`);
  // -a: a pulled image has no intermediate images, so the list is the same.
  assert.equal((await d.wharf(['images', '-a', '--digests', image])).stdout, list.stdout);
  const docker = await d.docker(['images', '--digests', image]);
  assert.equal(docker.code, 0, docker.stderr);
  assert.equal(docker.stdout, list.stdout);
});

test('images -a shows intermediate images (untagged parents of other images); without -a they are hidden', async () => {
  const ok = async (args: string[]) => {
    const r = await d.wharf(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  await ok(['create', '--name', 'inter1', image, 'true']);
  const middle = await ok(['commit', 'inter1']);
  await ok(['create', '--name', 'inter2', middle, 'true']);
  const child = await ok(['commit', 'inter2', 'child:v1']);
  try {
    const ids = async (args: string[]) => (await ok(['images', '-q', '--no-trunc', ...args])).split('\n');
    assert.ok(!(await ids([])).includes(middle), 'intermediate image hidden without -a');
    assert.ok((await ids(['-a'])).includes(middle), 'intermediate image listed with -a');
    assert.ok((await ids([])).includes(child));
  } finally {
    await d.wharf(['rm', '-f', 'inter1', 'inter2']);
    await d.wharf(['rmi', 'child:v1']);
    await d.wharf(['rmi', middle]);
  }
});

test('system df: Docker\'s tables, the same through wharf and the Docker CLI; ?type= filters', async () => {
  const df = await d.wharf(['system', 'df']);
  assert.equal(df.code, 0, df.stderr);
  const lines = df.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$/);
  assert.match(lines[1]!, /^Images\s+1\s+0\s+\S+B\s+\S+B \(100%\)$/);
  assert.match(lines[2]!, /^Containers\s+0\s+0\s+0B\s+0B$/);
  assert.match(lines[3]!, /^Local Volumes\s+\d+\s+\d+\s+\S+B\s+\S+/);
  assert.match(lines[4]!, /^Build Cache\s+0\s+0\s+0B\s+0B$/);
  assert.equal((await d.docker(['system', 'df'])).stdout, df.stdout);

  const verbose = await d.wharf(['system', 'df', '-v']);
  assert.equal(verbose.code, 0, verbose.stderr);
  assert.match(verbose.stdout, /^Images space usage:\n\nREPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\s+SHARED SIZE\s+UNIQUE SIZE\s+CONTAINERS\n/);
  assert.match(verbose.stdout, new RegExp(`\\n${image}\\s+latest\\s+[0-9a-f]{12}\\s+.+\\s+0B\\s+\\S+B\\s+0\\n`));
  assert.match(verbose.stdout, /\nBuild cache usage: 0B\n\nCACHE ID\s+CACHE TYPE\s+SIZE\s+CREATED\s+LAST USED\s+USAGE\s+SHARED\n$/);
  assert.equal((await d.docker(['system', 'df', '-v'])).stdout, verbose.stdout);

  const fmt = await d.wharf(['system', 'df', '--format', '{{.Type}}={{.TotalCount}}']);
  assert.equal(fmt.stdout.split('\n').slice(0, 2).join('\n'), 'Images=1\nContainers=0');

  const all = JSON.parse((await api('/v1.47/system/df')).body);
  assert.equal(all.Images.length, 1);
  assert.equal(all.Images[0].Containers, 0);
  assert.equal(all.Images[0].SharedSize, 0);
  assert.ok(all.LayersSize > 0 && all.LayersSize === all.Images[0].Size, JSON.stringify(all));
  assert.deepEqual(all.BuildCache, []);
  const onlyImages = JSON.parse((await api('/v1.47/system/df?type=image')).body);
  assert.equal(onlyImages.Containers, null);
  assert.equal(onlyImages.Images.length, 1);
  // Before 1.42 the filter does not exist: everything comes back.
  assert.ok(Array.isArray(JSON.parse((await api('/v1.41/system/df?type=image')).body).Containers));
  const bad = await api('/v1.47/system/df?type=nope');
  assert.equal(bad.status, 400);
  assert.equal(JSON.parse(bad.body).message, 'unknown object type: nope');
});
