/**
 * ImageService end to end on a real data root (root): import a rootfs tarball, list, inspect,
 * tag, untag, remove (with Docker's conflict messages), save, load the saved archive back, and
 * load archives shaped like Docker 28's `docker save` and the older docker-archive.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import type { OciPlatform, ProgressMessage } from '../../src/api/types.js';
import { ImageService, type ImageUser } from '../../src/daemon/images/service.js';
import { buildDockerArchive, buildTar } from '../fixtures/docker-archive.js';
import { tarFiles } from '../lib/tar-files.js';

let root: string;
let svc: ImageService;
const users = new Map<string, ImageUser[]>();

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'wharf-images-'));
  svc = new ImageService({ dataRoot: root, containersUsingImage: (id) => users.get(id) ?? [] });
  await svc.init();
});

after(async () => {
  for (const id of ['ctr-1', 'ctr-2']) await svc.layers.removeRWLayer(id).catch(() => {});
  await rm(root, { recursive: true, force: true });
});

async function collect(it: AsyncIterable<ProgressMessage>): Promise<ProgressMessage[]> {
  const out: ProgressMessage[] = [];
  for await (const m of it) out.push(m);
  return out;
}

async function rootfs(): Promise<Buffer> {
  return buildTar([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/hello', content: '#!/bin/sh\necho hello\n', mode: 0o755 },
    { name: 'bin/suid', content: 'x', mode: 0o4755 },
    { name: 'etc/', type: 'directory' },
    { name: 'etc/motd', content: 'welcome\n' },
    { name: 'sh', type: 'symlink', linkname: 'bin/hello' },
  ]);
}

async function saveToBuffer(names: string[], platform?: OciPlatform): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise((r) => out.on('end', r));
  await svc.save(names, out, platform);
  await ended;
  return Buffer.concat(chunks);
}

let importedId = '';

test('import a gzipped rootfs with changes, then list and inspect it', async () => {
  const msgs = await collect(
    svc.importImage(Readable.from([gzipSync(await rootfs())]), {
      repo: 'wharf-test/imported',
      tag: 'v1',
      changes: ['CMD ["/bin/hello"]', 'ENV A=1 B=2', 'LABEL team=wharf', 'EXPOSE 8080', 'WORKDIR /srv'],
    }),
  );
  assert.equal(msgs.length, 1);
  assert.match(msgs[0]!.status!, /^sha256:[a-f0-9]{64}$/);
  importedId = msgs[0]!.status!;

  const list = await svc.list({ all: false, filters: {}, digests: false });
  const item = list.find((i) => i.Id === importedId)!;
  assert.deepEqual(item.RepoTags, ['wharf-test/imported:v1']);
  assert.equal(item.Containers, 0, 'no container was made from it');
  assert.equal(item.SharedSize, -1);
  assert.deepEqual(item.Labels, { team: 'wharf' });
  assert.ok(item.Size > 0);
  assert.ok(Math.abs(item.Created - Date.now() / 1000) < 60);

  const ins = await svc.inspect('wharf-test/imported:v1');
  assert.equal(ins.Id, importedId);
  assert.equal(ins.Os, 'linux');
  assert.equal(ins.Architecture, process.arch === 'x64' ? 'amd64' : ins.Architecture);
  assert.equal(ins.Comment, 'Imported from -');
  assert.deepEqual(ins.Config.Cmd, ['/bin/hello']);
  assert.deepEqual(ins.Config.Env, ['A=1', 'B=2']);
  assert.deepEqual(ins.Config.ExposedPorts, { '8080/tcp': {} });
  assert.equal(ins.Config.WorkingDir, '/srv');
  assert.equal(ins.RootFS.Layers.length, 1);
  assert.equal(ins.GraphDriver.Name, 'overlay2');
  const upper = ins.GraphDriver.Data!.UpperDir;
  assert.equal(lstatSync(join(upper!, 'bin/suid')).mode & 0o7777, 0o4755);
  assert.equal(readFileSync(join(upper!, 'etc/motd'), 'utf8'), 'welcome\n');
  assert.ok(lstatSync(join(upper!, 'sh')).isSymbolicLink());
  assert.notEqual(ins.Metadata.LastTagTime, '0001-01-01T00:00:00Z');

  // Lookups by full ID, bare hex, short prefix and sha256: prefix resolve to the same image.
  for (const ref of [importedId, importedId.slice(7), importedId.slice(7, 19), importedId.slice(0, 15)]) {
    assert.equal((await svc.resolve(ref)).id, importedId, ref);
  }
  const resolved = await svc.resolve('wharf-test/imported:v1');
  assert.deepEqual(resolved.references, ['wharf-test/imported:v1']);
  assert.equal(resolved.topChainId, ins.RootFS.Layers[0]);

  const repos = JSON.parse(readFileSync(join(root, 'image/overlay2/repositories.json'), 'utf8'));
  assert.deepEqual(repos, { Repositories: { 'wharf-test/imported': { 'wharf-test/imported:v1': importedId } } });
  assert.ok(existsSync(join(root, 'image/overlay2/imagedb/content/sha256', importedId.slice(7))));

  const hist = await svc.history(importedId);
  assert.equal(hist.length, 1);
  assert.equal(hist[0]!.Id, importedId);
  assert.deepEqual(hist[0]!.Tags, ['wharf-test/imported:v1']);
  assert.equal(hist[0]!.Comment, 'Imported from -');
});

test('an empty stream imports as an empty layer; platforms parse as containerd does; before/since are exact', async () => {
  const importEmpty = async (platform?: string, changes: string[] = []) =>
    (await collect(svc.importImage(Readable.from([Buffer.alloc(0)]), { changes, ...(platform ? { platform } : {}) })))[0]!.status!;
  const sparc = await importEmpty('LINUX/sparc64', ['ENV P=/a', 'ENV P=/b:$P Q=${P}x']);
  const ins = await svc.inspect(sparc);
  assert.deepEqual([ins.Os, ins.Architecture, ins.Size], ['linux', 'sparc64', 0]);
  // ENV changes expand the variables set so far, as Docker's Dockerfile dispatcher does.
  assert.deepEqual(ins.Config.Env, ['P=/b:/a', 'Q=/ax']);
  await assert.rejects(importEmpty('nintendo64'), { message: '"nintendo64": unknown operating system or architecture: invalid argument' });
  await assert.rejects(importEmpty('macos'), { message: 'operating system is not supported' });
  await assert.rejects(importEmpty('linux/arm64/v8/x'), { message: '"linux/arm64/v8/x": cannot parse platform specifier: invalid argument' });
  await assert.rejects(importEmpty('linux/ '), { message: /^" " is an invalid component of "linux\/ ": platform specifier component must match/ });
  // Three images within one second: before/since compare the full creation time.
  const ids = [await importEmpty(undefined, ['LABEL n=1']), await importEmpty(undefined, ['LABEL n=2']), await importEmpty(undefined, ['LABEL n=3'])];
  const between = await svc.list({ all: true, filters: { since: [ids[0]!], before: [ids[2]!] }, digests: false });
  assert.deepEqual(between.map((i) => i.Id), [ids[1]]);
  for (const id of [sparc, ...ids]) await svc.remove(id, { force: false, noprune: false });
});

test('inspect and history with a platform: the image\'s own, or Docker\'s NotFound naming both', async () => {
  const own = await svc.inspect(importedId);
  const other = own.Architecture === 'arm64' ? 'amd64' : 'arm64';
  assert.equal((await svc.inspect(importedId, { os: 'linux', architecture: own.Architecture })).Id, importedId);
  assert.ok((await svc.history(importedId, { os: 'linux', architecture: own.Architecture })).length > 0);
  const mismatch = `image with reference ${importedId} was found but its platform (linux/${own.Architecture}) does not match the specified platform (linux/${other})`;
  await assert.rejects(svc.inspect(importedId, { os: 'linux', architecture: other }), { message: mismatch });
  await assert.rejects(svc.history(importedId, { os: 'linux', architecture: other }), { message: mismatch });
});

test("missing images and bad changes give Docker's errors", async () => {
  await assert.rejects(svc.resolve('nosuch'), { message: 'No such image: nosuch:latest' });
  await assert.rejects(svc.inspect('Foo'), { message: 'invalid reference format: repository name (library/Foo) must be lowercase' });
  await assert.rejects(collect(svc.importImage(Readable.from([Buffer.alloc(0)]), { changes: ['RUN x'] })), {
    message: 'RUN is not a valid change command',
  });
});

test('tag, untag and remove with conflicts', async () => {
  await svc.tag(importedId, 'busybox', undefined);
  await svc.tag('busybox', 'myreg:5000/x', '1');
  await assert.rejects(svc.tag('busybox', 'x', 'bad tag!'), { message: 'invalid tag format' });
  assert.deepEqual((await svc.inspect(importedId)).RepoTags.sort(), ['busybox:latest', 'myreg:5000/x:1', 'wharf-test/imported:v1']);
  assert.equal((await svc.list({ all: false, filters: { reference: ['busybox'] }, digests: false }))[0]!.RepoTags.join(), 'busybox:latest');

  // Untag one of several references.
  assert.deepEqual(await svc.remove('myreg:5000/x:1', { force: false, noprune: false }), [{ Untagged: 'myreg:5000/x:1' }]);

  // In use by a stopped container.
  users.set(importedId, [{ id: 'c'.repeat(64), running: false }]);
  await assert.rejects(svc.remove(importedId.slice(7, 19), { force: false, noprune: false }), {
    message: `conflict: unable to delete ${importedId.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`,
  });
  // One of two tags is only untagged, even though a container uses the image (Docker's single-reference rule).
  assert.deepEqual(await svc.remove('busybox', { force: false, noprune: false }), [{ Untagged: 'busybox:latest' }]);
  // The last one would leave the container's image dangling: it needs force.
  await assert.rejects(svc.remove('wharf-test/imported:v1', { force: false, noprune: false }), {
    message: `conflict: unable to remove repository reference "wharf-test/imported:v1" (must force) - container cccccccccccc is using its referenced image ${importedId.slice(7, 19)}`,
  });
  users.set(importedId, [{ id: 'd'.repeat(64), running: true }]);
  await assert.rejects(svc.remove(importedId, { force: true, noprune: false }), {
    message: `conflict: unable to delete ${importedId.slice(7, 19)} (cannot be forced) - image is being used by running container dddddddddddd`,
  });
  users.delete(importedId);

  assert.equal((await svc.inspect(importedId)).RepoTags.length, 1);
});

let savedArchive: Buffer;

test('save writes a Docker 28 archive that loads back to the same image', async () => {
  savedArchive = await saveToBuffer(['wharf-test/imported:v1']);
  const files = await tarFiles(savedArchive);
  const manifest = JSON.parse(files.get('manifest.json')!.toString());
  assert.deepEqual(manifest[0].RepoTags, ['wharf-test/imported:v1']);
  assert.equal(manifest[0].Config, `blobs/sha256/${importedId.slice(7)}`);
  assert.ok(files.has('oci-layout'));
  const index = JSON.parse(files.get('index.json')!.toString());
  assert.equal(index.manifests[0].annotations['io.containerd.image.name'], 'docker.io/wharf-test/imported:v1');
  const ins = await svc.inspect(importedId);
  assert.ok(files.has(`blobs/sha256/${ins.RootFS.Layers[0]!.slice(7)}`), 'layer blob named by its diffID');

  // Remove the image entirely (untag + delete + layer), then load it back.
  const removed = await svc.remove('wharf-test/imported:v1', { force: false, noprune: false });
  assert.deepEqual(removed, [{ Untagged: 'wharf-test/imported:v1' }, { Deleted: importedId }, { Deleted: ins.RootFS.Layers[0] }]);
  await assert.rejects(svc.resolve(importedId), /No such image/);
  assert.equal((await svc.layers.list()).length, 0);

  const msgs = await collect(svc.load(Readable.from([savedArchive]), { quiet: false }));
  assert.deepEqual(msgs, [{ stream: 'Loaded image: wharf-test/imported:v1\n' }]);
  const back = await svc.inspect('wharf-test/imported:v1');
  assert.equal(back.Id, importedId);
  assert.equal(lstatSync(join(back.GraphDriver.Data!.UpperDir!, 'bin/suid')).mode & 0o7777, 0o4755);
});

test('save and load with a platform (API 1.48): a save for another fails first; a load skips other platforms', async () => {
  const own = (await svc.inspect('wharf-test/imported:v1')).Architecture;
  const other = own === 'arm64' ? 'amd64' : 'arm64';
  const sink = new PassThrough();
  let written = 0;
  sink.on('data', (c: Buffer) => (written += c.length));
  await assert.rejects(svc.save(['wharf-test/imported:v1'], sink, { os: 'linux', architecture: other }), { message: `no suitable export target found for platform linux/${other}` });
  assert.equal(written, 0, 'nothing written before the error');
  const archive = await saveToBuffer(['wharf-test/imported:v1'], { os: 'linux', architecture: own });
  await svc.remove('wharf-test/imported:v1', { force: false, noprune: false });
  assert.deepEqual(await collect(svc.load(Readable.from([archive]), { quiet: false, platform: { os: 'linux', architecture: other } })), []);
  await assert.rejects(svc.resolve('wharf-test/imported:v1'), /No such image/);
  assert.deepEqual(await collect(svc.load(Readable.from([archive]), { quiet: false, platform: { os: 'linux', architecture: own } })), [
    { stream: 'Loaded image: wharf-test/imported:v1\n' },
  ]);
  assert.equal((await svc.inspect('wharf-test/imported:v1')).Id, importedId);
});

test("loads Docker 28's save layout (gzip layers, two layers) and the legacy docker-archive", async () => {
  const l1 = await buildTar([{ name: 'a', content: 'one' }, { name: 'gone', content: 'x' }]);
  const l2 = await buildTar([{ name: 'b', content: 'two' }, { name: '.wh.gone', content: '' }]);
  const d28 = await buildDockerArchive({ layers: [l1, l2], repoTags: ['fixture:28'], gzipLayers: true, config: { config: { Labels: { k: 'v' } } } });
  assert.deepEqual(await collect(svc.load(Readable.from([d28.archive]), { quiet: true })), [{ stream: 'Loaded image: fixture:28\n' }]);
  const ins = await svc.inspect('fixture:28');
  assert.equal(ins.Id, d28.imageId);
  assert.deepEqual(ins.RootFS.Layers, d28.diffIds);
  assert.ok(ins.GraphDriver.Data!.LowerDir);

  // A new image with the same tag moves it, with Docker's message.
  const other = await buildDockerArchive({ layers: [l1], repoTags: ['fixture:28'], format: 'legacy' });
  const msgs = await collect(svc.load(Readable.from([other.archive]), { quiet: true }));
  assert.deepEqual(msgs, [
    { stream: `The image fixture:28 already exists, renaming the old one with ID ${d28.imageId} to empty string\n` },
    { stream: 'Loaded image: fixture:28\n' },
  ]);
  assert.equal((await svc.resolve('fixture:28')).id, other.imageId);

  // The old one is now dangling.
  const dangling = await svc.list({ all: false, filters: { dangling: ['true'] }, digests: false });
  assert.deepEqual(dangling.map((i) => i.Id), [d28.imageId]);
  assert.deepEqual(dangling[0]!.RepoTags, []);

  // Untagged archive.
  const untagged = await buildDockerArchive({ layers: [l2] });
  assert.deepEqual(await collect(svc.load(Readable.from([untagged.archive]), { quiet: true })), [
    { stream: `Loaded image ID: ${untagged.imageId}\n` },
  ]);

  // A layer whose content does not match the config's diff_id is refused and cleaned up.
  const l3 = await buildTar([{ name: 'never-registered', content: '3' }]);
  const bad = await buildDockerArchive({ layers: [l3] });
  const tampered = await buildDockerArchive({ layers: [l2], config: {} });
  const files = await tarFiles(bad.archive);
  const badManifest = JSON.parse(files.get('manifest.json')!.toString());
  const entries = [...files].map(([name, content]) => ({ name, content }));
  // Point the config at l2's blob while its diff_ids say l1.
  const l2Blob = `blobs/sha256/${tampered.diffIds[0]!.slice(7)}`;
  badManifest[0].Layers = [l2Blob];
  const rebuilt = await buildTar([
    ...entries.filter((e) => e.name !== 'manifest.json'),
    // Duplicate entries are legal in a tar: the last one wins.
    { name: l2Blob, content: l2 },
    { name: 'manifest.json', content: JSON.stringify(badManifest) },
  ]);
  const layersBefore = (await svc.layers.list()).sort();
  await assert.rejects(collect(svc.load(Readable.from([rebuilt]), { quiet: true })), /invalid diffID for layer 0/);
  assert.deepEqual((await svc.layers.list()).sort(), layersBefore);
});

test('loads an image of no layers whose config has null diff_ids and created, as moby\'s suite makes its dangling image', async () => {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', config: { Labels: { special: '1' } }, created: null, history: [{ created_by: 'LABEL special=1', empty_layer: true }], os: 'linux', rootfs: { type: 'layers', diff_ids: null } }),
  );
  const digest = createHash('sha256').update(config).digest('hex');
  const archive = await buildTar([
    { name: `blobs/sha256/${digest}`, content: config },
    { name: 'manifest.json', content: JSON.stringify([{ Config: `blobs/sha256/${digest}`, RepoTags: null, Layers: null }]) },
  ]);
  assert.deepEqual(await collect(svc.load(Readable.from([archive]), { quiet: true })), [{ stream: `Loaded image ID: sha256:${digest}\n` }]);
  const ins = await svc.inspect(`sha256:${digest}`);
  assert.deepEqual([ins.RepoTags, ins.Created, ins.RootFS], [[], '', { Type: 'layers', Layers: [] }]);
  // A config without the key is refused with moby's words.
  const noRootfs = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux' }));
  const noRootfsDigest = createHash('sha256').update(noRootfs).digest('hex');
  const refused = await buildTar([
    { name: `blobs/sha256/${noRootfsDigest}`, content: noRootfs },
    { name: 'manifest.json', content: JSON.stringify([{ Config: `blobs/sha256/${noRootfsDigest}`, RepoTags: null, Layers: null }]) },
  ]);
  await assert.rejects(collect(svc.load(Readable.from([refused]), { quiet: true })), { message: 'invalid image JSON, no RootFS key' });
  await svc.remove(`sha256:${digest}`, { force: false, noprune: false });
});

test('prune removes dangling images, then all unused with dangling=false', async () => {
  const report = await svc.prune({});
  const deletedIds = (report.ImagesDeleted ?? []).filter((d) => d.Deleted).map((d) => d.Deleted);
  assert.ok(deletedIds.length >= 2);
  assert.ok(report.SpaceReclaimed > 0);
  assert.equal((await svc.list({ all: false, filters: { dangling: ['true'] }, digests: false })).length, 0);
  assert.ok((await svc.list({ all: false, filters: {}, digests: false })).length > 0);

  // An image used by a container survives dangling=false.
  const kept = await svc.resolve('fixture:28');
  users.set(kept.id, [{ id: 'e'.repeat(64), running: false }]);
  await svc.layers.createRWLayer('ctr-1', kept.topChainId);
  const all = await svc.prune({ dangling: ['false'] });
  assert.ok((all.ImagesDeleted ?? []).some((d) => d.Untagged === 'wharf-test/imported:v1'));
  const left = await svc.list({ all: false, filters: {}, digests: false });
  assert.deepEqual(left.map((i) => i.Id), [kept.id]);
  users.delete(kept.id);
  await svc.layers.removeRWLayer('ctr-1');
});

test('a fresh service on the same data root sees the same images', async () => {
  const again = new ImageService({ dataRoot: root, containersUsingImage: () => [] });
  await again.init();
  const r = await again.resolve('fixture:28');
  assert.equal(r.id, (await svc.resolve('fixture:28')).id);
  assert.deepEqual(r.references, ['fixture:28']);
});

test('removing by ID with one tag and a stopped container needs force; a zstd rootfs imports', async () => {
  const { execFileSync } = await import('node:child_process');
  const zst = execFileSync('zstd', ['-c', '-q'], { input: await buildTar([{ name: 'z', content: 'zstd!' }]) });
  const msgs = await collect(svc.importImage(Readable.from([zst]), { repo: 'single', tag: '1', changes: [] }));
  const id = msgs[0]!.status!;
  const ins = await svc.inspect('single:1');
  assert.equal(readFileSync(join(ins.GraphDriver.Data!.UpperDir!, 'z'), 'utf8'), 'zstd!');
  users.set(id, [{ id: 'f'.repeat(64), running: false }]);
  await assert.rejects(svc.remove(id.slice(7, 15), { force: false, noprune: false }), {
    message: `conflict: unable to delete ${id.slice(7, 19)} (must be forced) - image is being used by stopped container ffffffffffff`,
  });
  assert.deepEqual(await svc.remove('single:1', { force: true, noprune: false }), [
    { Untagged: 'single:1' },
    { Deleted: id },
    { Deleted: ins.RootFS.Layers[0] },
  ]);
  users.delete(id);
});
