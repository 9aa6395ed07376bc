/**
 * Image build: a multi-stage Dockerfile of ten steps (two independent stages and a final one
 * copying from both) built on the busybox test image with `docker build` (classic builder),
 * cold (`--no-cache`) and again fully cached. Against wharfd, and against a Docker engine when
 * BENCH_DOCKER_HOST names one (e.g. unix:///var/run/docker.sock, with busybox:latest loaded).
 * Medians and the ratios. Run as root, after `npx tsc -p .`:
 *   node dist/bench/build-bench.js [N]   (BENCH_BUILD_N, default 5)
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DOCKER_CLI, loadBusybox, startDaemon } from '../test/integration/harness.js';
import { recordRow } from './report.js';

const run = promisify(execFile);
const N = Number(process.env.BENCH_BUILD_N ?? process.argv[2] ?? 5);

const DOCKERFILE = `FROM busybox AS a
RUN mkdir -p /out && seq 1 20000 > /out/a.txt
COPY a.txt /out/
RUN sha256sum /out/* > /out/a.sum
FROM busybox AS b
ENV B=1
RUN mkdir -p /out && seq 1 20000 | rev > /out/b.txt
FROM busybox
COPY --from=a /out /a
COPY --from=b /out /b
CMD ["cat", "/a/a.sum"]
`;

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const ctx = await mkdtemp(join(tmpdir(), 'build-bench-'));
await writeFile(join(ctx, 'Dockerfile'), DOCKERFILE);
await writeFile(join(ctx, 'a.txt'), 'x'.repeat(1 << 20));
const daemon = await startDaemon();
try {
  await loadBusybox(daemon);
  const hosts: Record<string, string> = { wharfd: daemon.host };
  if (process.env.BENCH_DOCKER_HOST) hosts.docker = process.env.BENCH_DOCKER_HOST;
  const time = async (host: string, args: string[]): Promise<number> => {
    const t0 = performance.now();
    await run(DOCKER_CLI, ['-H', host, 'build', '-q', ...args, ctx], { env: { ...process.env, DOCKER_BUILDKIT: '0' }, maxBuffer: 1 << 26 });
    return performance.now() - t0;
  };
  const results: Record<string, { cold: number; cached: number }> = {};
  const all: Record<string, { cold: number[]; cached: number[] }> = {};
  for (const [name, host] of Object.entries(hosts)) {
    await time(host, ['--no-cache']); // warm-up
    const cold: number[] = [];
    const cached: number[] = [];
    for (let i = 0; i < N; i++) {
      cold.push(await time(host, ['--no-cache']));
      cached.push(await time(host, []));
    }
    results[name] = { cold: median(cold), cached: median(cached) };
    all[name] = { cold, cached };
  }
  console.log(`docker build, ${DOCKERFILE.trim().split('\n').length}-line multi-stage Dockerfile, median of ${N}:`);
  for (const [name, r] of Object.entries(results)) console.log(`  ${name.padEnd(8)} cold ${r.cold.toFixed(0).padStart(6)} ms   cached ${r.cached.toFixed(0).padStart(6)} ms`);
  if (results.docker) {
    const w = results.wharfd!;
    const dk = results.docker;
    console.log(`  ratio    cold ${(w.cold / dk.cold).toFixed(2)}x   cached ${(w.cached / dk.cached).toFixed(2)}x   (goal: 0.6x / 0.3x)`);
  } else console.log('  (no Docker engine to compare with: set BENCH_DOCKER_HOST)');
  for (const k of ['cold', 'cached'] as const) {
    recordRow({ what: `docker build, ${k}`, wharf: all.wharfd![k], ...(all.docker ? { docker: all.docker[k] } : {}), goal: k === 'cold' ? '≤ 0.6 docker' : '≤ 0.3 docker' });
  }
} finally {
  await daemon.cleanup();
  await rm(ctx, { recursive: true, force: true });
}
