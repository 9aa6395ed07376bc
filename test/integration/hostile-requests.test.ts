/**
 * Requests that used to end the wharfd process (issue 9 §2, §3, §6), each driven through the real
 * Docker CLI against one real daemon: the client gets Docker's error, the daemon stays the same
 * process and answers /_ping, nothing is half-registered, and no error escaped to the process
 * level (the safety net logs such an error as "BUG:").
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { join } from 'node:path';
import { connect } from 'node:net';
import { jsonBody, assertDaemonAlive, ping, runCommand, socketRequest, startDaemon, loadBusybox, waitFor, type Daemon } from './harness.js';
import { buildDockerArchive, buildTar, type TarEntrySpec } from '../fixtures/docker-archive.js';
import { header } from '../fixtures/hostile-archives.js';

let d: Daemon;
let pid: number;

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
  pid = d.pid;
});

after(async () => {
  await d?.cleanup();
});

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Images and layers the daemon has, to show that a refused request registered nothing. */
async function registered(): Promise<{ images: string; layers: string[] }> {
  const r = await d.docker(['images', '-aq', '--no-trunc']);
  assert.equal(r.code, 0, r.stderr);
  const layers = await readdir(join(d.dataRoot, 'image/overlay2/layerdb/sha256')).catch(() => [] as string[]);
  return { images: r.stdout.split('\n').sort().join('\n'), layers: layers.sort() };
}

const assertAlive = (what: string) => assertDaemonAlive(d, what, { pid });

/** One API request on the daemon's socket: status and parsed JSON body (or text). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the answers of many routes, asserted field by field
async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const r = await socketRequest(d.socket, method, path, { body, headers });
  return { status: r.status, body: jsonBody(r) ?? r.body };
}

async function loadArchive(name: string, entries: TarEntrySpec[]): Promise<{ code: number; out: string }> {
  const file = join(d.root, `${name}.tar`);
  await writeFile(file, await buildTar(entries));
  const r = await d.docker(['load', '-i', file], { timeoutMs: 60_000 });
  return { code: r.code, out: r.stdout + r.stderr };
}

test('docker load of a manifest naming a layer outside the archive, missing, or linked to a host path is refused', async () => {
  const before = await registered();
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${'a'.repeat(64)}`] } });
  const cases: Array<[string, string, TarEntrySpec[], RegExp]> = [
    ['dotdot', '../../etc/passwd', [], /invalid archive: \.\.\/\.\.\/etc\/passwd is outside the archive/],
    ['absolute', '/etc/passwd', [], /not found/],
    ['missing', 'nope/layer.tar', [], /nope\/layer\.tar not found/],
    ['symlink', 'l.tar', [{ name: 'l.tar', type: 'symlink', linkname: '/etc/passwd' }], /l\.tar not found/],
    ['hardlink', 'l.tar', [{ name: 'l.tar', type: 'link', linkname: '/etc/passwd' }], /l\.tar not found/],
    ['dir', 'd', [{ name: 'd/x', content: 'x' }], /d is not a regular file/],
    ['symlink-up', 'l.tar', [{ name: 'l.tar', type: 'symlink', linkname: '../../../etc/passwd' }], /l\.tar is outside the archive/],
  ];
  for (const [name, layer, extra, message] of cases) {
    const manifest = JSON.stringify([{ Config: 'c.json', RepoTags: [`hostile-${name}:1`], Layers: [layer] }]);
    const r = await loadArchive(name, [{ name: 'manifest.json', content: manifest }, { name: 'c.json', content: config }, ...extra]);
    assert.equal(r.code, 1, `${name}: ${r.out}`);
    assert.match(r.out, message, name);
    await assertAlive(`load ${name}`);
  }
  // Wrong shapes in manifest.json are bad input too, not TypeErrors.
  for (const [name, manifest] of [
    ['layers-object', [{ Config: 'c.json', Layers: { a: 1 } }]],
    ['config-number', [{ Config: 7, Layers: [] }]],
    ['not-a-list', { Config: 'c.json' }],
  ] as const) {
    const r = await loadArchive(name, [{ name: 'manifest.json', content: JSON.stringify(manifest) }, { name: 'c.json', content: config }]);
    assert.equal(r.code, 1, `${name}: ${r.out}`);
    assert.match(r.out, /invalid archive/, name);
    assert.doesNotMatch(r.out, /TypeError|Cannot read/, name);
  }
  // The legacy layout (repositories, <id>/json, <id>/layer.tar) is refused as Docker 25+ refuses it.
  const legacy = await loadArchive('legacy', [
    { name: 'repositories', content: JSON.stringify({ old: { '1': 'a'.repeat(64) } }) },
    { name: `${'a'.repeat(64)}/json`, content: config },
    { name: `${'a'.repeat(64)}/layer.tar`, content: '' },
  ]);
  assert.equal(legacy.code, 1, legacy.out);
  assert.match(legacy.out, /^invalid archive: does not contain a manifest\.json$/m);
  await assertAlive('load with bad manifest shapes');
  assert.deepEqual(await registered(), before);
  assert.deepEqual(await readdir(join(d.dataRoot, 'tmp')), [], 'unpack dirs are removed');
});

/** An OCI layout whose index.json points at `top`; `blobs` are stored under their given digests. */
function ociLayout(top: string, blobs: Map<string, string>): TarEntrySpec[] {
  const entries: TarEntrySpec[] = [{ name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' }];
  for (const [hex, body] of blobs) entries.push({ name: `blobs/sha256/${hex}`, content: body });
  const index = { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${top}`, size: 1 }] };
  entries.push({ name: 'index.json', content: JSON.stringify(index) });
  return entries;
}

/** `levels` indexes, each listing the next one `fanout` times, over one image manifest. */
function nestedIndexes(levels: number, fanout: number): TarEntrySpec[] {
  const blobs = new Map<string, string>();
  let next = sha256('leaf');
  blobs.set(next, JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { digest: `sha256:${'b'.repeat(64)}` }, layers: [] }));
  for (let level = 0; level < levels; level++) {
    const desc = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${next}`, size: 1 };
    const body = JSON.stringify({ schemaVersion: 2, manifests: Array.from({ length: fanout }, () => desc) });
    next = sha256(body);
    blobs.set(next, body);
  }
  return ociLayout(next, blobs);
}

test('a small OCI layout fanning out into nested indexes, or containing itself, is refused at once', async () => {
  const before = await registered();
  // Ten levels of 60: 60^10 paths in a few KB.
  const deep = await loadArchive('fanout', nestedIndexes(10, 60));
  assert.equal(deep.code, 1, deep.out);
  assert.match(deep.out, /invalid OCI layout: indexes nested deeper than 8/);
  await assertAlive('fan-out');

  // Three levels of 100: shallow, but a million descriptors.
  const broad = await loadArchive('wide', nestedIndexes(3, 100));
  assert.equal(broad.code, 1, broad.out);
  assert.match(broad.out, /invalid OCI layout: more than 10000 descriptors/);

  // Blob names are not checked against their content, so an index can name itself.
  const self = 'c'.repeat(64);
  const loop = new Map([[self, JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${self}`, size: 1 }] })]]);
  const cyc = await loadArchive('cycle', ociLayout(self, loop));
  assert.equal(cyc.code, 1, cyc.out);
  assert.match(cyc.out, /contains itself/);
  await assertAlive('cycle');
  assert.deepEqual(await registered(), before);
});

test('a client hanging up during docker save, export or cp ends only that request', async () => {
  for (let i = 0; i < 3; i++) {
    const r = await runCommand('sh', ['-c', 'docker save busybox | head -c 1000 | wc -c'], { env: { DOCKER_HOST: d.host }, timeoutMs: 60_000 });
    assert.equal(r.stdout.trim(), '1000', r.stderr);
  }
  await assertAlive('save | head');
  // The other tar streams: export and cp out of a container.
  const c = await d.docker(['create', 'busybox', 'true']);
  assert.equal(c.code, 0, c.stderr);
  const id = c.stdout.trim();
  try {
    for (const cmd of [`docker export ${id}`, `docker cp ${id}:/ -`]) {
      const r = await runCommand('sh', ['-c', `${cmd} | head -c 1000 | wc -c`], { env: { DOCKER_HOST: d.host }, timeoutMs: 60_000 });
      assert.equal(r.stdout.trim(), '1000', `${cmd}: ${r.stderr}`);
    }
  } finally {
    await d.docker(['rm', '-f', id]);
  }
  await assertAlive('export/cp | head');
  // The next save is whole.
  const file = join(d.root, 'busybox.tar');
  const r = await d.docker(['save', '-o', file, 'busybox']);
  assert.equal(r.code, 0, r.stderr);
  const list = await runCommand('tar', ['-tf', file]);
  assert.match(list.stdout, /^manifest\.json$/m);
});

test('docker load of image configs Docker would not decode, or of a small gzip holding a heap of JSON, is refused', async () => {
  const before = await registered();
  const layer = await buildTar([{ name: 'f', content: 'x' }]);
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['env', { config: { Env: 'PATH=/bin' } }, /json: cannot unmarshal string into Go struct field Image\.config\.Env of type \[\]string/],
    ['labels', { config: { Labels: { a: 1 } } }, /json: cannot unmarshal number into Go struct field Image\.config\.Labels of type string/],
    ['entrypoint', { config: { Entrypoint: { a: 1 } } }, /Image\.config\.Entrypoint of type strslice\.StrSlice/],
    ['user', { config: { User: 0 } }, /Image\.config\.User of type string/],
    ['history', { history: [5] }, /Image\.history of type image\.History/],
  ];
  for (const [name, config, message] of cases) {
    const file = join(d.root, `config-${name}.tar`);
    await writeFile(file, (await buildDockerArchive({ layers: [layer], repoTags: [`bad-config-${name}:1`], config })).archive);
    const r = await d.docker(['load', '-i', file]);
    assert.equal(r.code, 1, `${name}: ${r.stdout}`);
    assert.match(r.stderr, message, name);
  }
  await assertAlive('load of configs of the wrong types');
  assert.deepEqual(await registered(), before);
  // `docker images` goes on working (one image's bad label used to break the list for every client).
  assert.equal((await d.docker(['images'])).code, 0);

  // 400 MiB of "[0,0,…]" as manifest.json gzips to some 400 KiB; parsing it took the whole heap.
  const size = (400 << 20) + 3;
  const chunk = Buffer.alloc(1 << 20).fill('0,');
  function* bigManifestTar(): Generator<Buffer> {
    yield header({ name: 'manifest.json' }, size);
    yield Buffer.from('[');
    for (let i = 0; i < 400; i++) yield chunk;
    yield Buffer.from('0]');
    yield Buffer.alloc((512 - (size % 512)) % 512 + 1024);
  }
  const big = join(d.root, 'big-manifest.tar.gz');
  await pipeline(Readable.from(bigManifestTar()), createGzip({ level: 1 }), createWriteStream(big));
  const r = await d.docker(['load', '-i', big], { timeoutMs: 120_000 });
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /invalid archive: manifest\.json is larger than 8 MiB/);
  await assertAlive('load of a huge manifest.json');
  assert.deepEqual(await registered(), before);
  assert.deepEqual(await readdir(join(d.dataRoot, 'tmp')), [], 'unpack dirs are removed');
});

test('a failed import whose body was not read is answered, not cut', async () => {
  const before = await registered();
  const file = join(d.root, 'garbage.bin');
  await writeFile(file, randomBytes(16 * 1024 * 1024));
  const r = await d.docker(['import', file, 'garbage:1'], { timeoutMs: 60_000 });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Error response from daemon: archive\/tar: invalid tar header/);
  assert.doesNotMatch(r.stderr, /broken pipe/);
  await assertAlive('import garbage');
  assert.deepEqual(await registered(), before);
});

test('unpack dirs of a load interrupted by a crash are removed at start', async () => {
  const stale = join(d.dataRoot, 'tmp', 'docker-import-123456');
  await mkdir(join(stale, 'blobs/sha256'), { recursive: true });
  await writeFile(join(stale, 'blobs/sha256', 'a'.repeat(64)), 'half a layer');
  await d.kill9();
  await d.restart();
  assert.deepEqual(await readdir(join(d.dataRoot, 'tmp')), []);
  pid = d.pid;
  await assertAlive('restart');
});

test('--security-opt seccomp=<path>: the daemon never opens the path; the CLIs send the file content', async () => {
  const secret = join(d.root, 'secret.json');
  // A file that is even a valid profile: the daemon still must not read it.
  await writeFile(secret, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', note: 'TOP-SECRET-LINE' }));
  for (const path of ['/etc/shadow', secret]) {
    const c = await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { SecurityOpt: [`seccomp=${path}`] } });
    assert.equal(c.status, 201, JSON.stringify(c.body));
    const s = await api('POST', `/containers/${c.body.Id}/start`);
    assert.equal(s.status, 400, JSON.stringify(s.body));
    assert.match(s.body.message, /^Decoding seccomp profile failed: /);
    assert.doesNotMatch(s.body.message, /TOP-SECRET|root:/);
    assert.equal((await api('DELETE', `/containers/${c.body.Id}?force=1`)).status, 204);
  }
  // Both CLIs read the profile file themselves: mkdir is refused by it, everything else allowed.
  const profile = join(d.root, 'no-mkdir.json');
  // In the old one-name form (`name`): a deny rule written so is kept, as moby keeps it.
  await writeFile(
    profile,
    JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'mkdir', action: 'SCMP_ACT_ERRNO' }, { name: 'mkdirat', action: 'SCMP_ACT_ERRNO' }] }),
  );
  for (const cli of [d.wharf, d.docker]) {
    const r = await cli(['run', '--rm', '--security-opt', `seccomp=${profile}`, 'busybox', 'sh', '-c', 'mkdir /x && echo made || echo refused']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'refused');
  }
  await assertAlive('seccomp');
});

test('bodies decode as Docker decodes them: any field-name case, wrong types are 400s', async () => {
  // Wrong JSON types: 400 with Go's wording, never a 500 TypeError.
  const cases: Array<[string, string, unknown, RegExp]> = [
    ['POST', '/containers/create', { Image: 'busybox', Env: [{}] }, /cannot unmarshal object into Go struct field CreateRequest\.Env of type string/],
    ['POST', '/containers/create', { Image: 'busybox', HostConfig: { Memory: '1g' } }, /cannot unmarshal string into Go struct field CreateRequest\.HostConfig\.Memory of type int64/],
    ['POST', '/networks/create', { Name: 'n1', Labels: 'x' }, /cannot unmarshal string into Go struct field CreateRequest\.Labels of type map\[string\]string/],
    ['POST', '/networks/create', { Name: 'n1', IPAM: { Config: { Subnet: '10.9.0.0/16' } } }, /cannot unmarshal object into Go struct field CreateRequest\.IPAM\.Config of type \[\]network\.IPAMConfig/],
    ['POST', '/volumes/create', { Name: ['v'] }, /cannot unmarshal array into Go struct field CreateOptions\.Name of type string/],
    ['POST', '/volumes/create', [], /cannot unmarshal array into Go value of type volume\.CreateOptions/],
    ['POST', '/auth', { username: 5 }, /cannot unmarshal number into Go struct field AuthConfig\.username of type string/],
    ['POST', '/networks/bridge/connect', { Container: { Id: 'x' } }, /cannot unmarshal object into Go struct field ConnectOptions\.Container of type string/],
    ['POST', '/containers/create', { Image: 'busybox', toString: 1, __proto__: { Cmd: 5 } }, /./],
  ];
  for (const [method, path, body, message] of cases) {
    const r = await api(method, path, JSON.stringify(body));
    if (path === '/containers/create' && message.source === '.') {
      // Object.prototype member names are plain unknown fields.
      assert.equal(r.status, 201, JSON.stringify(r.body));
      await api('DELETE', `/containers/${r.body.Id}?force=1`);
      continue;
    }
    assert.equal(r.status, 400, `${method} ${path}: ${JSON.stringify(r.body)}`);
    assert.match(r.body.message, /^invalid JSON: json: /);
    assert.match(r.body.message, message);
  }
  // Field names in any case, as encoding/json matches them.
  const v = await api('POST', '/volumes/create', { name: 'lowercase-vol', labels: { a: 'b' } });
  assert.equal(v.status, 201, JSON.stringify(v.body));
  assert.equal(v.body.Name, 'lowercase-vol');
  assert.deepEqual(v.body.Labels, { a: 'b' });
  const run = await d.docker(['run', '-d', 'busybox', 'sleep', '60']);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  try {
    const e = await api('POST', `/containers/${id}/exec`, { cmd: ['true'], detachKeys: 'ctrl-x,x', attachStdout: true });
    assert.equal(e.status, 201, JSON.stringify(e.body));
    const inspect = await api('GET', `/exec/${e.body.Id}/json`);
    // Docker shows the parsed keys as bytes (base64 in JSON): ctrl-x, x.
    assert.deepEqual([...Buffer.from(inspect.body.DetachKeys, 'base64')], [0x18, 0x78]);
    assert.equal(inspect.body.ProcessConfig.entrypoint, 'true');
  } finally {
    await d.docker(['rm', '-f', id]);
    await d.docker(['volume', 'rm', 'lowercase-vol']);
  }
  await assertAlive('json shapes');
});

test('bodies nested deeper than 1000 levels are 400s before anything is decoded or stored', async () => {
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  const before = (await api('GET', '/containers/json?all=1')).body.length;
  for (const [path, body] of [
    ['/containers/create?name=deep', `{"Image":"busybox","Foo":${deep(5000)}}`],
    ['/containers/create?name=deep', `{"Image":"busybox","Labels":{"a":"b"},"HostConfig":{"Bar":${deep(100_000)}}}`],
    ['/networks/create', `{"Name":"deep","Foo":${deep(5000)}}`],
    ['/volumes/create', `{"Name":"deep","Foo":${deep(5000)}}`],
  ] as const) {
    const r = await api('POST', path, body);
    assert.equal(r.status, 400, `${path}: ${JSON.stringify(r.body).slice(0, 200)}`);
    assert.equal(r.body.message, 'invalid JSON: exceeded max depth');
  }
  // Brackets inside strings are not nesting.
  const c = await api('POST', '/containers/create?name=brackets', { Image: 'busybox', Labels: { a: '['.repeat(5000) } });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  assert.equal((await api('DELETE', '/containers/brackets')).status, 204);
  assert.equal((await api('GET', '/containers/json?all=1')).body.length, before);
  assert.equal((await api('GET', '/networks/deep')).status, 404);
  await assertAlive('deep bodies');
});

test('an import whose client hangs up mid-body, and an oversized JSON body, leave nothing', async () => {
  const before = await registered();
  const overlay = async () => (await readdir(join(d.dataRoot, 'overlay2'))).sort();
  const dirs = await overlay();
  // Half of a tar whose one file is announced at 8 MiB, then the client is gone.
  const tar = await buildTar([{ name: 'big', content: randomBytes(8 * 1024 * 1024) }]);
  await new Promise<void>((resolve) => {
    const sock = connect(d.socket);
    sock.on('error', () => {});
    sock.write(`POST /images/create?fromSrc=-&repo=halfway&tag=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\nContent-Length: ${tar.length}\r\n\r\n`);
    sock.write(tar.subarray(0, 4 * 1024 * 1024), () => {
      sock.destroy();
      resolve();
    });
  });
  await waitFor(async () => JSON.stringify(await overlay()) === JSON.stringify(dirs), { timeoutMs: 30_000, what: 'the staged layer to be removed' });
  assert.deepEqual(await registered(), before);

  // 40 MiB of JSON: refused (400) by its declared size, the body not buffered.
  const huge = JSON.stringify({ Name: 'x', Labels: { a: 'b'.repeat(40 * 1024 * 1024) } });
  const r = await api('POST', '/volumes/create', huge);
  assert.equal(r.status, 400);
  assert.match(r.body.message, /request body too large/);
  await assertAlive('half import and huge body');
});

/** The pid of wharfd's spawn helper (wharf-spawn, lib/spawner.ts), the one child that runs its tools. */
async function spawnHelperPid(): Promise<number> {
  const ps = await runCommand('ps', ['--ppid', String(d.pid), '-o', 'pid=,args=']);
  const line = ps.stdout.split('\n').find((l) => l.includes('wharf-spawn'));
  assert.ok(line, `no spawn helper under wharfd ${d.pid}:\n${ps.stdout}`);
  return Number(line.trim().split(/\s+/)[0]);
}

test('a NUL byte in a volume mount option fails that mount only: the spawn helper, and what runs through it, go on', async () => {
  const helper = await spawnHelperPid();
  const v = await api('POST', '/volumes/create', { Name: 'nul-opts', DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m\0' } });
  assert.equal(v.status, 201, JSON.stringify(v.body));
  // Another client's container starts alongside: its tools (mount, ip, iptables) go through the same helper.
  const [bad, good] = await Promise.all([
    d.docker(['run', '--rm', '-v', 'nul-opts:/v', 'busybox', 'true']),
    d.docker(['run', '--rm', 'busybox', 'echo', 'fine']),
  ]);
  assert.equal(bad.code, 125, bad.stderr);
  assert.match(bad.stderr, /failed to mount local volume: mount -t tmpfs .*must be a string without null bytes/);
  assert.equal(good.code, 0, good.stderr);
  assert.equal(good.stdout, 'fine\n');
  assert.equal(await spawnHelperPid(), helper, 'the spawn helper was restarted');
  assert.doesNotMatch(d.log(), /ERR_INVALID_ARG_VALUE/);
  assert.equal((await api('DELETE', '/volumes/nul-opts')).status, 204);
  await assertAlive('NUL in mount options');
});

test('a bridge name that is an iproute2 keyword (help, up, dev) is only a name: the network works and its rm leaves no link', async () => {
  const links = async () => (await runCommand('ip', ['-o', 'link', 'show'])).stdout;
  for (const name of ['help', 'up', 'dev']) {
    const c = await d.docker(['network', 'create', '-o', `com.docker.network.bridge.name=${name}`, `kw-${name}`]);
    assert.equal(c.code, 0, `${name}: ${c.stderr}`);
    const link = (await runCommand('ip', ['-o', 'addr', 'show', 'dev', name])).stdout;
    assert.match(link, /inet \d+\.\d+\.\d+\.\d+\/\d+/, `${name}: the bridge has no gateway address:\n${link}`);
    const r = await d.docker(['network', 'rm', `kw-${name}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(await links(), new RegExp(`^\\d+: ${name}[:@]`, 'm'), `${name}: the bridge was left on the host`);
  }
  await assertAlive('keyword bridge names');
});

test('a body of half a million tiny values is refused before it is parsed; a large real body is not', async () => {
  // 32 MiB of `{},` made JSON.parse build 11 million objects: seconds of a blocked daemon and a gigabyte of heap.
  const many = `{"Image":"busybox","Junk":[${'{},'.repeat(600_000)}{}]}`;
  const r = await api('POST', '/containers/create?name=many', many);
  assert.equal(r.status, 400, JSON.stringify(r.body).slice(0, 200));
  assert.equal(r.body.message, 'invalid JSON: more than 500000 values');
  const env = Array.from({ length: 100_000 }, (_, i) => `V${i}=x`);
  const c = await api('POST', '/containers/create?name=big-env', { Image: 'busybox', Env: env });
  assert.equal(c.status, 201, JSON.stringify(c.body).slice(0, 200));
  assert.equal((await api('DELETE', '/containers/big-env')).status, 204);
  assert.equal((await api('GET', '/containers/many/json')).status, 404);
  await assertAlive('many values');
});

test('clients sending maximal JSON bodies at once: two are read, the others wait unread, and every one is answered', async () => {
  const size = 31 * 1024 * 1024;
  const body = Buffer.alloc(size, 'x');
  body.write('{"Junk":"');
  body.write('"}', size - 2);
  const clients = Array.from({ length: 5 }, () => {
    const sock = connect(d.socket);
    sock.on('error', () => {});
    const c = { sock, sent: false, answer: '' };
    sock.on('data', (b: Buffer) => (c.answer += b.toString()));
    sock.write(`POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`);
    // All but the last byte: the daemon holds what it has read until the body is complete.
    sock.write(body.subarray(0, size - 1), () => (c.sent = true));
    return c;
  });
  const sent = () => clients.filter((c) => c.sent).length;
  await waitFor(() => sent() >= 2, { timeoutMs: 60_000, what: 'two bodies to be read' });
  // The daemon holds at most 64 MiB of bodies past their first MiB: the third waits, unread, until one is answered.
  const third = await waitFor(() => sent() >= 3, { timeoutMs: 3000, what: 'a third body' }).then(
    () => true,
    () => false,
  );
  assert.equal(third, false, 'the daemon read more than two 31 MiB bodies at once');
  assert.ok(await ping(d.socket), '/_ping does not answer while bodies wait');
  for (const c of clients) c.sock.write(body.subarray(size - 1));
  await waitFor(() => clients.every((c) => c.answer.includes('\r\n\r\n{')), { timeoutMs: 120_000, what: 'every body to be answered' });
  for (const c of clients) {
    assert.match(c.answer, /^HTTP\/1\.1 400 /, c.answer.slice(0, 200));
    assert.match(c.answer, /config cannot be empty in order to create a container/);
    c.sock.destroy();
  }
  await assertAlive('maximal bodies at once');
});

test('.dockerignore patterns are matched in one pass: many ** against a deep Dockerfile path do not hold the daemon', async () => {
  const ctx = join(d.root, 'redos-ctx');
  const deep = join(ctx, ...Array.from({ length: 60 }, () => 'a'));
  await mkdir(deep, { recursive: true });
  await writeFile(join(deep, 'Dockerfile'), 'FROM busybox\nLABEL deep=1\n');
  // As a backtracking RegExp, 12 `**/` tried every way of splitting the 60 directories among them.
  await writeFile(join(ctx, '.dockerignore'), `${'**/'.repeat(12)}z\n`);
  const r = await d.docker(['build', '-q', '-t', 'redos', '-f', join(deep, 'Dockerfile'), ctx], { env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const label = await d.docker(['inspect', '-f', '{{.Config.Labels.deep}}', 'redos']);
  assert.equal(label.stdout.trim(), '1');
  assert.equal((await d.docker(['rmi', 'redos'])).code, 0);
  await assertAlive('many ** in .dockerignore');
});

test('filters and globs are Go regexps, matched in linear time: (a+)+c against a long name, *a*a… against a long tag', async () => {
  const name = `${'a'.repeat(40)}b`;
  assert.equal((await api('POST', `/containers/create?name=${name}`, { Image: 'busybox' })).status, 201);
  assert.equal((await d.docker(['tag', 'busybox', `${'a'.repeat(120)}:t`])).code, 0);
  const q = (f: Record<string, string[]>) => encodeURIComponent(JSON.stringify(f));
  // A backtracking RegExp tries 2^40 ways to split the a's before failing (100 s for 30 of them).
  const ps = await socketRequest(d.socket, 'GET', `/containers/json?all=1&filters=${q({ name: ['(a+)+c'] })}`, { timeoutMs: 20_000 });
  assert.equal(ps.status, 200);
  assert.deepEqual(jsonBody(ps), []);
  const found = await socketRequest(d.socket, 'GET', `/containers/json?all=1&filters=${q({ name: ['(?i)^/A+B$'] })}`, { timeoutMs: 20_000 });
  assert.deepEqual((jsonBody(found) as Array<{ Names: string[] }>).map((c) => c.Names), [[`/${name}`]]);
  const vols = await socketRequest(d.socket, 'GET', `/volumes?filters=${q({ name: ['(a|aa)+$x'] })}`, { timeoutMs: 20_000 });
  assert.equal(vols.status, 200);
  const images = await socketRequest(d.socket, 'GET', `/images/json?filters=${q({ reference: [`${'*a'.repeat(12)}c`] })}`, { timeoutMs: 20_000 });
  assert.equal(images.status, 200);
  assert.deepEqual(jsonBody(images), []);
  assert.equal((await api('DELETE', `/containers/${name}`)).status, 204);
  assert.equal((await d.docker(['rmi', `${'a'.repeat(120)}:t`])).code, 0);
  await assertAlive('regexps in filters');
});

test('ADD of a FIFO in the build context copies the FIFO: it never waits for a writer in open(2)', async () => {
  const ctx = join(d.root, 'fifo-ctx');
  await mkdir(ctx, { recursive: true });
  assert.equal((await runCommand('mkfifo', [join(ctx, 'f')])).code, 0);
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox\nADD f /x\n');
  // Before, the open took one of libuv's four threads for good: five such builds stopped every file operation.
  const r = await d.docker(['build', '-q', '-t', 'fifo-add', ctx], { env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const run = await d.docker(['run', '--rm', 'fifo-add', 'sh', '-c', 'test -p /x && echo fifo']);
  assert.equal(run.stdout, 'fifo\n', run.stderr);
  assert.equal((await d.docker(['rmi', 'fifo-add'])).code, 0);
  await assertAlive('ADD of a FIFO');
});

/** Sends A queries to 127.0.0.11 (the embedded DNS) for `ms` milliseconds, as fast as it can, and prints how they were answered. */
const DNS_FLOOD = `
const s = require('node:dgram').createSocket('udp4');
const until = Date.now() + Number(process.argv[1]);
const rcodes = {};
s.on('message', (b) => { const r = b[3] & 15; rcodes[r] = (rcodes[r] || 0) + 1; });
s.bind(0, () => {
  let i = 0;
  const burst = () => {
    for (let k = 0; k < 20; k++, i++) {
      const q = Buffer.from('0000010000010000000000000678787878787803636f6d0000010001', 'hex');
      q.writeUInt16BE(i & 0xffff, 0);
      s.send(q, 53, '127.0.0.11');
    }
    if (Date.now() < until) setTimeout(burst, 1);
    else setTimeout(() => { console.log(JSON.stringify(rcodes)); process.exit(0); }, 1000);
  };
  burst();
});`;

test("a container's flood of DNS queries holds at most 1024 forwards (libnetwork's maxConcurrent), the rest REFUSED", async () => {
  const subnet = `10.215.${randomBytes(1)[0]}`;
  assert.equal((await d.docker(['network', 'create', '--subnet', `${subnet}.0/24`, 'dns-flood'])).code, 0);
  // An upstream address in the network that no one has: nothing answers, not even with an ICMP
  // error, so each forward waits its 3 s.
  const self = `${subnet}.50`;
  const c = await d.docker(['run', '-d', '--name', 'dns-flood', '--network', 'dns-flood', '--ip', self, '--dns', `${subnet}.51`, 'busybox', 'sleep', '300']);
  assert.equal(c.code, 0, c.stderr);
  const sandbox = (await d.docker(['inspect', '-f', '{{.NetworkSettings.SandboxKey}}', 'dns-flood'])).stdout.trim();
  const fds = async () => (await readdir(`/proc/${pid}/fd`)).length;
  const before = await fds();
  let peak = before;
  let flooding = true;
  const sampler = (async () => {
    while (flooding) {
      peak = Math.max(peak, await fds());
      await new Promise((r) => setImmediate(r));
    }
  })();
  const flood = await runCommand('nsenter', [`--net=${sandbox}`, process.execPath, '-e', DNS_FLOOD, '2500'], { timeoutMs: 60_000 });
  flooding = false;
  await sampler;
  assert.equal(flood.code, 0, flood.stderr);
  const rcodes = JSON.parse(flood.stdout) as Record<string, number>;
  assert.ok((rcodes['5'] ?? 0) > 0, `no query was REFUSED: ${flood.stdout}`);
  assert.ok(peak - before <= 1024 + 64, `the daemon held ${peak - before} more descriptors during the flood`);
  assert.equal((await d.docker(['rm', '-f', 'dns-flood'])).code, 0);
  await waitFor(async () => (await fds()) <= before + 8, { timeoutMs: 15_000, what: 'the forwards to end' });
  assert.equal((await d.docker(['network', 'rm', 'dns-flood'])).code, 0);
  await assertAlive('DNS flood');
});

test('a Dockerfile doubling a variable line after line stops at a 1 MiB expansion, not at the heap limit', async () => {
  const ctx = join(d.root, 'double-ctx');
  await mkdir(ctx, { recursive: true });
  // 16 characters doubled 20 times is 16 MiB; 25 times reached V8's string limit with 3.2 GB of heap.
  await writeFile(join(ctx, 'Dockerfile'), ['FROM busybox', 'ENV v=0123456789abcdef', ...Array.from({ length: 20 }, () => 'ENV v=$v$v'), ''].join('\n'));
  const r = await d.docker(['build', '-q', '-t', 'double', ctx], { env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 120_000 });
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /expansion of "\$v\$v" is longer than 1048576 characters/);
  assert.equal((await d.docker(['image', 'inspect', 'double'])).code, 1);
  await assertAlive('doubling variables');
});

test('a container growing its /etc/passwd to 400 MB (sparse) gets an error from exec, not 400 MB of the daemon', async () => {
  const c = await d.docker(['run', '-d', '--name', 'big-passwd', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/etc/passwd bs=1 count=0 seek=400M 2>/dev/null; touch /grown; sleep 300']);
  assert.equal(c.code, 0, c.stderr);
  await waitFor(
    async () => {
      const grown = await d.docker(['exec', 'big-passwd', 'test', '-e', '/grown']);
      return grown.code === 0 || (grown.stdout + grown.stderr).includes('larger than');
    },
    { timeoutMs: 30_000, what: 'the container to grow its passwd' },
  );
  // Every exec resolves the user in the container's passwd, read whole before.
  const r = await d.docker(['exec', 'big-passwd', 'true']);
  assert.notEqual(r.code, 0);
  // The Docker CLI prints an exec's start error on its output stream.
  assert.match(r.stdout + r.stderr, /\/etc\/passwd in the container is larger than 32 MiB/);
  assert.equal((await d.docker(['rm', '-f', 'big-passwd'])).code, 0);
  await assertAlive('a huge passwd');
});

test('a path or name longer than PATH_MAX fails the start or exec at once, with no conmon or runc left waiting', async () => {
  // runc echoes such a string in its error, and conmon reads runc's stderr only once runc exits:
  // past the pipe's 64 KiB both waited on each other until the daemon's 60 s timeout.
  const long = `/${'a'.repeat(70_000)}`;
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['MaskedPaths', { MaskedPaths: [long] }, /linux\.maskedPaths\[0\] is 70001 bytes long: file name too long/],
    ['CgroupParent', { CgroupParent: long.slice(1) }, /linux\.cgroupsPath is \d+ bytes long: file name too long/],
    ['Ulimits', { Ulimits: [{ Name: long.slice(1), Soft: 1, Hard: 1 }] }, /process\.rlimits\[0\]\.type is 70007 bytes long/],
  ];
  for (const [what, hostConfig, message] of cases) {
    const c = await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: hostConfig });
    assert.equal(c.status, 201, `${what}: ${JSON.stringify(c.body)}`);
    const id = c.body.Id as string;
    const r = await d.docker(['start', id]);
    assert.equal(r.code, 1, what);
    assert.match(r.stderr, message, what);
    const ps = await runCommand('ps', ['-eo', 'args']);
    assert.doesNotMatch(ps.stdout, new RegExp(`(conmon|runc).*${id}`), `${what}: a conmon or runc of the container is left`);
    assert.equal((await d.docker(['inspect', '-f', '{{.State.Status}}', id])).stdout.trim(), 'created', what);
    assert.equal((await d.docker(['rm', id])).code, 0, what);
  }
  assert.equal((await d.docker(['run', '-d', '--name', 'long-exec', 'busybox', 'sleep', '300'])).code, 0);
  const cwd = await d.docker(['exec', '-w', long, 'long-exec', 'pwd']);
  assert.notEqual(cwd.code, 0);
  assert.match(cwd.stdout + cwd.stderr, /cwd is 70001 bytes long: file name too long/);
  const arg0 = await d.docker(['exec', 'long-exec', long]);
  assert.match(arg0.stdout + arg0.stderr, /args\[0\] is 70001 bytes long: file name too long/);
  // A long argument after the first is only data.
  const echo = await d.docker(['exec', 'long-exec', 'sh', '-c', 'echo "${#1}"', 'sh', long]);
  assert.equal(echo.stdout.trim(), '70001', echo.stderr);
  assert.equal((await d.docker(['rm', '-f', 'long-exec'])).code, 0);
  await assertAlive('long paths');
});

test("a NUL byte in an archive path is Go's lstat error, naming no path of the daemon's", async () => {
  const created = await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'] });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.Id as string;
  try {
    for (const method of ['GET', 'PUT']) {
      const r = await api(method, `/containers/${id}/archive?path=/tmp%00x`, method === 'PUT' ? Buffer.alloc(1024) : undefined);
      assert.equal(r.status, 500, `${method}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.message, 'lstat /tmp\u0000x: invalid argument', method);
    }
    // HEAD has no body: the status and the error header only.
    const head = await socketRequest(d.socket, 'HEAD', `/containers/${id}/archive?path=/etc%00x`);
    assert.equal(head.status, 500);
    assert.doesNotMatch(d.log(), /without null bytes/);
  } finally {
    await api('DELETE', `/containers/${id}`);
  }
});
