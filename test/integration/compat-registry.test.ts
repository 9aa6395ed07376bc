/**
 * Registry compatibility: the real Docker CLI (28.x) against wharfd pulls from Debian's
 * docker-registry on 127.0.0.1 (with its own progress output), pushes, lists, removes, saves and
 * loads; what wharfd pushed, skopeo inspects and copies (so the registry serves it cleanly).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBusybox, runCommand, startDaemon, type Daemon } from './harness.js';
import { socketJson } from '../lib/http.js';
import { buildNginxArchive, debianImages, pushNginxImage } from '../fixtures/debian-images.js';
import { startRegistry, type RegistryProcess } from '../fixtures/registry.js';

let root: string;
let registry: RegistryProcess;
let d: Daemon;
let reg: string;
let nginx: { digest: string; id: string; layers: string[] };

before(async () => {
  const images = await debianImages();
  root = await mkdtemp(join(tmpdir(), 'wharf-compat-reg-'));
  await mkdir(join(root, 'storage'));
  registry = await startRegistry({ dir: root, storage: join(root, 'storage') });
  reg = registry.host;
  const p = await pushNginxImage(registry.url);
  nginx = { digest: p.digest, id: p.id, layers: images.nginx.layers.map((l) => l.digest) };
  d = await startDaemon();
  await loadBusybox(d);
});

after(async () => {
  await d?.cleanup();
  await registry?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

async function docker(args: string[], timeoutMs = 180_000): Promise<string> {
  const r = await d.docker(args, { timeoutMs });
  assert.equal(r.code, 0, `docker ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

interface SkopeoInspect {
  Digest: string;
  Layers: string[];
  Architecture: string;
  Os: string;
}

async function skopeo(args: string[]): Promise<string> {
  const r = await runCommand('skopeo', args, { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `skopeo ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

describe('Docker CLI and skopeo against wharfd and a local registry', () => {
  test('docker pull shows its own progress and exits 0; images and inspect show the pulled image', async () => {
    const ref = `${reg}/library/nginx:latest`;
    const out = (await docker(['pull', ref])).split('\n');
    assert.equal(out[0], 'latest: Pulling from library/nginx');
    for (const layer of nginx.layers) {
      const short = layer.slice(7, 19);
      assert.ok(out.includes(`${short}: Pull complete`), `${short} complete in:\n${out.join('\n')}`);
    }
    assert.ok(out.includes(`Digest: ${nginx.digest}`), out.join('\n'));
    assert.ok(out.includes(`Status: Downloaded newer image for ${ref}`), out.join('\n'));
    assert.equal(out.at(-2), ref, 'docker pull ends with the full reference');

    const again = (await docker(['pull', ref])).split('\n');
    assert.ok(again.includes(`Status: Image is up to date for ${ref}`), again.join('\n'));

    const listed = await docker(['images', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}', `${reg}/library/nginx`]);
    assert.equal(listed, `${ref} ${nginx.id}\n`);
    const digests = await docker(['image', 'inspect', '-f', '{{json .RepoDigests}}', ref]);
    assert.deepEqual(JSON.parse(digests), [`${reg}/library/nginx@${nginx.digest}`]);
  });

  test('GET /distribution/{name}/json names what the registry holds, without a pull, as moby answers', async () => {
    const api = (name: string) => socketJson<{ Descriptor?: { mediaType: string; digest: string; size: number }; Platforms?: unknown; message?: string }>(d.socket, 'GET', `/v1.50/distribution/${name}/json`);
    const [arch, os] = (await docker(['image', 'inspect', '-f', '{{.Architecture}} {{.Os}}', `${reg}/library/nginx:latest`])).trim().split(' ');
    const tagged = await api(`${reg}/library/nginx:latest`);
    assert.equal(tagged.status, 200, JSON.stringify(tagged.json));
    assert.equal(tagged.json.Descriptor?.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(tagged.json.Descriptor?.digest, nginx.digest);
    const manifest = await fetch(`${registry.url}/v2/library/nginx/manifests/${nginx.digest}`, { headers: { Accept: tagged.json.Descriptor!.mediaType } });
    assert.equal(tagged.json.Descriptor?.size, (await manifest.arrayBuffer()).byteLength);
    assert.deepEqual(tagged.json.Platforms, [{ architecture: arch, os }]);
    // No tag means latest; a digest is fetched as it is.
    assert.deepEqual((await api(`${reg}/library/nginx`)).json, tagged.json);
    assert.deepEqual((await api(`${reg}/library/nginx@${nginx.digest}`)).json, tagged.json);
    // A manifest list: every entry's platform, in order, and the list's own descriptor.
    const list = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
      manifests: [
        { mediaType: tagged.json.Descriptor!.mediaType, size: tagged.json.Descriptor!.size, digest: nginx.digest, platform: { architecture: 'amd64', os: 'linux' } },
        { mediaType: tagged.json.Descriptor!.mediaType, size: tagged.json.Descriptor!.size, digest: nginx.digest, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
      ],
    });
    const put = await fetch(`${registry.url}/v2/library/nginx/manifests/multi`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.docker.distribution.manifest.list.v2+json' }, body: list });
    assert.equal(put.status, 201);
    const multi = await api(`${reg}/library/nginx:multi`);
    assert.deepEqual(multi.json, {
      Descriptor: { mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json', digest: `sha256:${createHash('sha256').update(list).digest('hex')}`, size: Buffer.byteLength(list) },
      Platforms: [{ architecture: 'amd64', os: 'linux' }, { architecture: 'arm64', os: 'linux', variant: 'v8' }],
    });
    // Errors, with Docker's statuses and texts.
    assert.deepEqual(await api(`${reg}/library/nginx:nope`), { status: 404, json: { message: 'manifest unknown: manifest unknown' } });
    assert.deepEqual(await api(nginx.id.slice(7)), { status: 500, json: { message: 'no manifest found for full image ID' } });
    assert.deepEqual(await api('scratch'), { status: 400, json: { message: "'scratch' is a reserved name" } });
    assert.deepEqual(await api('bad%20name'), { status: 400, json: { message: 'invalid reference format' } });
    // A pull of scratch is refused before any registry is asked, as dockerd does.
    const pull = await d.docker(['pull', 'scratch']);
    assert.equal(pull.code, 1);
    assert.equal(pull.stderr.trim(), "Error response from daemon: 'scratch' is a reserved name");
  });

  test('docker push of a local image: skopeo inspects the right digest and layers, skopeo copy fetches it cleanly', async () => {
    const ref = `${reg}/wharf/busybox:v1`;
    await docker(['tag', 'busybox:latest', ref]);
    const out = (await docker(['push', ref])).split('\n');
    assert.equal(out[0], `The push refers to repository [${reg}/wharf/busybox]`);
    assert.ok(out.some((l) => /^[0-9a-f]{12}: Pushed$/.test(l)), out.join('\n'));
    const m = /^v1: digest: (sha256:[0-9a-f]{64}) size: (\d+)$/.exec(out.find((l) => l.startsWith('v1: digest:')) ?? '');
    assert.ok(m, out.join('\n'));
    const pushedDigest = m[1]!;

    const info = JSON.parse(await skopeo(['inspect', '--tls-verify=false', `docker://${ref}`])) as SkopeoInspect;
    assert.equal(info.Digest, pushedDigest);
    assert.equal(info.Os, 'linux');
    const raw = await skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${ref}`]);
    assert.equal(`sha256:${createHash('sha256').update(raw).digest('hex')}`, pushedDigest);
    assert.equal(Buffer.byteLength(raw), Number(m[2]));
    const manifest = JSON.parse(raw) as { config: { digest: string }; layers: Array<{ digest: string }> };
    assert.deepEqual(info.Layers, manifest.layers.map((l) => l.digest));
    const imageId = (await docker(['image', 'inspect', '-f', '{{.Id}}', ref])).trim();
    assert.equal(manifest.config.digest, imageId, 'the pushed config is the image');
    const repoDigests = JSON.parse(await docker(['image', 'inspect', '-f', '{{json .RepoDigests}}', ref])) as string[];
    assert.ok(repoDigests.includes(`${reg}/wharf/busybox@${pushedDigest}`), repoDigests.join(' '));

    // skopeo checks every blob against its digest while copying.
    const dir = join(root, 'copy-busybox');
    await skopeo(['copy', '--src-tls-verify=false', `docker://${ref}`, `dir:${dir}`]);
    const files = await readdir(dir);
    for (const l of manifest.layers) assert.ok(files.includes(l.digest.slice(7)), `layer ${l.digest} copied`);
    const copied = await readFile(join(dir, manifest.config.digest.slice(7)));
    assert.equal(`sha256:${createHash('sha256').update(copied).digest('hex')}`, imageId);
  });

  test('docker push of a pulled image mounts its layers from the source repository', async () => {
    const ref = `${reg}/wharf/nginx:copy`;
    await docker(['tag', `${reg}/library/nginx:latest`, ref]);
    const out = await docker(['push', ref]);
    const mounted = out.split('\n').filter((l) => /^[0-9a-f]{12}: Mounted from library\/nginx$/.test(l));
    assert.equal(mounted.length, nginx.layers.length, out);
    const info = JSON.parse(await skopeo(['inspect', '--tls-verify=false', `docker://${ref}`])) as SkopeoInspect;
    assert.deepEqual(info.Layers, nginx.layers);
    const dir = join(root, 'copy-nginx');
    await skopeo(['copy', '--src-tls-verify=false', `docker://${ref}`, `dir:${dir}`]);
    assert.ok((await readdir(dir)).includes('manifest.json'));
  });

  test('docker rmi untags, then deletes', async () => {
    const untag = await docker(['rmi', `${reg}/wharf/busybox:v1`]);
    assert.match(untag, new RegExp(`^Untagged: ${reg}/wharf/busybox:v1\\n`));
    assert.doesNotMatch(untag, /Deleted:/, 'busybox:latest still names the image');
    await docker(['rmi', `${reg}/wharf/nginx:copy`]);
    const gone = await docker(['rmi', `${reg}/library/nginx:latest`]);
    assert.match(gone, new RegExp(`Untagged: ${reg}/library/nginx:latest`));
    assert.match(gone, new RegExp(`Untagged: ${reg}/library/nginx@${nginx.digest}`));
    assert.match(gone, new RegExp(`Deleted: ${nginx.id}`));
    assert.equal(await docker(['images', '-q', `${reg}/library/nginx`]), '');
    const missing = await d.docker(['image', 'inspect', `${reg}/library/nginx:latest`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such image/);
  });

  test('docker load of the fixture archive, save, rmi and load again keep the image ID', async () => {
    const loaded = await docker(['load', '-i', await buildNginxArchive()]);
    assert.equal(loaded, 'Loaded image: nginx:latest\n');
    assert.equal((await docker(['image', 'inspect', '-f', '{{.Id}}', 'nginx:latest'])).trim(), nginx.id, 'archive and registry hold one image');
    const file = join(root, 'nginx-saved.tar');
    await docker(['save', '-o', file, 'nginx:latest']);
    await docker(['rmi', 'nginx:latest']);
    assert.equal(await docker(['load', '-i', file]), 'Loaded image: nginx:latest\n');
    const cfg = await docker(['image', 'inspect', '-f', '{{.Id}} {{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.Config.StopSignal}} {{json .Config.ExposedPorts}}', 'nginx:latest']);
    assert.equal(cfg.trim(), `${nginx.id} ["/docker-entrypoint.sh"] ["nginx","-g","daemon off;"] SIGQUIT {"80/tcp":{}}`);
    assert.equal(await docker(['run', '--rm', 'nginx', 'cat', '/etc/debian_version']).then((s) => /^12\.\d+\n$/.test(s)), true);
  });
});
