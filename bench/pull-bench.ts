/**
 * Cold pull of the nginx test image (test/fixtures/debian-images.ts: its Debian base and nginx
 * layer, many files) from Debian's docker-registry on 127.0.0.1, beside the floor on the same
 * blobs: every layer at once, `gzip -dc | tar -x` into a temp dir per layer, in parallel. Every
 * engine pulls through the Docker CLI (`docker pull -q`); the same pull through the wharf CLI is
 * timed too, for the CLI's own row. Each pull starts with the image and its layers absent (`rmi`
 * after every pull). While wharfd pulls, /_ping is asked every 20 ms and its latency kept: the
 * daemon must stay responsive. With
 * BENCH_DOCKER_HOST (a Docker engine, e.g. unix:///run/bench-docker/docker.sock) the same pull
 * is timed there too; with BENCH_BASELINE_MAIN (another build's dist/daemon/main.js) a
 * second wharfd runs that build, to measure a change before and after in one alternated run.
 * Alternated, medians and the ratios. Then, once the extraction workers have ended (30 s idle),
 * what the pulls left resident in each wharfd.
 * Run as root, after `npx tsc -p .`:  node dist/bench/pull-bench.js [N]   (BENCH_PULL_N, default 5)
 */
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { debianImages, pushNginxImage } from '../test/fixtures/debian-images.js';
import { startRegistry } from '../test/fixtures/registry.js';
import { CLI_MAIN, DOCKER_CLI, startDaemon, waitFor, type Daemon } from '../test/integration/harness.js';
import { rssMb, threadCount } from '../test/integration/slow-client.js';
import { median, quantile, recordRow } from './report.js';
import { startBaselineDaemon } from './baseline.js';

const run = promisify(execFile);
const N = Number(process.env.BENCH_PULL_N ?? process.argv[2] ?? 5);
const DOCKER_HOST = process.env.BENCH_DOCKER_HOST;

/** ms until GET /_ping on `socket` answers. */
function pingMs(socket: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path: '/_ping' }, (res) => {
      res.resume();
      res.on('end', () => resolve(performance.now() - t0));
    });
    req.on('error', reject);
    req.end();
  });
}

const images = await debianImages();
const daemon = await startDaemon();
const baseline = await startBaselineDaemon();
const work = await mkdtemp(join(daemon.root, 'pull-bench-'));
const registry = await startRegistry({ dir: work, storage: join(work, 'storage') });
const idleThreads = new Map<Daemon, number>([daemon, baseline].filter((d): d is Daemon => !!d).map((d) => [d, threadCount(d.pid)]));
try {
  await pushNginxImage(registry.url);
  const ref = `${registry.host}/library/nginx:latest`;
  const { NODE_EXTRA_CA_CERTS: _ca, ...base } = process.env;
  void _ca;
  const env = { ...base, WHARF_HOST: daemon.host, DOCKER_HOST: daemon.host };
  const docker = (args: string[]) => run(DOCKER_CLI, ['-H', DOCKER_HOST!, ...args], { env: base, maxBuffer: 1 << 26 });

  const pings: number[] = [];
  const basePings: number[] = [];
  // The engines are compared through one client, the Docker CLI, as in the run bench; the wharf
  // CLI's own pull (its start-up included) is a row of its own.
  const pullOn = (d: typeof daemon, into: number[], client: 'docker' | 'wharf' = 'docker') => async (): Promise<number> => {
    const cli = (args: string[]) =>
      client === 'wharf'
        ? run(process.execPath, [CLI_MAIN, ...args], { env: { ...env, WHARF_HOST: d.host }, maxBuffer: 1 << 26 })
        : run(DOCKER_CLI, ['-H', d.host, ...args], { env: base, maxBuffer: 1 << 26 });
    let pulling = true;
    const prober = (async () => {
      while (pulling) {
        into.push(await pingMs(d.socket));
        await sleep(20);
      }
    })();
    const t0 = performance.now();
    await cli(['pull', '-q', ref]);
    const ms = performance.now() - t0;
    pulling = false;
    await prober;
    await cli(['rmi', ref]);
    return ms;
  };
  const pull = pullOn(daemon, pings);
  const dockerPull = async (): Promise<number> => {
    const t0 = performance.now();
    await docker(['pull', '-q', ref]);
    const ms = performance.now() - t0;
    await docker(['rmi', ref]);
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

  const cases: Record<string, () => Promise<number>> = { 'wharf pull (cold)': pull, 'gzip -dc | tar -x (floor)': floor, 'wharf CLI pull (cold)': pullOn(daemon, pings, 'wharf') };
  if (DOCKER_HOST) cases['docker pull (cold)'] = dockerPull;
  if (baseline) cases['baseline pull (cold)'] = pullOn(baseline, basePings);
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const fn of Object.values(cases)) await fn(); // warm-up (page cache, registry)
  pings.length = 0;
  basePings.length = 0;
  for (let i = 0; i < N; i++) for (const [name, fn] of Object.entries(cases)) samples[name]!.push(await fn());

  const floorMs = median(samples['gzip -dc | tar -x (floor)']!);
  const sizes = images.nginx.layers.map((l) => `${(l.blob.length / 1e6).toFixed(1)} MB`).join(' + ');
  console.log(`cold pull of the nginx test image (${images.nginx.layers.length} gzip layers: ${sizes}), ${N} alternated iterations, medians:`);
  for (const [name, s] of Object.entries(samples)) {
    console.log(`  ${name.padEnd(26)} ${median(s).toFixed(0).padStart(6)} ms   ${(median(s) / floorMs).toFixed(2)}x floor`);
  }
  // The RSS each wharfd is left with once its extraction workers have ended.
  const settledRss = async (d: Daemon): Promise<number> => {
    await waitFor(() => threadCount(d.pid) <= idleThreads.get(d)!, { timeoutMs: 120_000, intervalMs: 500, what: 'the extraction workers to end' });
    return rssMb(d.pid);
  };
  const rssAfter = await settledRss(daemon);
  const baseRssAfter = baseline ? await settledRss(baseline) : undefined;
  console.log(`  wharfd RSS once the extraction workers ended: ${rssAfter.toFixed(1)} MB${baseRssAfter === undefined ? '' : `; baseline ${baseRssAfter.toFixed(1)} MB`}`);
  const pingLine = (what: string, p: number[]) =>
    console.log(`  ${what.padEnd(26)} median ${median(p).toFixed(1)} ms, 99th percentile ${quantile(p, 0.99).toFixed(1)} ms, max ${Math.max(...p).toFixed(1)} ms (${p.length} pings)`);
  pingLine('/_ping during the pulls', pings);
  if (baseline) pingLine('/_ping, baseline daemon', basePings);
  recordRow({
    what: 'cold pull, many-file layers (nginx + Debian base)',
    wharf: samples['wharf pull (cold)']!,
    ...(DOCKER_HOST ? { docker: samples['docker pull (cold)']! } : {}),
    floor: samples['gzip -dc | tar -x (floor)']!,
    goal: '≤ 0.7 docker, ≤ 1.2 floor',
  });
  recordRow({ what: 'cold pull through the wharf CLI (docker: the Docker CLI, same wharfd)', wharf: samples['wharf CLI pull (cold)']!, docker: samples['wharf pull (cold)']! });
  if (baseline) recordRow({ what: 'cold pull, same, baseline build', wharf: samples['baseline pull (cold)']!, ...(DOCKER_HOST ? { docker: samples['docker pull (cold)']! } : {}), floor: samples['gzip -dc | tar -x (floor)']! });
  recordRow({ what: '/_ping latency during a pull', wharf: pings, goal: 'answers' });
  recordRow({ what: 'wharfd RSS idle after the pulls (extraction workers ended)', wharf: [rssAfter], unit: 'MB', goal: '< 70 MB' });
  if (baseRssAfter !== undefined) recordRow({ what: 'wharfd RSS idle after the pulls, baseline build', wharf: [baseRssAfter], unit: 'MB' });
  if (baseline) recordRow({ what: '/_ping latency during a pull, baseline build', wharf: basePings });
} finally {
  await registry.stop();
  await daemon.cleanup();
  await baseline?.cleanup();
}
