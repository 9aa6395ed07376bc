/**
 * A hostile registry (a fake one on 127.0.0.1) against the pull: answers that name other
 * schemes (an auth realm or a redirect to file://), JSON of the wrong shape where a manifest,
 * an index, a tag list or an image config is expected, a config bigger than memory and tags
 * Docker could not name. Each is refused with an error of its own, before any layer is fetched
 * where that is possible, and leaves the store as it was.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProgressMessage } from '../../src/api/types.js';
import { ImageService } from '../../src/daemon/images/service.js';
import { sha256, startFakeRegistry, type FakeRegistry } from '../fixtures/registry.js';
import { buildImage, extraLayerTar, type BuiltImage } from '../fixtures/registry-images.js';

let root: string;
let fake: FakeRegistry;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'wharf-hostile-reg-'));
  fake = await startFakeRegistry();
});

after(async () => {
  await fake.stop();
  await rm(root, { recursive: true, force: true });
});

/** A fresh service (pings and tokens are cached per client). */
async function service(name: string): Promise<ImageService> {
  const svc = new ImageService({ dataRoot: join(root, name), containersUsingImage: () => [], registry: { backoffMs: 10, attempts: 2 } });
  await svc.init();
  return svc;
}

async function pull(svc: ImageService, ref: string): Promise<ProgressMessage[]> {
  const out: ProgressMessage[] = [];
  for await (const m of svc.pull(ref, undefined, {}, undefined)) out.push(m);
  return out;
}

const MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';

function manifestOf(img: BuiltImage, configSize = img.config.length): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST,
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: configSize, digest: img.id },
      layers: img.layers.map((l) => ({ mediaType: l.mediaType, size: l.blob.length, digest: l.digest })),
    }),
  );
}

/** Serves `img` (with `config` as its config bytes) as repo:tag. */
function serve(repo: string, tag: string, img: BuiltImage, opts: { configSize?: number } = {}): void {
  for (const l of img.layers) fake.blobs.set(l.digest, { data: l.blob });
  fake.blobs.set(img.id, { data: img.config });
  fake.manifests.set(`${repo}:${tag}`, { mediaType: MANIFEST, data: manifestOf(img, opts.configSize) });
}

/** An image whose config is `config` (rootfs added) over one small layer; `"DEEP"` becomes `depth` nested lists. */
async function imageWithConfig(config: Record<string, unknown>, depth = 0): Promise<BuiltImage> {
  const base = buildImage([await extraLayerTar('x', 'x\n')]);
  const parsed = JSON.parse(base.config.toString()) as Record<string, unknown>;
  const text = JSON.stringify({ ...parsed, ...config, rootfs: parsed.rootfs }).replace('"DEEP"', '['.repeat(depth) + ']'.repeat(depth));
  const raw = Buffer.from(text);
  return { ...base, config: raw, id: sha256(raw) };
}

const layerFetches = (img: BuiltImage) => fake.log.filter((l) => img.layers.some((x) => l.includes(x.digest))).length;

test('image configs Docker would not decode are refused before any layer is fetched; null elements are zero values', async () => {
  const svc = await service('configs');
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ config: { Env: 'PATH=/bin' } }, /^json: cannot unmarshal string into Go struct field Image\.config\.Env of type \[\]string$/],
    [{ config: { Labels: { a: 1 } } }, /^json: cannot unmarshal number into Go struct field Image\.config\.Labels of type string$/],
    [{ config: { Entrypoint: { a: 1 } } }, /^json: cannot unmarshal object into Go struct field Image\.config\.Entrypoint of type strslice\.StrSlice$/],
    [{ config: { Volumes: ['/data'] } }, /Image\.config\.Volumes of type map\[string\]struct \{\}/],
    [{ history: [5] }, /Image\.history of type image\.History/],
    [{ created: 'yesterday' }, /^parsing time "\\"yesterday\\""/],
    [{ architecture: 5 }, /Image\.architecture of type string/],
  ];
  for (const [i, [config, message]] of cases.entries()) {
    const img = await imageWithConfig(config);
    serve('bad/config', `t${i}`, img);
    await assert.rejects(pull(svc, `${fake.host}/bad/config:t${i}`), { message }, JSON.stringify(config));
    assert.equal(layerFetches(img), 0, `no layer fetched for ${JSON.stringify(config)}`);
  }
  // An unknown field nested 5000 deep: stored, it made every inspect of the image a 500 (stack overflow).
  const deep = await imageWithConfig({ config: { Cmd: ['sh'], Foo: 'DEEP' } }, 5000);
  serve('bad/config', 'deep', deep);
  await assert.rejects(pull(svc, `${fake.host}/bad/config:deep`), { message: 'invalid image JSON: exceeded max depth' });
  assert.equal(layerFetches(deep), 0);
  assert.equal(svc.count(), 0);
  assert.deepEqual(await readdir(join(root, 'configs', 'image', 'overlay2', 'imagedb', 'content', 'sha256')), []);

  // Go stores a null element of a list as its zero value: the image pulls, lists and inspects.
  const nulls = await imageWithConfig({ config: { Env: [null, 'A=b'], Labels: { l: null } }, history: [null] });
  serve('null/elements', 'latest', nulls);
  await pull(svc, `${fake.host}/null/elements:latest`);
  const inspect = await svc.inspect(`${fake.host}/null/elements`);
  assert.deepEqual(inspect.Config.Env, ['', 'A=b']);
  assert.deepEqual(inspect.Config.Labels, { l: '' });
  assert.equal((await svc.history(`${fake.host}/null/elements`)).length, 1);
  assert.equal((await svc.list({ all: true, filters: {}, digests: false })).length, 1);
});

test('a config bigger than any image has is refused before it is fetched', async () => {
  const svc = await service('bigconfig');
  const img = await imageWithConfig({});
  serve('big/config', 'latest', img, { configSize: 2 ** 40 });
  await assert.rejects(pull(svc, `${fake.host}/big/config:latest`), { message: 'image config of 1099511627776 bytes is larger than 8 MiB' });
  assert.equal(fake.log.filter((l) => l.includes(img.id)).length, 0);
  assert.equal(svc.count(), 0);
});

test('an image of more than 125 layers is refused before any layer is fetched, as moby\'s layer store refuses it', async () => {
  const svc = await service('deep');
  const tars = await Promise.all(Array.from({ length: 126 }, (_, i) => extraLayerTar(`l${i}`, `${i}\n`)));
  const img = buildImage(tars);
  serve('deep/layers', 'latest', img);
  await assert.rejects(pull(svc, `${fake.host}/deep/layers:latest`), { message: 'max depth exceeded' });
  assert.equal(layerFetches(img), 0);
  assert.equal(svc.count(), 0);
});

test('manifests, indexes and tag lists of the wrong shape are 400s, not TypeErrors', async () => {
  const svc = await service('shapes');
  fake.manifests.set('shape/null:latest', { mediaType: MANIFEST, data: Buffer.from('null') });
  await assert.rejects(pull(svc, `${fake.host}/shape/null:latest`), { message: 'invalid manifest: not a JSON object' });
  const badPlatform = { schemaVersion: 2, mediaType: INDEX, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256('x'), size: 1, platform: { os: 5, architecture: null } }] };
  fake.manifests.set('shape/index:latest', { mediaType: INDEX, data: Buffer.from(JSON.stringify(badPlatform)) });
  await assert.rejects(pull(svc, `${fake.host}/shape/index:latest`), { message: 'invalid manifest descriptor in manifest' });

  // pull --all-tags: a tag list that is not strings, or names a tag Docker could not name.
  fake.tags.set('shape/tags', Buffer.from('{"tags":[5,{"a":1}]}'));
  await assert.rejects(pull(svc, `${fake.host}/shape/tags`), { message: 'invalid tag list: tags is not a list of strings' });
  const img = await imageWithConfig({});
  serve('shape/tagnames', 'ok', img);
  for (const bad of ['../../../v2/other/manifests/x', 'a\nb', 'x'.repeat(129)]) {
    fake.tags.set('shape/tagnames', Buffer.from(JSON.stringify({ tags: ['ok', bad] })));
    await assert.rejects(pull(svc, `${fake.host}/shape/tagnames`), { message: 'invalid tag format' }, JSON.stringify(bad));
  }
  assert.equal(fake.log.filter((l) => l.includes('/v2/other/')).length, 0);
  fake.tags.set('shape/tagnames', Buffer.from('null'));
  assert.deepEqual(await pull(svc, `${fake.host}/shape/tagnames`), [{ status: `Status: Image is up to date for ${fake.host}/shape/tagnames` }]);
  assert.equal(svc.count(), 0);
});

test('an auth realm or a redirect naming file:// (or no URL at all) is not followed', async () => {
  const img = await imageWithConfig({});
  serve('scheme/realm', 'latest', img);
  for (const [realm, message] of [
    ['file:///etc/shadow', /^Get "file:\/\/\/etc\/shadow\?.*": unsupported protocol scheme "file"$/],
    ['::not a url', /^parse "::not a url": missing protocol scheme$/],
  ] as const) {
    fake.challenge = `Bearer realm="${realm}",service="fake"`;
    await assert.rejects(pull(await service(`realm-${realm.length}`), `${fake.host}/scheme/realm:latest`), { message });
  }
  fake.challenge = undefined;
  const svc = await service('redirect');
  const redirected = await imageWithConfig({ comment: 'redirected' });
  serve('scheme/redirect', 'latest', redirected);
  fake.blobs.set(redirected.layers[0]!.digest, { data: redirected.layers[0]!.blob, fault: 'redirect-file' });
  await assert.rejects(pull(svc, `${fake.host}/scheme/redirect:latest`), { message: 'Get "file:///etc/shadow": unsupported protocol scheme "file"' });
  assert.equal(svc.count(), 0);
});
