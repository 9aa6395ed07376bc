/**
 * The seeds' example end to end: a clean wharfd whose daemon.json names a local registry (Debian's
 * docker-registry holding library/nginx:latest, built from Debian packages) as its docker.io
 * mirror. `wharf run --rm nginx ls /` finds no image, pulls it with progress and lists its root;
 * the real Docker CLI runs it detached with a published port, gets the test page, and stops it
 * with the image's STOPSIGNAL (SIGQUIT).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { ping, startDaemon, waitFor, type Daemon } from './harness.js';
import { debianImages, NGINX_TEST_PAGE_MARKER, pushNginxImage } from '../fixtures/debian-images.js';
import { freePort, startRegistry, type RegistryProcess } from '../fixtures/registry.js';

let root: string;
let registry: RegistryProcess;
let d: Daemon;
let pushed: { digest: string; id: string };
let expectedRoot: string[];

/** Top-level names of the image's layers, as `ls /` prints them. */
function topLevel(tars: string[]): string[] {
  const names = new Set<string>();
  for (const t of tars) {
    for (const line of execFileSync('tar', ['-tf', t], { maxBuffer: 1 << 28 }).toString().split('\n')) {
      const first = line.replace(/^\.\//, '').split('/')[0];
      if (first && !first.startsWith('.')) names.add(first);
    }
  }
  return [...names].sort();
}

before(async () => {
  const images = await debianImages();
  expectedRoot = topLevel(images.layerTars);
  root = await mkdtemp(join(tmpdir(), 'wharf-nginx-'));
  await mkdir(join(root, 'storage'));
  registry = await startRegistry({ dir: root, storage: join(root, 'storage') });
  pushed = await pushNginxImage(registry.url);
  d = await startDaemon({ config: { 'registry-mirrors': [registry.url] } });
});

after(async () => {
  await d?.cleanup();
  await registry?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('nginx from a registry mirror', () => {
  test('wharf run --rm nginx ls / pulls the missing image with progress, then lists its root', async () => {
    assert.equal((await d.wharf(['images', '-q'])).stdout, '', 'the engine starts clean');
    // The API keeps answering while the layers are pulled and extracted (the bench measures how fast).
    let pulling = true;
    const pings: boolean[] = [];
    const pinger = (async () => {
      while (pulling) {
        pings.push(await ping(d.socket, 30_000));
        await sleep(50); // pacing, so the probe itself does not load the daemon
      }
    })();
    const r = await d.wharf(['run', '--rm', 'nginx', 'ls', '/'], { timeoutMs: 180_000 });
    pulling = false;
    await pinger;
    assert.ok(pings.length > 1 && pings.every(Boolean), `a /_ping went unanswered during the pull: ${pings.join(' ')}`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, expectedRoot.join('\n') + '\n');
    const err = r.stderr.split('\n');
    assert.equal(err[0], "Unable to find image 'nginx:latest' locally");
    assert.ok(err.includes('latest: Pulling from library/nginx'), r.stderr);
    assert.equal(err.filter((l) => /^[0-9a-f]{12}: Pull complete$/.test(l)).length, 2, r.stderr);
    assert.ok(err.includes(`Digest: ${pushed.digest}`), r.stderr);
    assert.ok(err.includes('Status: Downloaded newer image for nginx:latest'), r.stderr);
    const ids = await d.wharf(['images', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    assert.equal(ids.stdout, `nginx:latest ${pushed.id}\n`);
    assert.equal((await d.wharf(['ps', '-aq'])).stdout, '', '--rm removed the container');
  });

  test('docker run -d -p serves the test page; docker stop sends SIGQUIT and nginx exits cleanly', async () => {
    const port = await freePort();
    const run = await d.docker(['run', '-d', '-p', `127.0.0.1:${port}:80`, 'nginx']);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    const page = await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/`);
        return res.status === 200 ? res.text() : undefined;
      },
      { timeoutMs: 20_000, what: 'nginx to answer on the published port' },
    );
    assert.ok(page.includes(NGINX_TEST_PAGE_MARKER), page);
    const logs = await d.docker(['logs', id]);
    assert.match(logs.stdout, /\/docker-entrypoint\.sh: Configuration complete; ready for start up/);
    assert.match(logs.stdout, /"GET \/ HTTP\/1\.1" 200 /, 'the access log goes to the container stdout');

    const since = Math.floor(Date.now() / 1000) - 1;
    const stop = await d.docker(['stop', id], { timeoutMs: 30_000 });
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(stop.stdout.trim(), id);
    const state = await d.docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}} {{.Config.StopSignal}}', id]);
    assert.equal(state.stdout.trim(), 'exited 0 SIGQUIT');
    const events = await d.docker(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', `container=${id}`, '--format', '{{.Action}} {{.Actor.Attributes.signal}}']);
    const kills = events.stdout.trim().split('\n').filter((l) => l.startsWith('kill'));
    assert.deepEqual(kills, ['kill 3'], `one SIGQUIT, no SIGKILL after a timeout: ${events.stdout}`);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/`), 'nothing listens after stop');
    assert.equal((await d.docker(['rm', id])).code, 0);
  });
});
