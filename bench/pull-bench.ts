/**
 * Cold pull of the nginx test image (test/fixtures/debian-images.ts) from Debian's docker-registry
 * on 127.0.0.1, beside the floor on the same blobs: every layer at once, `gzip -dc | tar -x` into
 * a temp dir per layer, in parallel. Each pull starts with the image and its layers absent
 * (`wharf rmi` after every pull). Alternated, medians and the ratio to the floor.
 * Run as root, after `npx tsc -p .`:  node dist/bench/pull-bench.js [N]   (BENCH_PULL_N, default 5)
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { debianImages, pushNginxImage } from '../test/fixtures/debian-images.js';
import { startRegistry } from '../test/fixtures/registry.js';
import { CLI_MAIN, startDaemon } from '../test/integration/harness.js';

const run = promisify(execFile);
const N = Number(process.env.BENCH_PULL_N ?? process.argv[2] ?? 5);

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const images = await debianImages();
const daemon = await startDaemon();
const work = await mkdtemp(join(daemon.root, 'pull-bench-'));
const registry = await startRegistry({ dir: work, storage: join(work, 'storage') });
try {
  await pushNginxImage(registry.url);
  const ref = `${registry.host}/library/nginx:latest`;
  const { NODE_EXTRA_CA_CERTS: _ca, ...base } = process.env;
  void _ca;
  const env = { ...base, WHARF_HOST: daemon.host, DOCKER_HOST: daemon.host };
  const wharf = (args: string[]) => run(process.execPath, [CLI_MAIN, ...args], { env, maxBuffer: 1 << 26 });

  const pull = async (): Promise<number> => {
    const t0 = performance.now();
    await wharf(['pull', '-q', ref]);
    const ms = performance.now() - t0;
    await wharf(['rmi', ref]);
    return ms;
  };
  let n = 0;
  const floor = async (): Promise<number> => {
    const dir = join(work, `floor-${n++}`);
    const dirs = images.layerBlobs.map((_, i) => join(dir, String(i)));
    await Promise.all(dirs.map((d) => mkdir(d, { recursive: true })));
    const t0 = performance.now();
    await Promise.all(images.layerBlobs.map((blob, i) => run('sh', ['-c', 'gzip -dc "$1" | tar -x -C "$2"', 'sh', blob, dirs[i]!])));
    const ms = performance.now() - t0;
    await rm(dir, { recursive: true, force: true });
    return ms;
  };

  const cases: Record<string, () => Promise<number>> = { 'wharf pull (cold)': pull, 'gzip -dc | tar -x (floor)': floor };
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const fn of Object.values(cases)) await fn(); // warm-up (page cache, registry)
  for (let i = 0; i < N; i++) for (const [name, fn] of Object.entries(cases)) samples[name]!.push(await fn());

  const floorMs = median(samples['gzip -dc | tar -x (floor)']!);
  const sizes = images.nginx.layers.map((l) => `${(l.blob.length / 1e6).toFixed(1)} MB`).join(' + ');
  console.log(`cold pull of the nginx test image (${images.nginx.layers.length} gzip layers: ${sizes}), ${N} alternated iterations, medians:`);
  for (const [name, s] of Object.entries(samples)) {
    console.log(`  ${name.padEnd(26)} ${median(s).toFixed(0).padStart(6)} ms   ${(median(s) / floorMs).toFixed(2)}x floor`);
  }
} finally {
  await registry.stop();
  await daemon.cleanup();
}
