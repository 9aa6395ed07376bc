/**
 * Pull faults against a tiny fake registry: digest mismatch, truncated blob (with and without
 * Range resume), 5xx retried, registry down. A failed pull leaves the data root exactly as it was.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, lstat, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProgressMessage } from '../../src/api/types.js';
import { ImageService } from '../../src/daemon/images.js';
import { freePort, startFakeRegistry, type FakeRegistry, type FakeBlob } from '../fixtures/registry.js';
import { buildImage, busyboxTar, extraLayerTar, type BuiltImage } from '../fixtures/registry-images.js';

let root: string;
let fake: FakeRegistry;
let svc: ImageService;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'wharf-regfault-'));
  fake = await startFakeRegistry();
  svc = new ImageService({ dataRoot: join(root, 'data'), containersUsingImage: () => [], registry: { backoffMs: 10, attempts: 3 } });
  await svc.init();
});

after(async () => {
  await fake.stop();
  await rm(root, { recursive: true, force: true });
});

async function collect(it: AsyncIterable<ProgressMessage>): Promise<ProgressMessage[]> {
  const out: ProgressMessage[] = [];
  for await (const m of it) out.push(m);
  return out;
}

async function tree(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const p = join(dir, name);
    out.push(prefix + name);
    const st = await lstat(p);
    if (st.isDirectory()) out.push(...(await tree(p, `${prefix}${name}/`)));
  }
  return out;
}

/** Serves `img` as repo:tag with the given fault on its last layer. */
function serve(repo: string, tag: string, img: BuiltImage, fault?: FakeBlob['fault']): void {
  img.layers.forEach((l, i) => fake.blobs.set(l.digest, { data: l.blob, ...(i === img.layers.length - 1 && fault ? { fault } : {}) }));
  fake.blobs.set(img.id, { data: img.config });
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: img.config.length, digest: img.id },
      layers: img.layers.map((l) => ({ mediaType: l.mediaType, size: l.blob.length, digest: l.digest })),
    }),
  );
  fake.manifests.set(`${repo}:${tag}`, { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', data: manifest });
}

async function image(marker: string): Promise<BuiltImage> {
  return buildImage([await busyboxTar(), await extraLayerTar('marker', `${marker}\n`)]);
}

async function assertFailsCleanly(ref: string, message: RegExp): Promise<void> {
  const before = await tree(join(root, 'data'));
  await assert.rejects(collect(svc.pull(ref, undefined, {}, undefined)), message);
  assert.deepEqual(await tree(join(root, 'data')), before);
  assert.equal(svc.count(), 0);
}

test('digest mismatch fails the pull and leaves the store as it was', async () => {
  const img = await image('mismatch');
  serve('bad/digest', 'latest', img, 'wrong-bytes');
  await assertFailsCleanly(`${fake.host}/bad/digest:latest`, new RegExp(`filesystem layer verification failed for digest ${img.layers[1]!.digest}`));
});

test('a blob that stays truncated fails with unexpected EOF and leaves the store as it was', async () => {
  const img = await image('truncated');
  serve('bad/trunc', 'latest', img, 'truncate');
  fake.log.length = 0;
  await assertFailsCleanly(`${fake.host}/bad/trunc:latest`, /unexpected EOF/);
  // It retried with Range after the first cut.
  assert.ok(fake.log.some((l) => l.startsWith(`GET /v2/bad/trunc/blobs/${img.layers[1]!.digest} bytes=`)), fake.log.join('\n'));
});

test('a cut connection is resumed with Range and the pull succeeds', async () => {
  const img = await image('resumed');
  serve('ok/resume', 'latest', img, 'truncate-once');
  fake.log.length = 0;
  const msgs = await collect(svc.pull(`${fake.host}/ok/resume:latest`, undefined, {}, undefined));
  assert.equal(msgs.at(-1)!.status, `Status: Downloaded newer image for ${fake.host}/ok/resume:latest`);
  const half = Math.floor(img.layers[1]!.blob.length / 2);
  assert.ok(fake.log.includes(`GET /v2/ok/resume/blobs/${img.layers[1]!.digest} bytes=${half}-`), fake.log.join('\n'));
  assert.equal((await svc.inspect(`${fake.host}/ok/resume:latest`)).Id, img.id);
  await svc.remove(`${fake.host}/ok/resume:latest`, { force: false, noprune: false });
});

test('a 5xx answer is retried', async () => {
  const img = await image('retried');
  serve('ok/retry', 'latest', img, 'error-500-once');
  await collect(svc.pull(`${fake.host}/ok/retry:latest`, undefined, {}, undefined));
  assert.equal((await svc.inspect(`${fake.host}/ok/retry:latest`)).Id, img.id);
  await svc.remove(`${fake.host}/ok/retry:latest`, { force: false, noprune: false });
});

test('registry down: Docker-like dial error, nothing stored', async () => {
  const port = await freePort();
  const before = await tree(join(root, 'data'));
  await assert.rejects(
    collect(svc.pull(`127.0.0.1:${port}/x`, 'latest', {}, undefined)),
    (err: Error) => err.message === `Get "http://127.0.0.1:${port}/v2/": dial tcp 127.0.0.1:${port}: connect: connection refused`,
  );
  assert.deepEqual(await tree(join(root, 'data')), before);
});

test('unknown tag: Docker error text with 404 kind', async () => {
  await assert.rejects(collect(svc.pull(`${fake.host}/bad/digest`, 'nosuch', {}, undefined)), (err: Error & { kind?: string }) => {
    assert.equal(err.message, `manifest for ${fake.host}/bad/digest:nosuch not found: manifest unknown: manifest unknown`);
    assert.equal(err.kind, 'NotFound');
    return true;
  });
});

test('blob redirects are followed; max-concurrent-downloads queues layers as Waiting', async () => {
  const img = await image('redirected');
  serve('ok/redirect', 'latest', img, 'redirect');
  const one = new ImageService({ dataRoot: join(root, 'data-one'), containersUsingImage: () => [], registry: { maxConcurrentDownloads: 1, backoffMs: 10 } });
  await one.init();
  fake.log.length = 0;
  const msgs = await collect(one.pull(`${fake.host}/ok/redirect:latest`, undefined, {}, undefined));
  assert.ok(fake.log.includes(`GET /storage/${img.layers[1]!.digest}`), fake.log.join('\n'));
  assert.equal((await one.inspect(`${fake.host}/ok/redirect:latest`)).Id, img.id);
  const second = msgs.filter((m) => m.id === img.layers[1]!.digest.slice(7, 19)).map((m) => m.status);
  assert.deepEqual(second.slice(0, 2), ['Pulling fs layer', 'Waiting']);
});
