/**
 * A pull whose client goes away stops (issue 9 §3): the download is dropped, staged layers are
 * removed and no image is registered. Runs the image service against a fake registry on
 * 127.0.0.1 that serves one layer slowly.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageService } from '../../src/daemon/images.js';
import { startFakeRegistry, type FakeRegistry } from '../fixtures/registry.js';
import { buildImage, busyboxTar } from '../fixtures/registry-images.js';
import { buildTar } from '../fixtures/docker-archive.js';
import { waitFor } from './harness.js';

let root: string;
let fake: FakeRegistry;
let svc: ImageService;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'wharf-pullabort-'));
  fake = await startFakeRegistry();
  svc = new ImageService({ dataRoot: join(root, 'data'), containersUsingImage: () => [], registry: { backoffMs: 10, attempts: 3 } });
  await svc.init();
});

after(async () => {
  await fake.stop();
  await rm(root, { recursive: true, force: true });
});

test('a pull stops when its client goes away: download dropped, nothing registered', async () => {
  // 4 MiB of incompressible content, served at 16 KiB per 20 ms (about 5 s).
  const big = await buildTar([{ name: 'noise', content: randomBytes(4 * 1024 * 1024) }]);
  const img = buildImage([await busyboxTar(), big], { compression: 'none' });
  img.layers.forEach((l, i) => fake.blobs.set(l.digest, { data: l.blob, ...(i === 1 ? { fault: 'slow' as const } : {}) }));
  fake.blobs.set(img.id, { data: img.config });
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: img.config.length, digest: img.id },
      layers: img.layers.map((l) => ({ mediaType: l.mediaType, size: l.blob.length, digest: l.digest })),
    }),
  );
  fake.manifests.set('slow/img:latest', { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', data: manifest });

  const gone = new AbortController();
  const slow = img.layers[1]!.digest;
  // The client reads progress until the slow layer is downloading, then leaves (as the route
  // does: its signal aborts and it stops reading).
  for await (const m of svc.pull(`${fake.host}/slow/img:latest`, undefined, { signal: gone.signal }, undefined)) {
    if (m.status === 'Downloading' && slow.includes(`${m.id}`)) {
      gone.abort(new Error('client went away'));
      break;
    }
  }
  await waitFor(() => fake.log.includes(`abandoned ${slow}`) || fake.log.includes(`served ${slow}`), { timeoutMs: 30_000, what: 'the slow blob to end' });
  assert.ok(fake.log.includes(`abandoned ${slow}`), `the download went on: ${fake.log.join(', ')}`);
  // Its staged layer and the base layer the pull registered are released, and no image appears.
  await waitFor(async () => (await readdir(join(root, 'data/image/overlay2/layerdb/sha256')).catch(() => [])).length === 0, {
    timeoutMs: 30_000,
    what: 'the pulled layers to be released',
  });
  assert.equal(svc.count(), 0);
  await waitFor(async () => (await readdir(join(root, 'data/overlay2'))).filter((n) => n !== 'l').length === 0, { what: 'no driver dirs left' });
});
