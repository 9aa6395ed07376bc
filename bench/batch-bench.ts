/**
 * Many containers at once, through the real Docker CLI: 20 `docker run -d busybox sleep 600`
 * started in parallel (wall time until all 20 have answered), then one `docker rm -f` of the 20
 * (the CLI removes them side by side). wharfd beside the Docker engine BENCH_DOCKER_HOST names,
 * alternated per iteration; both with `--network none`, since the bench's dockerd has no bridge.
 * With BENCH_BASELINE_MAIN (another build's dist/daemon/main.js) a wharfd of that build takes its
 * turn too, to measure a change before and after in one alternated run.
 * Run as root, after `npx tsc -p .`:  node dist/bench/batch-bench.js [N]   (BENCH_BATCH_N, default 5)
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DOCKER_CLI, loadBusybox, startDaemon } from '../test/integration/harness.js';
import { median, recordRow } from './report.js';
import { engineHosts, startBaselineDaemon } from './baseline.js';

const run = promisify(execFile);
const N = Number(process.env.BENCH_BATCH_N ?? process.argv[2] ?? 5);
const COUNT = 20;


const daemon = await startDaemon();
const baseline = await startBaselineDaemon();
try {
  await loadBusybox(daemon);
  if (baseline) await loadBusybox(baseline);
  const hosts = engineHosts(daemon, baseline);
  const env = { ...process.env, DOCKER_CONFIG: join(daemon.root, 'docker-config') };
  const docker = (host: string, args: string[]) => run(DOCKER_CLI, ['-H', host, ...args], { env, maxBuffer: 1 << 24 });

  /** One round on one engine: [ms for the 20 parallel run -d, ms for the rm -f of them]. */
  const round = async (host: string): Promise<[number, number]> => {
    const t0 = performance.now();
    const outs = await Promise.all(Array.from({ length: COUNT }, () => docker(host, ['run', '-d', '--network', 'none', 'busybox', 'sleep', '600'])));
    const started = performance.now() - t0;
    const ids = outs.map((o) => o.stdout.trim());
    const t1 = performance.now();
    await docker(host, ['rm', '-f', ...ids]);
    return [started, performance.now() - t1];
  };

  const samples: Record<string, { run: number[]; rm: number[] }> = {};
  for (const [name, host] of Object.entries(hosts)) {
    samples[name] = { run: [], rm: [] };
    await round(host); // warm-up
  }
  for (let i = 0; i < N; i++) {
    for (const [name, host] of Object.entries(hosts)) {
      const [r, x] = await round(host);
      samples[name]!.run.push(r);
      samples[name]!.rm.push(x);
    }
  }
  console.log(`${COUNT} parallel \`docker run -d\`, then \`docker rm -f\` of the ${COUNT}, ${N} alternated rounds, medians:`);
  for (const [name, s] of Object.entries(samples)) {
    console.log(`  ${name.padEnd(8)} run -d ×${COUNT} ${median(s.run).toFixed(0).padStart(6)} ms   rm -f ×${COUNT} ${median(s.rm).toFixed(0).padStart(6)} ms`);
  }
  const d = samples.docker;
  recordRow({ what: `${COUNT} parallel \`docker run -d\` (--network none)`, wharf: samples.wharfd!.run, ...(d ? { docker: d.run } : {}), goal: '≤ 0.3 docker' });
  recordRow({ what: `\`docker rm -f\` of the ${COUNT}`, wharf: samples.wharfd!.rm, ...(d ? { docker: d.rm } : {}), goal: '≤ 0.2 docker' });
} finally {
  await daemon.cleanup();
  await baseline?.cleanup();
}
