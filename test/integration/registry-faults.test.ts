/**
 * Pull faults against a tiny fake registry: digest mismatch, truncated blob (with and without
 * Range resume), 5xx retried, registry down, a client that goes away. A failed pull leaves the
 * data root exactly as it was.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, lstat, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProgressMessage } from '../../src/api/types.js';
import { ImageService } from '../../src/daemon/images/service.js';
import { freePort, sha256, startFakeRegistry, type FakeRegistry, type FakeBlob } from '../fixtures/registry.js';
import { buildImage, busyboxTar, extraLayerTar, type BuiltImage } from '../fixtures/registry-images.js';
import { buildTar } from '../fixtures/docker-archive.js';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { waitFor } from './harness.js';

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

test('a layer that is not a tar fails while streaming and leaves the store as it was', async () => {
  const img = await image('not-a-tar');
  const { gzipSync } = await import('node:zlib');
  // Right digest and size for what is served, but the content is no tar: the extractor fails.
  const garbage = gzipSync(Buffer.alloc(4096, 0x41));
  img.layers[1] = { ...img.layers[1]!, blob: garbage, digest: sha256(garbage) };
  serve('bad/notar', 'latest', img);
  await assertFailsCleanly(`${fake.host}/bad/notar:latest`, /invalid tar header/);
});

test('a registry that answers a Range retry with the whole blob: extraction restarts cleanly and the pull succeeds', async () => {
  const img = await image('restarted');
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: img.config.length, digest: img.id },
      layers: img.layers.map((l) => ({ mediaType: l.mediaType, size: l.blob.length, digest: l.digest })),
    }),
  );
  const blobs = new Map<string, Buffer>([[img.id, img.config], ...img.layers.map((l) => [l.digest, l.blob] as [string, Buffer])]);
  const seen = new Map<string, number>();
  const ranges: string[] = [];
  // First GET of each layer is cut in the middle; later GETs ignore Range and send everything.
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    if (path === '/v2/') return void res.end('{}');
    if (path.endsWith('/manifests/latest')) {
      res.writeHead(200, { 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json', 'Content-Length': manifest.length });
      return void res.end(manifest);
    }
    const digest = /blobs\/(sha256:[a-f0-9]{64})$/.exec(path)?.[1] ?? '';
    const data = blobs.get(digest);
    if (!data) {
      res.writeHead(404);
      return void res.end();
    }
    if (req.headers.range) ranges.push(`${digest} ${req.headers.range}`);
    const n = (seen.get(digest) ?? 0) + 1;
    seen.set(digest, n);
    res.writeHead(200, { 'Content-Length': data.length });
    if (n === 1 && digest !== img.id) res.write(data.subarray(0, Math.floor(data.length / 2)), () => res.socket?.destroy());
    else res.end(data);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  try {
    const ref = `127.0.0.1:${port}/ok/restart:latest`;
    await collect(svc.pull(ref, undefined, {}, undefined));
    // Both layers were cut, resumed with Range, and restarted from byte 0.
    assert.equal(ranges.length, img.layers.length, ranges.join('\n'));
    const inspect = await svc.inspect(ref);
    assert.equal(inspect.Id, img.id);
    assert.deepEqual(inspect.RootFS.Layers, img.layers.map((l) => l.diffId));
    const { readFileSync } = await import('node:fs');
    assert.equal(readFileSync(join(inspect.GraphDriver.Data!.UpperDir!, 'etc/marker'), 'utf8'), 'restarted\n');
    // No staging directory of the abandoned extractions is left.
    const tmp = await readdir(join(root, 'data', 'image', 'overlay2', 'layerdb', 'tmp'));
    assert.deepEqual(tmp, []);
    await svc.remove(ref, { force: false, noprune: false });
    assert.deepEqual(await readdir(join(root, 'data', 'overlay2')), ['l']);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('disk full while extracting fails the pull and leaves the store as it was', async () => {
  // A data root on a 6 MiB tmpfs: busybox fits, an incompressible 8 MiB layer does not.
  const small = join(root, 'small');
  await mkdir(small);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', small]);
  try {
    const full = new ImageService({ dataRoot: join(small, 'data'), containersUsingImage: () => [], registry: { backoffMs: 10, attempts: 2 } });
    await full.init();
    const img = buildImage([await busyboxTar(), await buildTar([{ name: 'big.bin', content: randomBytes(8 << 20) }])]);
    serve('disk/full', 'latest', img);
    const before = await tree(join(small, 'data'));
    await assert.rejects(collect(full.pull(`${fake.host}/disk/full:latest`, undefined, {}, undefined)), /no space left on device/);
    assert.deepEqual(await tree(join(small, 'data')), before);
    assert.equal(full.count(), 0);
  } finally {
    // Fails with "target is busy" if the failed pull left a file open there.
    execFileSync('umount', [small]);
  }
});

test('a pull stops when its client goes away: download dropped, nothing registered', async () => {
  // 4 MiB of incompressible content, served slowly (16 KiB per 20 ms, about 5 s).
  const img = buildImage([await busyboxTar(), await buildTar([{ name: 'noise', content: randomBytes(4 * 1024 * 1024) }])], { compression: 'none' });
  serve('slow/img', 'latest', img, 'slow');
  const before = await tree(join(root, 'data'));
  const gone = new AbortController();
  const slow = img.layers[1]!.digest;
  // The client reads progress until the slow layer downloads, then leaves (as the route does:
  // its signal aborts and it stops reading).
  for await (const m of svc.pull(`${fake.host}/slow/img:latest`, undefined, { signal: gone.signal }, undefined)) {
    if (m.status === 'Downloading' && slow.includes(`${m.id}`)) {
      gone.abort(new Error('client went away'));
      break;
    }
  }
  await waitFor(() => fake.log.includes(`abandoned ${slow}`) || fake.log.includes(`served ${slow}`), { timeoutMs: 30_000, what: 'the slow blob to end' });
  assert.ok(fake.log.includes(`abandoned ${slow}`), `the download went on: ${fake.log.join(', ')}`);
  // The staged layer and the base layer the pull registered are released; no image appears.
  await waitFor(async () => JSON.stringify(await tree(join(root, 'data'))) === JSON.stringify(before), { timeoutMs: 30_000, what: 'the data root to be as before' });
  assert.equal(svc.count(), 0);
});
