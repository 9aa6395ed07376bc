/**
 * Volumes and mounts against a real wharfd, through the Docker CLI and wharf: named volumes,
 * copy-up, binds (ro/rw, created for -v, refused for --mount), tmpfs mounts, --volumes-from,
 * the local driver's tmpfs option, in-use errors, rm -v / --rm, prune, restore after a daemon
 * restart, and no mounts left behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import tar from 'tar-stream';
import { buildBusyboxRootfsBuffer, BUSYBOX_IMAGE_CHANGES } from '../fixtures/busybox.js';
import { countLeaks, loadBusybox, runCommand, startDaemon, waitFor, type Daemon } from './harness.js';
import { socketJson } from '../lib/http.js';

let d: Daemon;
let hostDir: string;

/** busybox plus /seed (1234:5678, 0750) holding `hello` (1000:1000, 0640, xattr user.wharf=yes). */
async function seededRootfs(): Promise<Buffer> {
  const extract = tar.extract();
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const out = new PassThrough();
  out.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((r) => out.on('end', () => r()));
  pack.pipe(out);
  extract.on('entry', (header, stream, next) => {
    stream.pipe(pack.entry(header, next));
  });
  const finished = new Promise<void>((r) => extract.on('finish', () => r()));
  extract.end(await buildBusyboxRootfsBuffer());
  await finished;
  pack.entry({ name: 'seed/', type: 'directory', mode: 0o750, uid: 1234, gid: 5678 });
  pack.entry({ name: 'seed/hello', mode: 0o640, uid: 1000, gid: 1000, pax: { 'SCHILY.xattr.user.wharf': 'yes' } }, 'seeded\n');
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
  const changes = [...BUSYBOX_IMAGE_CHANGES, 'VOLUME /seed'].flatMap((c) => ['--change', c]);
  const r = await d.wharf(['import', ...changes, '-', 'seeded:latest'], { input: await seededRootfs(), timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  hostDir = await mkdtemp(join(d.root, 'host-'));
});
after(async () => {
  await d?.cleanup();
});

async function docker(args: string[]): Promise<string> {
  const r = await d.docker(args);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
async function wharf(args: string[]): Promise<string> {
  const r = await d.wharf(args);
  assert.equal(r.code, 0, `wharf ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const mountsUnderDataRoot = async () => (await countLeaks(d)).details.mounts;

describe('volumes', () => {
  test('a named volume keeps data across containers; inspect shows Docker\'s MountPoint', async () => {
    assert.equal(await docker(['volume', 'create', '--label', 'team=a', 'keep']), 'keep\n');
    await docker(['run', '--rm', '-v', 'keep:/data', 'busybox', 'sh', '-c', 'echo persisted > /data/f']);
    assert.equal(await docker(['run', '--rm', '-v', 'keep:/data:ro', 'busybox', 'cat', '/data/f']), 'persisted\n');
    const id = (await docker(['create', '-v', 'keep:/data', 'busybox', 'true'])).trim();
    const mounts = JSON.parse(await docker(['inspect', '-f', '{{json .Mounts}}', id]));
    assert.deepEqual(mounts, [
      { Type: 'volume', Name: 'keep', Source: join(d.dataRoot, 'volumes/keep/_data'), Destination: '/data', Driver: 'local', Mode: 'z', RW: true, Propagation: '' },
    ]);
    assert.equal((await docker(['ps', '-a', '--filter', `id=${id}`, '--format', '{{.Mounts}}'])).trim(), 'keep');
    const v = JSON.parse(await wharf(['volume', 'inspect', 'keep']))[0];
    assert.deepEqual(Object.keys(v), ['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope']);
    assert.deepEqual(v.Labels, { team: 'a' });
    const inUse = await d.docker(['volume', 'rm', 'keep']);
    assert.equal(inUse.code, 1);
    assert.equal(inUse.stderr.trim(), `Error response from daemon: remove keep: volume is in use - [${id}]`);
    const wharfInUse = await d.wharf(['volume', 'rm', 'keep']);
    assert.equal(wharfInUse.code, 1);
    assert.match(wharfInUse.stderr, new RegExp(`remove keep: volume is in use - \\[${id}\\]`));
    await docker(['rm', id]);
    assert.equal(await wharf(['volume', 'rm', 'keep']), 'keep\n');
    const gone = await d.docker(['volume', 'inspect', 'keep']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /get keep: no such volume/);
  });

  test('copy-up: an image VOLUME and a new named volume get the image content with owners, modes, xattrs; nocopy does not', async () => {
    const id = (await docker(['run', '-d', 'seeded', 'sleep', '30'])).trim();
    const [m] = JSON.parse(await docker(['inspect', '-f', '{{json .Mounts}}', id]));
    assert.match(m.Name, /^[0-9a-f]{64}$/);
    assert.equal(m.Destination, '/seed');
    const labels = JSON.parse(await docker(['volume', 'inspect', '-f', '{{json .Labels}}', m.Name]));
    assert.deepEqual(labels, { 'com.docker.volume.anonymous': '' });
    assert.equal(await readFile(join(m.Source, 'hello'), 'utf8'), 'seeded\n');
    const dirSt = await stat(m.Source);
    assert.deepEqual([dirSt.uid, dirSt.gid, dirSt.mode & 0o7777], [1234, 5678, 0o750]);
    const fileSt = await stat(join(m.Source, 'hello'));
    assert.deepEqual([fileSt.uid, fileSt.gid, fileSt.mode & 0o7777], [1000, 1000, 0o640]);
    const x = await runCommand('getfattr', ['--only-values', '-n', 'user.wharf', join(m.Source, 'hello')]);
    assert.equal(x.stdout, 'yes');
    await docker(['rm', '-f', '-v', id]);
    assert.equal(existsSync(m.Source), false, 'rm -v removed the anonymous volume');

    assert.equal(await docker(['run', '--rm', '-v', 'fresh:/seed', 'seeded', 'cat', '/seed/hello']), 'seeded\n');
    assert.equal(await docker(['run', '--rm', '-v', 'empty:/seed:nocopy', 'seeded', 'ls', '-A', '/seed']), '');
    assert.equal(await docker(['run', '--rm', '--mount', 'type=volume,src=empty2,dst=/seed,volume-nocopy', 'seeded', 'ls', '-A', '/seed']), '');
    await docker(['volume', 'rm', 'fresh', 'empty', 'empty2']);
  });

  test('a relative image VOLUME is kept as written and mounted below /, with the image content', async () => {
    const r = await d.wharf(['import', ...[...BUSYBOX_IMAGE_CHANGES, 'VOLUME seed'].flatMap((c) => ['--change', c]), '-', 'relvol:latest'], { input: await seededRootfs(), timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const id = (await docker(['run', '-d', 'relvol', 'sleep', '30'])).trim();
    const [m] = JSON.parse(await docker(['inspect', '-f', '{{json .Mounts}}', id]));
    assert.equal(m.Destination, 'seed');
    assert.equal(await readFile(join(m.Source, 'hello'), 'utf8'), 'seeded\n');
    const mounted = await docker(['exec', id, 'sh', '-c', 'grep -c " /seed " /proc/self/mounts; cat /seed/hello']);
    assert.equal(mounted, '1\nseeded\n');
    await docker(['rm', '-f', '-v', id]);
    await docker(['rmi', 'relvol']);
  });

  test('a VOLUME or -v /path over a file of the image is refused with Docker\'s error at create; --rm leaves nothing', async () => {
    const r = await d.wharf(['import', ...[...BUSYBOX_IMAGE_CHANGES, 'VOLUME /etc/passwd'].flatMap((c) => ['--change', c]), '-', 'volfile:latest'], { input: await seededRootfs(), timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    for (const args of [['volfile', 'true'], ['-v', '/etc/passwd', 'busybox', 'true']]) {
      const run = await d.docker(['run', '--rm', '--name', 'volfile', ...args]);
      assert.equal(run.code, 125, run.stdout);
      assert.match(run.stderr, /Error response from daemon: cannot mount volume over existing file, file exists \/\S+\/etc\/passwd\n/);
      assert.equal((await docker(['ps', '-aq', '--filter', 'name=^volfile$'])).trim(), '');
    }
    // Docker refuses at create (it stats the destination in the new rootfs), leaving neither a
    // container nor its anonymous volume; so does a build's VOLUME step, its container's create.
    const volumesBefore = await docker(['volume', 'ls', '-q']);
    const created = await d.docker(['create', '--name', 'volfile', '-v', '/etc/passwd', 'busybox', 'true']);
    assert.equal(created.code, 1, created.stdout);
    assert.match(created.stderr, /^Error response from daemon: cannot mount volume over existing file, file exists \/\S+\/merged\/etc\/passwd\n$/);
    assert.equal((await docker(['ps', '-aq', '--filter', 'name=^volfile$'])).trim(), '');
    assert.equal(await docker(['volume', 'ls', '-q']), volumesBefore);
    // A directory, or a path the image does not have, is fine.
    const dirOk = await d.docker(['create', '--name', 'voldir', '-v', '/etc', '-v', '/not/there', 'busybox', 'true']);
    assert.equal(dirOk.code, 0, dirOk.stderr);
    await docker(['rm', '-v', 'voldir']);
    const built = await d.docker(['build', '-'], { input: 'FROM busybox\nVOLUME /etc/passwd\nRUN echo not reached\n', env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 60_000 });
    assert.equal(built.code, 1, built.stdout);
    assert.match(built.stdout, /Step 2\/3 : VOLUME \/etc\/passwd\n(?!.*not reached)/s);
    assert.match(built.stderr, /cannot mount volume over existing file, file exists \/\S+\/etc\/passwd/);
    await docker(['rmi', 'volfile']);
  });

  test('binds: rw and ro, -v makes a missing host path, --mount refuses it', async () => {
    await writeFile(join(hostDir, 'in'), 'from host\n');
    assert.equal(await docker(['run', '--rm', '-v', `${hostDir}:/h`, 'busybox', 'sh', '-c', 'cat /h/in; echo back > /h/out']), 'from host\n');
    assert.equal(await readFile(join(hostDir, 'out'), 'utf8'), 'back\n');
    const ro = await d.docker(['run', '--rm', '-v', `${hostDir}:/h:ro`, 'busybox', 'sh', '-c', 'echo x > /h/ro-write']);
    assert.notEqual(ro.code, 0);
    assert.match(ro.stderr, /Read-only file system/);
    assert.equal(existsSync(join(hostDir, 'ro-write')), false);
    const roMount = await d.docker(['run', '--rm', '--mount', `type=bind,src=${hostDir},dst=/h,readonly`, 'busybox', 'touch', '/h/y']);
    assert.notEqual(roMount.code, 0);

    const made = join(hostDir, 'made/by/v');
    await docker(['run', '--rm', '-v', `${made}:/m`, 'busybox', 'true']);
    assert.ok((await stat(made)).isDirectory());
    const missing = join(hostDir, 'not-there');
    const r = await d.docker(['run', '--rm', '--mount', `type=bind,source=${missing},target=/x`, 'busybox', 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, new RegExp(`invalid mount config for type "bind": bind source path does not exist: ${missing}`));
    assert.equal(existsSync(missing), false);

    const dup = await d.docker(['run', '--rm', '-v', `${hostDir}:/x`, '-v', 'dupvol:/x', 'busybox', 'true']);
    assert.equal(dup.code, 125);
    assert.match(dup.stderr, /Duplicate mount point: \/x/);
    // The Docker CLI sends -v binds in Go map order: when dupvol comes first it is created before
    // the duplicate is seen, and it stays (moby keeps it too). Later tests count volumes.
    await d.docker(['volume', 'rm', '-f', 'dupvol']);
    const bad = await d.docker(['run', '--rm', '-v', `${hostDir}:/x:bogus`, 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /invalid mode: bogus/);
  });

  test('a bind of the data root, in it or holding it, is rslave unless rshared; other propagations are refused (moby)', async () => {
    const propagation = async (id: string) => (await docker(['inspect', '-f', '{{range .Mounts}}{{.Propagation}}{{end}}', id])).trim();
    for (const src of [d.dataRoot, join(d.dataRoot, 'containers'), '/']) {
      for (const [how, args] of [
        ['-v', ['-v', `${src}:/foo`]],
        ['--mount', ['--mount', `type=bind,src=${src},dst=/foo`]],
      ] as const) {
        const id = (await docker(['create', ...args, 'busybox', 'true'])).trim();
        assert.equal(await propagation(id), 'rslave', `${how} ${src}`);
        await docker(['rm', id]);
      }
      const shared = (await docker(['create', '-v', `${src}:/foo:rshared`, 'busybox', 'true'])).trim();
      assert.equal(await propagation(shared), 'rshared');
      await docker(['rm', shared]);
      for (const p of ['private', 'rprivate', 'slave', 'shared']) {
        const r = await d.docker(['create', '--mount', `type=bind,src=${src},dst=/foo,bind-propagation=${p}`, 'busybox', 'true']);
        assert.equal(r.code, 1, `${src} ${p}`);
        assert.match(r.stderr, new RegExp(`must use either propagation mode "rslave" or "rshared" when mount source is within the daemon root, daemon root: "${d.dataRoot}", bind mount source: "${src}", propagation: "${p}"`));
      }
    }
    // A bind elsewhere keeps the default, shown empty as Docker shows it.
    const other = (await docker(['create', '-v', `${hostDir}:/foo`, 'busybox', 'true'])).trim();
    assert.equal(await propagation(other), 'rprivate');
    await docker(['rm', other]);
  });

  test('a read-only bind is read-only below its submounts too (rro, API 1.44), unless asked or the client is older', async () => {
    const src = join(hostDir, 'rro');
    const sub = join(src, 'sub');
    await mkdir(sub, { recursive: true });
    await runCommand('mount', ['-t', 'tmpfs', 'tmpfs', sub]);
    try {
      const write = (args: string[], env?: Record<string, string>) => d.docker(['run', '--rm', ...args, 'busybox', 'sh', '-c', 'touch /h/sub/w && echo wrote'], env ? { env } : {});
      const rro = await write(['-v', `${src}:/h:ro`]);
      assert.match(rro.stderr, /touch: \/h\/sub\/w: Read-only file system/);
      assert.equal(existsSync(join(sub, 'w')), false);
      // Before API 1.44 read-only binds were read-only on their top mount only.
      assert.equal((await write(['-v', `${src}:/h:ro`], { DOCKER_API_VERSION: '1.43' })).stdout, 'wrote\n');
      await rm(join(sub, 'w'));
      assert.equal((await write(['--mount', `type=bind,src=${src},dst=/h,readonly,bind-recursive=writable`])).stdout, 'wrote\n');
      await rm(join(sub, 'w'));
      const forced = await write(['--mount', `type=bind,src=${src},dst=/h,readonly,bind-recursive=readonly,bind-propagation=rprivate`]);
      assert.match(forced.stderr, /Read-only file system/);
      const old = await socketJson(d.socket, 'POST', '/v1.43/containers/create', {
        body: { Image: 'busybox', HostConfig: { Mounts: [{ Type: 'bind', Source: src, Target: '/h', ReadOnly: true, BindOptions: { ReadOnlyForceRecursive: true } }] } },
      });
      assert.deepEqual(old, { status: 400, json: { message: 'BindOptions.ReadOnlyForceRecursive needs API v1.44 or newer' } });
    } finally {
      await runCommand('umount', [sub]);
    }
    // BindOptions.CreateMountpoint: a missing source is made, as with -v.
    const made = join(hostDir, 'created/by/mount');
    const created = await socketJson<{ Id: string }>(d.socket, 'POST', '/v1.50/containers/create', {
      body: { Image: 'busybox', Cmd: ['true'], HostConfig: { Mounts: [{ Type: 'bind', Source: made, Target: '/m', BindOptions: { CreateMountpoint: true } }] } },
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    await docker(['start', '-a', created.json.Id]);
    assert.ok((await stat(made)).isDirectory());
    await docker(['rm', created.json.Id]);
  });

  test('--mount tmpfs with size and --tmpfs', async () => {
    const df = await docker(['run', '--rm', '--mount', 'type=tmpfs,target=/t,tmpfs-size=10m,tmpfs-mode=1770', 'busybox', 'sh', '-c', 'df -k /t | tail -1; stat -c %a /t']);
    const [line, mode] = df.trim().split('\n');
    assert.match(line!, /^tmpfs\s+10240\s/);
    assert.equal(mode, '1770');
    assert.match(await docker(['run', '--rm', '--tmpfs', '/tt:size=2m', 'busybox', 'df', '-k', '/tt']), /tmpfs\s+2048\s/);
  });

  test('--volumes-from shares the volumes and binds, :ro makes them read-only', async () => {
    await docker(['create', '--name', 'donor', '-v', 'shared:/s', '-v', `${hostDir}:/h`, '-v', '/anon', 'busybox', 'true']);
    await docker(['run', '--rm', '--volumes-from', 'donor', 'busybox', 'sh', '-c', 'echo one > /s/f; echo two > /anon/g']);
    assert.equal(await docker(['run', '--rm', '--volumes-from', 'donor:ro', 'busybox', 'sh', '-c', 'cat /s/f /anon/g; ls /h/in']), 'one\ntwo\n/h/in\n');
    const ro = await d.docker(['run', '--rm', '--volumes-from', 'donor:ro', 'busybox', 'touch', '/s/x']);
    assert.notEqual(ro.code, 0);
    const missing = await d.docker(['run', '--rm', '--volumes-from', 'nobody', 'busybox', 'true']);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /No such container: nobody/);
    const anon = JSON.parse(await docker(['inspect', '-f', '{{json .Mounts}}', 'donor'])).find((m: { Destination: string }) => m.Destination === '/anon').Name;
    await docker(['rm', '-v', 'donor']);
    assert.equal((await d.docker(['volume', 'inspect', anon])).code, 1, 'anonymous volume removed with rm -v');
    assert.equal(await docker(['volume', 'ls', '-q', '--filter', 'name=^shared$']), 'shared\n', 'named volume kept');
    await docker(['volume', 'rm', 'shared']);
  });

  test('run --rm removes anonymous volumes, keeps named ones', async () => {
    const before = new Set((await docker(['volume', 'ls', '-q'])).split('\n').filter(Boolean));
    await docker(['run', '--rm', '-v', '/a', '-v', 'kept:/k', '--mount', 'type=volume,dst=/b', 'busybox', 'true']);
    const now = (await docker(['volume', 'ls', '-q'])).split('\n').filter((n) => n && !before.has(n));
    assert.deepEqual(now, ['kept']);
    await docker(['volume', 'rm', 'kept']);
  });

  test('local driver tmpfs option: mounted while used, unmounted after', async () => {
    await docker(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=10m', 'tv']);
    const opts = JSON.parse(await docker(['volume', 'inspect', '-f', '{{json .Options}}', 'tv']));
    assert.deepEqual(opts, { type: 'tmpfs', device: 'tmpfs', o: 'size=10m' });
    const data = join(d.dataRoot, 'volumes/tv/_data');
    const id = (await docker(['run', '-d', '-v', 'tv:/t', 'busybox', 'sh', '-c', 'echo in-tmpfs > /t/f; sleep 30'])).trim();
    assert.ok((await mountsUnderDataRoot()).includes(data), 'volume mounted while in use');
    // The container's write lands in the tmpfs mounted at the volume's _data.
    await waitFor(async () => (await readFile(join(data, 'f'), 'utf8').catch(() => '')) === 'in-tmpfs\n', { what: 'write into the tmpfs volume' });
    await docker(['rm', '-f', id]);
    assert.ok(!(await mountsUnderDataRoot()).includes(data), 'unmounted after the last user');
    await docker(['volume', 'rm', 'tv']);
    const bad = await d.docker(['volume', 'create', '-o', 'type=tmpfs', 'bad']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /create bad: missing required option: "device"/);
    // A bind of a missing device: mount(2)'s error, as moby's local driver words it.
    await docker(['volume', 'create', '-o', 'type=none', '-o', 'o=bind', '-o', 'device=/nonexistent-wharf-dev', 'nodev']);
    const r = await d.docker(['run', '--rm', '-v', 'nodev:/x', 'busybox', 'true']);
    // The Docker CLI's exit code for a start error that says "no such file or directory".
    assert.equal(r.code, 127);
    const nodev = join(d.dataRoot, 'volumes/nodev/_data');
    assert.ok(
      r.stderr.includes(`error while mounting volume '${nodev}': failed to mount local volume: mount /nonexistent-wharf-dev:${nodev}, flags: 0x1000: no such file or directory`),
      r.stderr,
    );
    await docker(['volume', 'rm', 'nodev']);
  });

  test('prune: anonymous only by default, --all for named; filters', async () => {
    await docker(['volume', 'create', 'named1']);
    await docker(['volume', 'create', '--label', 'keep=1', 'named2']);
    const anon = (await docker(['volume', 'create'])).trim();
    assert.match(anon, /^[0-9a-f]{64}$/);
    const used = (await docker(['create', '-v', 'usedvol:/u', 'busybox', 'true'])).trim();
    assert.equal(await docker(['volume', 'ls', '-q', '--filter', 'dangling=false']), 'usedvol\n');
    const maybe = await d.docker(['volume', 'ls', '--filter', 'dangling=maybe']);
    assert.deepEqual([maybe.code, maybe.stderr.trim()], [1, "Error response from daemon: invalid filter 'dangling=[maybe]'"]);
    assert.equal(await docker(['volume', 'ls', '--filter', 'label=keep', '--format', '{{.Name}} {{.Labels}}']), 'named2 keep=1\n');
    const p1 = await docker(['volume', 'prune', '-f']);
    assert.equal(p1, `Deleted Volumes:\n${anon}\n\nTotal reclaimed space: 0B\n`);
    const p2 = await docker(['volume', 'prune', '-f', '--all', '--filter', 'label!=keep']);
    assert.equal(p2, 'Deleted Volumes:\nnamed1\n\nTotal reclaimed space: 0B\n');
    assert.equal(await wharf(['volume', 'prune', '-f']), 'Total reclaimed space: 0B\n');
    assert.equal(await wharf(['volume', 'ls', '--format', '{{.Driver}} {{.Name}}']), 'local named2\nlocal usedvol\n');
    await docker(['rm', used]);
    await docker(['volume', 'rm', 'named2', 'usedvol']);
  });

  test('volume references survive a daemon restart; a tmpfs volume stays mounted for its running container', async () => {
    await docker(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', 'rv']);
    const id = (await docker(['run', '-d', '-v', 'rv:/t', 'busybox', 'sleep', '60'])).trim();
    await d.restart();
    const inUse = await d.docker(['volume', 'rm', 'rv']);
    assert.match(inUse.stderr, /volume is in use/);
    const data = join(d.dataRoot, 'volumes/rv/_data');
    assert.ok((await mountsUnderDataRoot()).includes(data));
    await docker(['rm', '-f', id]);
    assert.ok(!(await mountsUnderDataRoot()).includes(data));
    await docker(['volume', 'rm', 'rv']);
  });

  test('--mount type=image (API 1.48): the image read-only, a subpath of it, across a restart; rm leaves no layer', async () => {
    const layerRecords = async () => (await readdir(join(d.dataRoot, 'image/overlay2/layerdb/mounts'))).length;
    const before = await layerRecords();
    assert.equal(await docker(['run', '--rm', '--mount', 'type=image,source=seeded,target=/img', 'busybox', 'cat', '/img/seed/hello']), 'seeded\n');
    // Read-only, and the image as it is: no init-layer files (/.dockerenv, /etc/hosts stubs).
    const ro = await d.docker(['run', '--rm', '--mount', 'type=image,source=seeded,target=/img', 'busybox', 'sh', '-c', 'test ! -e /img/.dockerenv && touch /img/x']);
    assert.match(ro.stderr, /Read-only file system/);
    assert.equal(await docker(['run', '--rm', '--mount', 'type=image,source=seeded,target=/img,image-subpath=seed', 'busybox', 'cat', '/img/hello']), 'seeded\n');
    const id = (await docker(['create', '--mount', 'type=image,source=seeded,target=/img', 'busybox', 'cat', '/img/seed/hello'])).trim();
    assert.deepEqual(JSON.parse(await docker(['inspect', '-f', '{{json .Mounts}}', id])).map((m: Record<string, unknown>) => [m.Type, m.Name, m.Destination, m.RW, m.Propagation]), [['image', 'seeded', '/img', false, 'rprivate']]);
    await d.restart();
    assert.equal(await docker(['start', '-a', id]), 'seeded\n');
    await docker(['rm', id]);
    assert.equal(await layerRecords(), before, 'the image mounts\' layers are gone');
    // Refused as dockerd refuses them.
    const noSource = await d.docker(['run', '--rm', '--mount', 'type=image,target=/img', 'busybox', 'true']);
    assert.match(noSource.stderr, /invalid mount config for type "image": field Source must not be empty/);
    const escape = await d.docker(['run', '--rm', '--mount', 'type=image,source=seeded,target=/img,image-subpath=../x', 'busybox', 'true']);
    assert.match(escape.stderr, /invalid mount config for type "image": subpath must be a relative path within the volume/);
    const old = await socketJson(d.socket, 'POST', '/v1.47/containers/create', { body: { Image: 'busybox', HostConfig: { Mounts: [{ Type: 'image', Source: 'seeded', Target: '/img' }] } } });
    assert.deepEqual(old, { status: 400, json: { message: 'Mount type "Image" needs API v1.48 or newer' } });
    assert.equal(await layerRecords(), before, 'refused creates leave no layer');
  });

  test('no mounts left under the data root once containers are gone', async () => {
    await docker(['container', 'prune', '-f']);
    const leaks = await countLeaks(d);
    assert.deepEqual(leaks.details.mounts.filter((m) => m.includes('/volumes/')), []);
    await rm(hostDir, { recursive: true, force: true });
  });
});
